"""benchmarks/darcy_resolution.py: the protocol it configures and a tiny end-to-end run."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "darcy_resolution.py"
spec = importlib.util.spec_from_file_location("darcy_resolution", _PATH)
bench = importlib.util.module_from_spec(spec)
sys.modules["darcy_resolution"] = bench
spec.loader.exec_module(bench)


def test_defaults_are_the_protocol_run() -> None:
    args = bench.parse([])
    cfg = bench.build_config(args)
    g = cfg.data.generate
    assert (g.n_train, g.n_test, g.reference_resolution) == (1000, 100, 0.005)
    assert g.train_resolution == 1 and g.resolutions[1] == 0.037  # ~1k nodes
    assert g.problem_options == {"kind": "fno"}
    assert cfg.model.name == "transolver" and cfg.model.kwargs["width"] == 64
    gno = bench.build_config(bench.parse(["--model", "gno", "--radius", "0.2"]))
    assert gno.model.kwargs["radius"] == 0.2


def test_tiny_run_reports_every_resolution(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # the dataset cache folder is relative
    args = bench.parse(["--n-train", "4", "--n-val", "1", "--n-test", "2", "--epochs", "1",
                        "--resolutions", "0.25", "0.125", "--train-resolution", "0",
                        "--reference", "0.0625", "--runs", str(tmp_path / "runs")])
    text = bench.run(args)
    rows = [ln for ln in text.splitlines() if ln.startswith("| 0 (") or ln.startswith("| 1 (")]
    assert rows[0].startswith("| 0 (train + test)") and rows[1].startswith("| 1 (test only)")
    errors = [float(r.split("|")[5]) for r in rows]
    assert all(0 < e < 1.5 for e in errors)  # an untrained-ish model: finite, not wild

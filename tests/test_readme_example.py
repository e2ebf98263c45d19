"""The README's Python example runs as written, against an artifact made by the real trainer.

A tiny version of the default run (``python train.py`` with small overrides) writes
``runs/darcy_default/model.pt`` in a temporary folder; the README's first ``python`` block
is then executed there unchanged, and its printed numbers are checked.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import shutil
from pathlib import Path

import meshio
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = [
    "data.generate.n_train=6", "data.generate.n_val=2", "data.generate.n_test=2",
    "data.generate.resolutions=[0.1,0.06]", "optim.epochs=2", "model.kwargs.width=8",
    "model.kwargs.depth=2", "train.progress=false", "eval.plots=false",
]


def readme_cli_commands(*names: str) -> list[list[str]]:
    """The README's ``gnnops <name> ...`` command lines (continuations joined), as argv."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Command line\n\n```bash\n(.*?)```", text, flags=re.S).group(1)
    lines = block.replace("\\\n", " ").splitlines()
    cmds = [shlex.split(line.split("#")[0])[1:] for line in lines]
    return [c for c in cmds if c and c[0] in names]


def readme_python_block() -> str:
    """The first ```python fenced block of README.md."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"```python\n(.*?)```", text, flags=re.S)
    assert match, "README.md has no ```python block"
    return match.group(1)


@pytest.mark.slow
def test_readme_python_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gnnops.runs.pipeline import run
    from gnnops.training.config import load_config

    monkeypatch.chdir(tmp_path)
    shutil.copytree(ROOT / "meshes", tmp_path / "meshes")
    cfg = load_config(None, TINY)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        run(cfg)
    assert (tmp_path / "runs" / "darcy_default" / "model.pt").is_file()

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(readme_python_block(), "README.md", "exec"), {"__name__": "__readme__"})
    printed = out.getvalue().splitlines()

    assert printed[0] == "(286,)"                     # the shape the README promises
    residual = float(re.search(r"relative residual (\S+),", printed[1]).group(1))
    assert np.isfinite(residual) and residual > 0      # an untrained-ish model is not exact
    iters, zero_iters = (int(v) for v in printed[2].split())
    assert iters >= 0 and zero_iters > 0

    written = meshio.read(tmp_path / "plate_prediction.vtu")
    assert written.points.shape[0] == 286
    u = written.point_data["u"]
    assert u.shape[0] == 286 and np.all(np.isfinite(u))
    assert "residual" in written.point_data

    # the README's `gnnops predict` and `gnnops info` lines, run as written
    from gnnops.cli import main

    cmds = readme_cli_commands("predict", "info")
    assert [c[0] for c in cmds] == ["predict", "info"]
    with contextlib.redirect_stdout(io.StringIO()) as cli_out:
        assert main(cmds[0] + ["--no-progress"]) == 0
        assert main(cmds[1]) == 0
    assert "model:      transolver" in cli_out.getvalue()
    outputs = sorted((tmp_path / "predictions").glob("*.vtu"))
    assert [p.stem.split(".")[0] for p in outputs] == ["l_shape", "unit_square"]
    for path, nodes in zip(outputs, (250, 233), strict=True):
        got = meshio.read(path)
        assert got.point_data["u"].shape[0] == nodes
        assert np.all(np.isfinite(got.point_data["u"]))
    assert (tmp_path / "predictions" / "summary.csv").is_file()

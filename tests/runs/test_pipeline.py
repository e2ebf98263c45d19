"""The real chain: generate -> train (2 epochs) -> evaluate -> report; then CLI and predict."""

from __future__ import annotations

import json

import numpy as np
import pytest

import gnnops
from gnnops.cli import main
from gnnops.data import open_dataset
from gnnops.evaluation import relative_l2


def test_pipeline_report(tiny_run):
    assert tiny_run.report.name == "report.md" and tiny_run.artifact.is_file()
    js = json.loads((tiny_run.run_dir / "report.json").read_text())
    ds = open_dataset(tiny_run.dataset)
    nodes = ds.manifest["nodes_per_resolution"]
    rows = js["rows"]
    assert [(r["split"], r["resolution"], r["nodes"], r["samples"]) for r in rows] == [
        ("test", 0, float(nodes[0]), 2), ("test", 1, float(nodes[1]), 2)]
    for r in rows:
        assert 0 < r["rel_l2"] < 2
        # the stored FEM solution satisfies the discrete equations; the network does not
        assert r["residual_reference"] < 1e-5 < r["residual"]
    assert js["training"]["epochs_run"] == 2 and js["training"]["train_seconds"] > 0
    assert sorted(js["plots"]) == ["field_test_res0.png", "field_test_res1.png", "loss.png"]
    text = tiny_run.report.read_text()
    assert f"| test | 1 | 0.1 | {nodes[1]} | 2 |" in text


def test_evaluate_cli_matches_pipeline_and_predict(tiny_run, tmp_path, capsys):
    out = tmp_path / "eval"
    assert main(["evaluate", str(tiny_run.artifact), str(tiny_run.dataset), "--out",
                 str(out)]) == 0
    assert "| test | 0 |" in capsys.readouterr().out
    a = json.loads((tiny_run.run_dir / "report.json").read_text())["rows"]
    b = json.loads((out / "report.json").read_text())["rows"]
    for ra, rb in zip(a, b, strict=True):
        assert rb["rel_l2"] == pytest.approx(ra["rel_l2"], rel=1e-6)
    assert (out / "loss.png").is_file()  # metrics.csv found beside the artifact
    # the public API on one test file gives the same error as the evaluation
    model = gnnops.load(tiny_run.artifact)
    ds = open_dataset(tiny_run.dataset)
    errs = []
    for s in ds.samples("test", 1):
        pred = model.predict(ds.path(s))  # inputs a, f from the file's point data
        g = ds.load("test", 1, inputs=model.inputs, targets=model.targets)[len(errs)]
        errs.append(relative_l2(pred.fields["u"], g.y[:, 0].numpy()))
        # trained at h = 0.2, predicted at h = 0.1 (a MeshGraphNet is resolution-dependent):
        # the error estimate vouches, so the spacing is a note and only the estimate flags
        assert [f.split(":")[0] for f in pred.notes] == ["spacing_out_of_range"]
        codes = [f.split(":")[0] for f in pred.flags]
        assert codes == (["error_estimate_high"] if pred.error_estimate > 0.2 else [])
    assert np.mean(errs) == pytest.approx(b[1]["rel_l2"], rel=1e-5)


def test_predict_cli_with_refine_on_dataset_files(tiny_run, tmp_path):
    out = tmp_path / "pred"
    files = str(tiny_run.dataset / "test" / "res1" / "*.vtu")
    assert main(["predict", str(tiny_run.artifact), files, "--out", str(out), "--refine",
                 "1e-8", "--compare-zero", "--no-progress"]) == 0
    rows = json.loads((out / "summary.json").read_text())
    assert len(rows) == 2
    for r in rows:
        assert r["status"] == "ok" and r["iterations"] > 0 and r["zero_iterations"] > 0
        import meshio

        m = meshio.read(r["output"])
        assert {"u", "u_gnn", "residual"} <= set(m.point_data)
        ref = meshio.read(r["file"]).point_data["u"]
        np.testing.assert_allclose(m.point_data["u"], ref, atol=1e-6 * np.abs(ref).max())

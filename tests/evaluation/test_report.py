"""write_report: report.md rows, report.json, PNG plots."""

from __future__ import annotations

import json

from gnnops.evaluation import evaluate, write_report

PNG = b"\x89PNG\r\n\x1a\n"


def test_report_rows_json_and_plots(hand, tmp_path):
    (tmp_path / "metrics.csv").write_text(
        "epoch,train_loss,val_rel_l2,lr,seconds\n1,1.0,0.5,0.001,1.0\n2,0.5,0.25,0.001,1.0\n")
    res = evaluate(hand.model, hand.dataset)
    res["training"] = {"train_seconds": 12.5, "epochs_run": 2, "best_val_rel_l2": 0.25}
    report = write_report(res, tmp_path)
    text = report.read_text()
    assert "| test | 0 | 0.5 | 9 | 2 | 0.0750 ± 0.0250 | - | - |" in text
    assert "| test | 1 | 0.25 | 25 | 2 | 0.0750 ± 0.0250 | - | - |" in text
    assert "training time: 12.5 s; epochs: 2; best validation rel L2: 0.25" in text
    assert "(3 parameters)" in text
    js = json.loads((tmp_path / "report.json").read_text())
    assert [r["nodes"] for r in js["rows"]] == [9.0, 25.0]
    assert "examples" not in js
    assert sorted(js["plots"]) == ["field_test_res0.png", "field_test_res1.png", "loss.png"]
    for name in js["plots"]:
        assert (tmp_path / name).read_bytes()[:8] == PNG
        assert f"![{name}]({name})" in text


def test_report_3d_example_and_no_metrics(tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    pos = rng.random((50, 3))
    ex = {"split": "test", "resolution": 0, "targets": ["u"], "pos": pos, "cells": None,
          "cell_type": "tetra", "boundary": pos[:, 0] > 0.5, "true": pos[:, :1],
          "pred": pos[:, :1] * 1.1}
    res = {"model": "m", "parameters": 1, "problem": None, "targets": ["u"], "rows": [],
           "examples": [ex]}
    write_report(res, tmp_path / "r")
    js = json.loads((tmp_path / "r" / "report.json").read_text())
    assert js["plots"] == ["field_test_res0.png"]  # no metrics.csv: no loss plot
    assert (tmp_path / "r" / "field_test_res0.png").read_bytes()[:8] == PNG

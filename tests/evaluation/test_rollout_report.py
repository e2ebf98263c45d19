"""Rollout report (evaluation/rollout_report.py): table rows by hand, report files, the
error-vs-time plot's data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gnnops.evaluation import plots
from gnnops.evaluation.rollout_report import (
    format_rollout_table,
    plot_error_vs_time,
    write_rollout_report,
)

ROW = {"setting": "a: new initial states", "split": "test", "resolution": 0, "nodes": 16.0,
       "samples": 2, "steps": 10, "norm_l1": 0.0123, "norm_l1_std": 0.0045, "rel_l2": 0.02,
       "residual": 0.5, "residual_reference": None}
CURVE = {"split": "test", "resolution": 0, "setting": "a: new initial states",
         "times": [0.0, 0.1, 0.2], "norm_l1": [0.0, 0.01, 0.02], "rel_l2": [0.0, 0.02, 0.04]}


def test_table_row_by_hand():
    lines = format_rollout_table([ROW]).splitlines()
    assert len(lines) == 3 and lines[0].count("|") == 12
    assert lines[2] == ("| a: new initial states | test | 0 | 16 | 2 | 10 | 1.23 ± 0.45 | "
                        "0.0200 | - / - / - | 5.000e-01 | - |")
    one = {**ROW, "one_step_rel_l2": 0.015, "one_step_first": 0.0601, "one_step_last": 0.009}
    assert "| 1.50 / 6.01 / 0.90 |" in format_rollout_table([one])


def test_one_step_table_by_step():
    from gnnops.evaluation.rollout_report import format_one_step_table

    curve = {**CURVE, "one_step_rel_l2": [0.1 * (j + 1) for j in range(50)]}
    lines = format_one_step_table([curve], columns=3).splitlines()
    assert lines[0] == "| split | res | step 1 | step 25 | step 50 |"  # first, middle, last
    assert lines[2] == "| test | 0 | 10.00 | 250.00 | 500.00 |"
    assert format_one_step_table([CURVE]) == ""  # no one-step curves: no table


def test_error_vs_time_plot_skips_the_initial_state(tmp_path, monkeypatch):
    plt = plots._pyplot()
    kept = []
    close = plt.close
    monkeypatch.setattr(plt, "close", lambda fig: kept.append(fig))
    plot_error_vs_time([CURVE, {**CURVE, "resolution": 1, "setting": "b: larger graphs"}],
                       tmp_path / "e.png")
    l1_ax, l2_ax = kept[0].axes
    assert [ln.get_label() for ln in l1_ax.lines] == ["test res0 (a)", "test res1 (b)"]
    np.testing.assert_array_equal(l1_ax.lines[0].get_xdata(), [0.1, 0.2])
    np.testing.assert_array_equal(l1_ax.lines[0].get_ydata(), [0.01, 0.02])
    np.testing.assert_array_equal(l2_ax.lines[0].get_ydata(), [0.02, 0.04])
    assert l1_ax.get_yscale() == l2_ax.get_yscale() == "log"
    close(kept[0])


def test_report_files(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.csv").write_text("epoch,train_loss\n1,0.5\n2,0.25\n")
    traj = run / "trajectories" / "test_res0.graphml"
    results = {"model": "meshgraphnet", "problem": "network_diffusion", "parameters": 1234,
               "dataset": "ds", "artifact": "model.pt", "rows": [ROW], "curves": [CURVE],
               "trajectories": [str(traj)], "training": {"train_seconds": 12.5,
                                                         "epochs_run": 3},
               "score": np.float64("nan")}
    report = write_rollout_report(results, run)
    text = report.read_text()
    assert "# Rollout evaluation: meshgraphnet on network_diffusion" in text
    assert "(1,234 parameters)" in text and "training time: 12.5 s; epochs: 3" in text
    assert format_rollout_table([ROW]) in text
    assert "- [trajectories/test_res0.graphml](trajectories/test_res0.graphml)" in text
    assert "![loss.png](loss.png)" in text and "![rollout_error.png](rollout_error.png)" in text
    js = json.loads((run / "report.json").read_text())
    assert js["plots"] == ["loss.png", "rollout_error.png"] and js["rows"][0]["steps"] == 10
    assert js["score"] is None  # numpy NaN becomes JSON null
    bare = write_rollout_report({"rows": [ROW]}, tmp_path / "bare", plots=False)
    assert sorted(p.name for p in bare.parent.iterdir()) == ["report.json", "report.md"]
    assert json.loads((tmp_path / "bare" / "report.json").read_text())["plots"] == []


@pytest.mark.parametrize("value,fmt,text", [(None, ".3e", "-"), (0.5, ".3e", "5.000e-01")])
def test_missing_numbers_print_as_dash(value, fmt, text):
    row = {**ROW, "residual": value}
    assert format_rollout_table([row]).splitlines()[2].split(" | ")[-2] == text

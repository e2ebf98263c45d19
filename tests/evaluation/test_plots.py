"""PNG plots (evaluation/plots.py): what each axis shows, read back from the figure before it
is closed, and the files written."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from gnnops.evaluation import plots


def png_size(path) -> tuple[int, int]:
    """(width, height) from a PNG header."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


@pytest.fixture
def figures(monkeypatch):
    """The figures the plot functions close, kept for inspection."""
    plt = plots._pyplot()
    kept = []
    close = plt.close
    monkeypatch.setattr(plt, "close", lambda fig: kept.append(fig))
    yield kept
    for fig in kept:
        close(fig)


def test_loss_curves_positive_numeric_columns_against_epoch(tmp_path, figures):
    csv = tmp_path / "metrics.csv"
    csv.write_text("epoch,train_loss,val_rel_l2,lr,seconds,note\n"
                   "1,0.5,0.25,0.001,3.0,a\n2,0.25,nan,0.001,3.1,b\n3,0.125,0.0625,0.001,3.2,c\n")
    out = plots.plot_loss_curves(csv, tmp_path / "loss.png")
    assert out == tmp_path / "loss.png" and png_size(out) == (600, 400)
    ax = figures[0].axes[0]
    lines = {ln.get_label(): (list(ln.get_xdata()), list(ln.get_ydata())) for ln in ax.lines}
    assert lines == {"train_loss": ([1, 2, 3], [0.5, 0.25, 0.125]),
                     "val_rel_l2": ([1, 3], [0.25, 0.0625])}  # NaN dropped; lr/seconds/text not
    assert ax.get_yscale() == "log"


def test_loss_curves_missing_or_empty(tmp_path):
    assert plots.plot_loss_curves(tmp_path / "none.csv", tmp_path / "a.png") is None
    (tmp_path / "empty.csv").write_text("epoch,train_loss\n")
    assert plots.plot_loss_curves(tmp_path / "empty.csv", tmp_path / "b.png") is None
    assert not list(tmp_path.glob("*.png"))


def _example(pos, n=None, **kw):
    n = len(pos) if n is None else n
    true = np.linspace(0.0, 1.0, n)[:, None]
    return {"split": "test", "resolution": 0, "targets": ["u"], "pos": pos, "cells": None,
            "cell_type": None, "boundary": None, "true": true, "pred": true + 0.1 * (
                np.arange(n) % 2)[:, None], **kw}


def test_example_panels_show_true_predicted_and_error_2d(tmp_path, figures):
    pos = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    ex = _example(pos, cells=np.array([[0, 1, 3], [0, 3, 2]]), cell_type="triangle")
    out = plots.plot_example(ex, tmp_path / "f.png")
    assert png_size(out) == (1700, 400)
    fig = figures[0]
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == [
        "true u", "predicted u", "error (predicted - true)", "mesh: 4 nodes, 2 triangles"]
    shown = [np.asarray(ax.collections[0].get_array()) for ax in panels[:3]]
    np.testing.assert_allclose(shown[0], ex["true"][:, 0])
    np.testing.assert_allclose(shown[1], ex["pred"][:, 0])
    np.testing.assert_allclose(shown[2], [0.0, 0.1, 0.0, 0.1], atol=1e-15)
    tri = panels[0].collections[0]._triangulation
    np.testing.assert_array_equal(tri.triangles, ex["cells"])  # the mesh's own triangles
    assert "4 nodes" in fig._suptitle.get_text()


def test_truth_and_prediction_share_one_colour_scale_error_symmetric(tmp_path, figures):
    """Colour limits read back from the images (``get_clim``) and their colour bars: truth
    and prediction both span [min, max] of the two fields; the error is symmetric about 0
    with its own limits; the fourth panel draws the triangulation's edges."""
    rng = np.random.default_rng(1)
    pos = rng.random((60, 2))
    true = np.sin(3 * pos[:, :1])
    pred = 1.3 * true + 0.2  # larger range than the truth: the shared scale must cover it
    ex = _example(pos, true=true, pred=pred)
    plots.plot_example(ex, tmp_path / "s.png")
    fig = figures[0]
    panels = [ax for ax in fig.axes if ax.get_title()]
    clims = [ax.collections[0].get_clim() for ax in panels[:3]]
    lo, hi = min(true.min(), pred.min()), max(true.max(), pred.max())
    np.testing.assert_allclose(clims[0], (lo, hi))
    assert clims[1] == clims[0]
    e = np.abs(pred - true).max()
    np.testing.assert_allclose(clims[2], (-e, e))
    assert panels[2].collections[0].get_cmap().name == "RdBu_r"
    bars = [ax for ax in fig.axes if not ax.get_title()]  # the colour bars, one per field
    assert len(bars) == 3
    np.testing.assert_allclose(bars[0].get_ylim(), (lo, hi))
    np.testing.assert_allclose(bars[1].get_ylim(), (lo, hi))
    mesh_lines = panels[3].get_lines()
    assert mesh_lines and len(mesh_lines[0].get_xdata()) > 60  # the Delaunay edges


def test_example_network_without_layout_and_3d_boundary(tmp_path, figures):
    ex = _example(None, 3)
    ex["true"], ex["pred"] = np.array([[1.0], [2.0], [3.0]]), np.array([[1.0], [2.5], [3.0]])
    plots.plot_example(ex, tmp_path / "n.png")
    panels = [ax for ax in figures[0].axes if ax.get_title()]
    np.testing.assert_allclose(panels[2].lines[0].get_ydata(), [0.0, 0.5, 0.0])
    assert panels[0].get_xlabel() == "node"
    assert panels[0].get_ylim() == panels[1].get_ylim()  # one value axis for both
    assert len(panels) == 3  # no mesh panel without a layout
    pos = np.random.default_rng(0).random((6, 3))
    boundary = np.array([True, False, True, False, False, True])
    plots.plot_example(_example(pos, boundary=boundary), tmp_path / "b.png")
    panels = [ax for ax in figures[1].axes if ax.get_title()]
    assert len(panels[0].collections[0].get_offsets()) == 3  # boundary nodes only
    assert panels[0].collections[0].get_clim() == panels[1].collections[0].get_clim()

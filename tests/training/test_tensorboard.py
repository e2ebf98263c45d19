"""Tests of gnnops.training.tensorboard: optional extra, scalars and field images."""

from __future__ import annotations

import csv
import sys

import pytest
import torch
from training_fixtures import make_graphs

from gnnops.errors import MissingDependencyError
from gnnops.training.config import load_config
from gnnops.training.tensorboard import field_figure, open_tensorboard
from gnnops.training.trainer import train


def test_disabled_writes_nothing(tmp_path) -> None:
    assert open_tensorboard(tmp_path, enabled=False) is None
    assert not (tmp_path / "tb").exists()


def test_missing_package_names_the_extra(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import -> ImportError
    with pytest.raises(MissingDependencyError) as info:
        open_tensorboard(tmp_path, enabled=True)
    assert str(info.value) == ("train.tensorboard=true needs the optional package "
                               "'tensorboard'; install it with: pip install "
                               "'gnnops[tensorboard]'")


def test_field_figure_shares_the_colour_scale_of_truth_and_prediction() -> None:
    g = make_graphs(1, 0)[0]
    truth = g.y
    pred = truth * 2.0 + 1.0
    fig = field_figure(truth, pred, pos=g.pos, title="epoch 1")
    clims = [ax.collections[0].get_clim() for ax in fig.axes if ax.collections]
    lo = float(min(truth.min(), pred.min()))
    hi = float(max(truth.max(), pred.max()))
    emax = float((pred - truth).abs().max())
    assert clims[0] == pytest.approx((lo, hi)) and clims[1] == pytest.approx((lo, hi))
    assert clims[2] == pytest.approx((-emax, emax))
    net = field_figure(truth, pred, pos=None)  # no positions: drawn against the node index
    assert [ax.get_title() for ax in net.axes] == ["truth", "prediction", "error"]


def test_training_writes_scalars_and_field_images(toy_model, tmp_path) -> None:
    pytest.importorskip("tensorboard", reason="optional extra gnnops[tensorboard] absent")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = load_config(overrides=[
        "model.name=toy", "model.kwargs={hidden: 8}", "data.generate=null",
        f"out_dir={tmp_path}", "name=tb", "optim.epochs=3", "data.batch_size=3",
        "train.device=cpu", "train.tensorboard=true", "train.tensorboard_image_every=2"])
    train(cfg, train_data=make_graphs(8, 0), val_data=make_graphs(4, 1))
    acc = EventAccumulator(str(tmp_path / "tb" / "tb"), size_guidance={"images": 0})
    acc.Reload()
    rows = list(csv.DictReader(open(tmp_path / "tb" / "metrics.csv")))
    for key in ("train_loss", "val_rel_l2", "lr"):
        events = acc.Scalars(key)
        assert [e.step for e in events] == [1, 2, 3]
        assert [e.value for e in events] == pytest.approx([float(r[key]) for r in rows],
                                                          rel=1e-6)
    images = acc.Images("fields/val0")
    assert [e.step for e in images] == [2, 3]  # every 2 epochs, and the last one
    assert images[0].width > 100 and images[0].height > 50


def test_image_every_zero_writes_only_scalars(tmp_path) -> None:
    class Writer:
        def __init__(self) -> None:
            self.calls: list[tuple[str, str, int]] = []

        def add_scalar(self, key, value, step):
            self.calls.append(("scalar", key, step))

        def add_figure(self, key, fig, step, close=True):
            self.calls.append(("figure", key, step))

        def flush(self) -> None:
            pass

    from gnnops.training.tensorboard import TensorBoardLog

    w = Writer()
    log = TensorBoardLog(w, log_every=2, image_every=0)
    row = {"train_loss": 1.0, "val_rel_l2": 0.5, "lr": 1e-3}
    g = make_graphs(1, 0)[0]
    for epoch in (1, 2, 3):
        log.epoch(epoch, row, last=epoch == 3, sample=g, predict=lambda s: torch.zeros_like(s.y))
    assert w.calls == [("scalar", k, s) for s in (2, 3) for k in ("train_loss", "val_rel_l2",
                                                                  "lr")]

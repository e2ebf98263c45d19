"""Tests of gnnops.surrogate.normalizer: streaming statistics, training-split-only fit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gnnops.errors import DataError
from gnnops.surrogate.artifact import load_artifact
from gnnops.surrogate.normalizer import Normalizer, fit_normalizer
from gnnops.training.config import load_config
from gnnops.training.trainer import train


def test_streaming_matches_two_pass() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1000, 3)) * [1.0, 5.0, 0.1] + [0.0, -2.0, 3.0]
    norm = fit_normalizer((torch.from_numpy(c) for c in np.array_split(x, 7)), 3)
    assert norm.count == 1000
    np.testing.assert_allclose(norm.mean.numpy(), x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(norm.std().numpy(), x.std(0), rtol=1e-12)


def test_large_offset_is_stable() -> None:
    # 1e8 + {0, 1, 2, 3}: population std sqrt(1.25); E[x^2]-E[x]^2 in float64 loses it
    chunks = [torch.tensor([[1e8], [1e8 + 1]], dtype=torch.float64),
              torch.tensor([[1e8 + 2], [1e8 + 3]], dtype=torch.float64)]
    norm = fit_normalizer(chunks, 1)
    assert float(norm.std()[0]) == pytest.approx(np.sqrt(1.25), rel=1e-12)


def test_constant_column_gets_unit_std_and_errors() -> None:
    norm = fit_normalizer([torch.tensor([[2.0, 1.0], [2.0, 3.0]])], 2)
    assert norm.std().tolist() == [1.0, 1.0]  # column 0 constant, column 1 std 1
    st = norm.state("x")
    assert st["x.mean"].tolist() == [2.0, 2.0] and st["x.mean"].dtype == torch.float32
    with pytest.raises(DataError, match=r"shape \[n, 2\] \(got \[3, 1\]\)"):
        norm.update(torch.zeros(3, 1))
    with pytest.raises(DataError, match="no rows"):
        Normalizer(2).state("y")


def test_fitted_on_train_only_and_in_artifact(toy_model, graphs, tmp_path) -> None:
    train_g, val_g = graphs
    for g in val_g:  # a validation set far from the training one
        g.x = g.x + 100.0
        g.y = g.y * 10.0
    cfg = load_config(overrides=[f"model.name={toy_model}", "model.kwargs={}",
                                 "data.generate=null", f"out_dir={tmp_path}", "optim.epochs=1",
                                 "data.features=[pos]", "train.device=cpu"])
    res = train(cfg, train_data=train_g, val_data=val_g)
    art = load_artifact(res.artifact_path)
    xs = torch.cat([torch.cat([g.x, g.pos], 1) for g in train_g]).double()
    ys = torch.cat([g.y for g in train_g]).double()
    torch.testing.assert_close(art.normalizers["x.mean"], xs.mean(0).float())
    torch.testing.assert_close(art.normalizers["x.std"], xs.std(0, unbiased=False).float())
    torch.testing.assert_close(art.normalizers["y.mean"], ys.mean(0).float())
    torch.testing.assert_close(art.normalizers["y.std"], ys.std(0, unbiased=False).float())


def test_uncentered_columns_get_mean_zero_and_the_root_mean_square() -> None:
    from gnnops.surrogate.normalizer import uncentered

    x = torch.tensor([[1.0, 10.0, -2.0], [3.0, 14.0, -4.0], [5.0, 12.0, -9.0]])
    norms = {**fit_normalizer([x], 3).state("x"), "y.mean": torch.zeros(1)}
    out = uncentered(norms, "x", [0, 2])
    rms = x.pow(2).mean(0).sqrt()
    torch.testing.assert_close(out["x.mean"], torch.tensor([0.0, 12.0, 0.0]))  # 12 kept
    torch.testing.assert_close(out["x.std"][[0, 2]], rms[[0, 2]])
    assert float(out["x.std"][1]) == pytest.approx(float(norms["x.std"][1]))  # untouched
    assert float(norms["x.mean"][0]) == pytest.approx(3.0)  # the input is not modified
    with pytest.raises(DataError, match=r"column indices in \[0, 3\)"):
        uncentered(norms, "x", [3])

"""Building the surrogate of a run (training/build.py): recipe, model widths, prepared graphs,
training-split normalizers, physics options."""

from __future__ import annotations

import pytest
import torch
from training_fixtures import make_graphs

from gnnops.training.build import build_surrogate
from gnnops.training.config import load_config
from gnnops.training.datasource import load_training_data
from gnnops.training.distributed import DistInfo


def test_widths_prepared_graphs_and_normalizers(toy_model) -> None:
    cfg = load_config(overrides=["model.name=toy", "model.kwargs={hidden: 8}",
                                 "data.generate=null", "data.features=[pos]",
                                 "train.device=cpu"])
    td = load_training_data(cfg, DistInfo(), train_data=make_graphs(5, 0),
                            val_data=make_graphs(2, 1))
    sur, train_p, val_p = build_surrogate(cfg, td)
    assert (len(train_p), len(val_p)) == (5, 2)
    n_in = td.train[0].x.shape[1] + td.train[0].pos.shape[1]  # raw inputs + "pos" feature
    assert train_p[0].x.shape[1] == n_in
    assert sur.model_kwargs["in_channels"] == n_in
    assert sur.model_kwargs["out_channels"] == sum(td.target_dims)
    x = torch.cat([g.x for g in train_p]).double()
    y = torch.cat([g.y.reshape(g.num_nodes, -1) for g in train_p]).double()
    # statistics of the training split only, per column
    torch.testing.assert_close(sur.normalizers["x.mean"].double(), x.mean(0), rtol=1e-5,
                               atol=1e-6)
    torch.testing.assert_close(sur.normalizers["y.mean"].double(), y.mean(0), rtol=1e-5,
                               atol=1e-6)
    assert sur.normalizers["y.std"].double().item() == pytest.approx(
        y.std(0, unbiased=False).item(), rel=1e-4)
    assert sur.recipe.inputs == td.inputs and sur.recipe.features == ["pos"]


# moved from test_trainer.py
def test_physics_options_follow_what_the_problem_declares() -> None:
    from gnnops.errors import ConfigError
    from gnnops.graphs import from_meshio
    from gnnops.meshing import unit_square
    from gnnops.training.build import _physics_options
    from gnnops.training.config import config_from_dict

    cfg = config_from_dict({"model": {"name": "gno", "scaling_law": True,
                                      "hard_dirichlet": True}})
    square = [from_meshio(unit_square(0.25))]  # bounding-box diagonal sqrt(2)
    got = _physics_options(cfg, "darcy", square)
    assert got.pop("dirichlet_length") == pytest.approx(0.1 * 2 ** 0.5, rel=1e-6)
    assert got == {"scaling": {"a": -1.0, "f": 1.0}, "hard_dirichlet": True}
    fixed = config_from_dict({"model": {"name": "gno", "hard_dirichlet": True,
                                        "dirichlet_length": 0.0}})
    assert _physics_options(fixed, "darcy", square)["dirichlet_length"] == 0.0
    with pytest.raises(ConfigError, match="dirichlet_length expects a length >= 0"):
        _physics_options(config_from_dict({"model": {"hard_dirichlet": True,
                                                     "dirichlet_length": -1.0}}),
                         "darcy", square)
    with pytest.raises(ConfigError, match="declares no exact scaling law"):
        _physics_options(cfg, "heat", square)
    with pytest.raises(ConfigError, match="need a problem"):
        _physics_options(cfg, None, square)
    assert _physics_options(config_from_dict({}), "heat", square) == {}
    # None (the default): what a steady problem declares; False: off
    auto = config_from_dict({"model": {"scaling_law": None, "hard_dirichlet": None}})
    assert set(_physics_options(auto, "darcy", square)) == {"scaling", "hard_dirichlet",
                                                            "dirichlet_length"}
    el = _physics_options(auto, "elasticity", square)  # u = 0 on the clamped part only
    assert el.pop("dirichlet_length") == pytest.approx(0.1 * 2 ** 0.5, rel=1e-6)
    assert el == {"scaling": {"E": -1.0}, "hard_dirichlet": True, "dirichlet_set": "problem"}
    assert _physics_options(auto, None, square) == {}
    off = config_from_dict({"model": {"scaling_law": False, "hard_dirichlet": False}})
    assert _physics_options(off, "darcy", square) == {}

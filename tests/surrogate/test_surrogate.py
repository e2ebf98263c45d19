"""Tests of gnnops.surrogate.surrogate: physical units, artifact round trip."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Batch
from training_fixtures import ToyGNN, make_graphs

from gnnops.errors import ArtifactError
from gnnops.models import MODELS
from gnnops.surrogate.artifact import load_artifact, save_artifact
from gnnops.surrogate.recipe import make_recipe
from gnnops.surrogate.surrogate import Surrogate


def _surrogate() -> tuple[Surrogate, Batch]:
    gs = make_graphs(3, 0)
    recipe = make_recipe(gs, inputs=["a"], input_dims=[1], targets=["u"], target_dims=[1],
                         features=["pos"], problem=None)
    torch.manual_seed(0)
    model = ToyGNN(3, 1, 3, 2, hidden=8)
    norms = {"x.mean": torch.tensor([1.0, 0.5, 0.5]), "x.std": torch.tensor([2.0, 0.3, 0.3]),
             "y.mean": torch.tensor([4.0]), "y.std": torch.tensor([0.5])}
    sur = Surrogate(model, model_name="toy", model_kwargs=model.config(), recipe=recipe,
                    normalizers=norms)
    batch = Batch.from_data_list([sur.prepare(g) for g in gs])
    return sur, batch


def test_forward_normalizes_and_denormalizes() -> None:
    sur, batch = _surrogate()
    b = batch.clone()
    b.x = (batch.x - torch.tensor([1.0, 0.5, 0.5])) / torch.tensor([2.0, 0.3, 0.3])
    expected = sur.model(b) * 0.5 + 4.0
    torch.testing.assert_close(sur(batch), expected)
    torch.testing.assert_close(sur(batch, normalized=True), sur.model(b))
    torch.testing.assert_close(sur.normalize_target(expected), sur.model(b))


def test_input_noise_only_touches_raw_inputs() -> None:
    sur, batch = _surrogate()
    seen = []
    orig = sur.model.forward
    sur.model.forward = lambda d: seen.append(d.x) or orig(d)
    sur(batch)
    torch.manual_seed(1)
    sur(batch, input_noise=0.1)
    diff = seen[1] - seen[0]
    assert float(diff[:, 0].abs().max()) > 0.01  # raw input column perturbed
    assert float(diff[:, 1:].abs().max()) == 0.0  # pos features untouched
    assert float(diff[:, 0].std()) == pytest.approx(0.1, rel=0.25)


def test_artifact_round_trip_identical(tmp_path, toy_model) -> None:
    sur, batch = _surrogate()
    art = sur.to_artifact(problem=None, config={"name": "t"}, metrics={"val": 0.1})
    path = save_artifact(tmp_path / "model.pt", art)
    back = Surrogate.from_artifact(load_artifact(path))
    assert not back.training
    assert back.recipe == sur.recipe and back.model_kwargs == sur.model_kwargs
    with torch.no_grad():
        assert torch.equal(back(batch), sur.eval()(batch))
    for k, v in sur.normalizers.items():
        assert torch.equal(back.normalizers[k], v)


def test_missing_normalizer_and_bad_weights(toy_model) -> None:
    sur, _ = _surrogate()
    with pytest.raises(ArtifactError, match="missing y.std"):
        Surrogate(sur.model, model_name="toy", model_kwargs={}, recipe={},
                  normalizers={k: v for k, v in sur.normalizers.items() if k != "y.std"})
    art = sur.to_artifact(problem=None, config={}, metrics={})
    art.model_kwargs = {**art.model_kwargs, "hidden": 9}
    with pytest.raises(ArtifactError, match="do not fit model 'toy'"):
        Surrogate.from_artifact(art)


class _EdgeSum(torch.nn.Module):
    """out_i = x_i[0] + sum over incoming edges of edge_attr[:, 2]: reads the edge features."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(()))  # 0-dim: the checksum copes

    def config(self) -> dict:
        return {}

    def forward(self, data):  # noqa: D102
        agg = torch.zeros(data.num_nodes, 1).index_add_(0, data.edge_index[1],
                                                        data.edge_attr[:, 2:3])
        return self.w * (data.x[:, :1] + agg)


def test_edge_normalizers_standardize_edge_attr_and_round_trip(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(MODELS, "toy", _EdgeSum)  # load_artifact rebuilds the model (meta)
    sur, batch = _surrogate()
    e_mean, e_std = torch.tensor([0.1, -0.2, 0.3]), torch.tensor([0.5, 2.0, 4.0])
    model = _EdgeSum()
    plain = Surrogate(model, model_name="toy", model_kwargs={}, recipe=sur.recipe,
                      normalizers=sur.normalizers)
    with_e = Surrogate(model, model_name="toy", model_kwargs={}, recipe=sur.recipe,
                       normalizers={**sur.normalizers, "e.mean": e_mean, "e.std": e_std})
    xn = (batch.x - torch.tensor([1.0, 0.5, 0.5])) / torch.tensor([2.0, 0.3, 0.3])
    length_n = (batch.edge_attr[:, 2:3] - 0.3) / 4.0
    expected = xn[:, :1] + torch.zeros(batch.num_nodes, 1).index_add_(
        0, batch.edge_index[1], length_n)
    torch.testing.assert_close(with_e(batch, normalized=True), expected)
    assert not torch.allclose(with_e(batch), plain(batch))     # the edges did change
    art = with_e.to_artifact(problem=None, config={}, metrics={})
    back_art = load_artifact(save_artifact(tmp_path / "m.pt", art))
    torch.testing.assert_close(back_art.normalizers["e.std"], e_std)
    with pytest.raises(ArtifactError, match="e.mean and e.std"):
        Surrogate(model, model_name="toy", model_kwargs={}, recipe=sur.recipe,
                  normalizers={**sur.normalizers, "e.mean": e_mean})


def _two_input_surrogate(**opts) -> tuple[Surrogate, list]:
    gs = make_graphs(2, 5)
    for g in gs:  # two scalar inputs (a, f), a positive
        g.x = torch.cat([g.x.abs() + 1.0, torch.full_like(g.x, 2.0)], dim=1)
        g.boundary = torch.arange(g.num_nodes) % 3 == 0
    recipe = make_recipe(gs, inputs=["a", "f"], input_dims=[1, 1], targets=["u"],
                         target_dims=[1], features=[], problem="darcy", **opts)
    torch.manual_seed(0)
    model = ToyGNN(2, 1, 0, 0, hidden=8)
    norms = {"x.mean": torch.tensor([1.0, 0.5]), "x.std": torch.tensor([2.0, 0.3]),
             "y.mean": torch.tensor([4.0]), "y.std": torch.tensor([0.5])}
    sur = Surrogate(model, model_name="toy", model_kwargs=model.config(), recipe=recipe,
                    normalizers=norms)
    return sur, gs


def test_scaling_law_holds_exactly_for_any_input_magnitude() -> None:
    """Darcy's law u(la a, mu f) = mu / la u(a, f), built in: exact, not learned."""
    sur, gs = _two_input_surrogate(scaling={"a": -1.0, "f": 1.0})
    with torch.no_grad():
        for g in gs:
            base = sur(sur.prepare(g))
            for la, mu in ((30.0, 1.0), (0.2, 5.0), (7.0, 0.01)):
                h = g.clone()
                h.x = g.x * torch.tensor([la, mu])
                torch.testing.assert_close(sur(sur.prepare(h)), base * mu / la,
                                           rtol=1e-5, atol=1e-6)
    plain, _ = _two_input_surrogate()
    h = gs[0].clone()
    h.x = gs[0].x * torch.tensor([30.0, 1.0])
    with torch.no_grad():  # without the law the same model is not homogeneous
        assert not torch.allclose(plain(plain.prepare(h)) * 30, plain(plain.prepare(gs[0])))


def test_scaling_law_targets_and_loss_units_agree() -> None:
    sur, gs = _two_input_surrogate(scaling={"a": -1.0, "f": 1.0})
    g = sur.prepare(gs[0])
    g.y = torch.rand(g.num_nodes, 1)
    # normalize_target divides by the output scale, physical() multiplies it back
    z = sur.normalize_target(g.y, g)
    torch.testing.assert_close(sur.physical(z, g), g.y, rtol=1e-5, atol=1e-6)


def test_hard_dirichlet_zero_on_boundary_only() -> None:
    sur, gs = _two_input_surrogate(hard_dirichlet=True)
    with torch.no_grad():
        u = sur(sur.prepare(gs[0]))[:, 0]
    b = gs[0].boundary
    assert torch.all(u[b] == 0) and torch.all(u[~b] != 0)


def test_physics_options_survive_the_artifact(tmp_path) -> None:
    sur, gs = _two_input_surrogate(scaling={"a": -1.0, "f": 1.0}, hard_dirichlet=True)
    MODELS["toy"] = ToyGNN
    try:
        path = save_artifact(tmp_path / "m.pt", sur.to_artifact(problem="darcy", config={},
                                                                  metrics={}))
        again = Surrogate.from_artifact(load_artifact(path))
        assert again.recipe.scaling == {"a": -1.0, "f": 1.0} and again.recipe.hard_dirichlet
        with torch.no_grad():
            torch.testing.assert_close(again(again.prepare(gs[1])), sur(sur.prepare(gs[1])))
    finally:
        MODELS.pop("toy", None)

"""Tests of gnnops.surrogate.prepare: the wall-distance feature, whole-graph fields and the
smooth hard Dirichlet factor of Surrogate.physical."""

from __future__ import annotations

import numpy as np
import torch
from training_fixtures import ToyGNN

from gnnops.graphs import from_meshio
from gnnops.meshing import unit_square
from gnnops.surrogate.prepare import prepare_graph, with_whole_graph_fields
from gnnops.surrogate.recipe import make_recipe
from gnnops.surrogate.surrogate import Surrogate


def _square(h: float = 0.1):
    g = from_meshio(unit_square(h))
    g.x = torch.ones(g.num_nodes, 1)
    g.y = torch.ones(g.num_nodes, 1)
    return g


def _recipe(g, **kw):
    return make_recipe([g], inputs=["a"], input_dims=[1], targets=["u"], target_dims=[1],
                       problem="darcy", **kw)


def test_wall_distance_feature_is_the_exact_distance_column() -> None:
    g = _square()
    out = prepare_graph(g, _recipe(g, features=["wall_distance"]))
    x = g.pos.double().numpy()
    exact = np.minimum.reduce([x[:, 0], 1 - x[:, 0], x[:, 1], 1 - x[:, 1]])
    np.testing.assert_allclose(out.x[:, 1].double().numpy(), exact, atol=1e-6)
    assert not hasattr(g, "wall_distance") or g.wall_distance is None  # input untouched


def test_fidelity_feature_is_the_samples_fidelity_and_reference_when_predicting() -> None:
    g = _square()
    low = _square()
    low.fidelity = 0.0
    rec = _recipe(g, features=["fidelity"])
    assert float(prepare_graph(low, rec).x[:, 1].abs().max()) == 0.0
    out = prepare_graph(g, rec)  # a mesh to predict on carries no fidelity: the reference
    torch.testing.assert_close(out.x[:, 1], torch.ones(g.num_nodes))


def test_whole_graph_distance_survives_a_cut() -> None:
    """A partition's cut is no wall: the part keeps the whole mesh's distances."""
    g = _square()
    r = _recipe(g, features=[], hard_dirichlet=True, dirichlet_length=0.1)
    whole = with_whole_graph_fields(g, r)
    part_nodes = torch.nonzero((g.pos[:, 0] > 0.3) & (g.pos[:, 0] < 0.7)).ravel()
    part = whole.subgraph(part_nodes)
    own = prepare_graph(g.subgraph(part_nodes), r)  # computed from the part alone
    kept = prepare_graph(part, r)
    torch.testing.assert_close(kept.wall_distance, whole.wall_distance[part_nodes])
    assert float((own.wall_distance - kept.wall_distance).abs().max()) > 0.05
    assert with_whole_graph_fields(whole, r) is whole  # nothing to add: no copy


def test_smooth_dirichlet_factor_multiplies_the_output() -> None:
    g = _square()
    r = _recipe(g, features=[], hard_dirichlet=True, dirichlet_length=0.2)
    model = ToyGNN(1, 1, 0, 2, hidden=4)
    sur = Surrogate(model, model_name="toy", model_kwargs=model.config(), recipe=r,
                    normalizers={"x.mean": torch.zeros(1), "x.std": torch.ones(1),
                                 "y.mean": torch.tensor([1.0]), "y.std": torch.tensor([1.0])})
    p = prepare_graph(g, r)
    out = torch.zeros(g.num_nodes, 1)  # denormalized: 1 everywhere before the factor
    u = sur.physical(out, p).ravel()
    torch.testing.assert_close(u, torch.tanh(p.wall_distance / 0.2))
    assert float(u[g.boundary].abs().max()) == 0.0
    # MSE error of the exact output is zero even where the factor vanishes
    p.y = u.reshape(-1, 1)
    assert float(sur.normalized_error(out, p).abs().max()) < 1e-6


def test_dirichlet_factor_on_the_clamped_part_only() -> None:
    """Elasticity (clamped left): d = distance to x = 0, u = 0 there, free boundary free."""
    g = _square()
    g.x = torch.ones(g.num_nodes, 1)
    g.y = torch.ones(g.num_nodes, 2)
    r = make_recipe([g], inputs=["E"], input_dims=[1], targets=["u"], target_dims=[2],
                    problem="elasticity", features=[], hard_dirichlet=True,
                    dirichlet_length=0.2, dirichlet_set="problem")
    p = prepare_graph(g, r)
    torch.testing.assert_close(p.dirichlet_distance, g.pos[:, 0].float(), atol=1e-6, rtol=0)
    model = ToyGNN(1, 2, 0, 2, hidden=4)
    sur = Surrogate(model, model_name="toy", model_kwargs=model.config(), recipe=r,
                    normalizers={"x.mean": torch.zeros(1), "x.std": torch.ones(1),
                                 "y.mean": torch.ones(2), "y.std": torch.ones(2)})
    u = sur.physical(torch.zeros(g.num_nodes, 2), p)
    left = g.pos[:, 0] < 1e-9
    free = g.boundary & ~left
    assert float(u[left].abs().max()) == 0.0
    assert float(u[free].abs().min()) > 0.1  # the free boundary is not zeroed
    whole = with_whole_graph_fields(g, r)
    torch.testing.assert_close(whole.dirichlet_distance, p.dirichlet_distance)

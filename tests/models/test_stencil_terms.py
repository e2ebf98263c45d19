"""LinearStencil on weighted networks: edge-weight conductances and the local reaction."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch
from torch_geometric.data import Data

from gnnops.errors import ModelError
from gnnops.graphs import from_networkx
from gnnops.models import build
from gnnops.models.stencil_terms import LocalReaction

pytestmark = pytest.mark.usefixtures("one_thread")


def weighted_graph(n: int = 30, seed: int = 0, w_max: int = 60) -> Data:
    """Connected random graph with integer weights 1..w_max; ``x`` = [state, dt = 0.1]."""
    g = nx.connected_watts_strogatz_graph(n, 4, 0.3, seed=seed)
    rng = np.random.default_rng(seed)
    for e in g.edges:
        g.edges[e]["weight"] = int(rng.integers(1, w_max + 1))
    d = from_networkx(g, edge_weight="weight")
    d.x = torch.stack([torch.rand(n, generator=torch.Generator().manual_seed(seed)),
                       torch.full((n,), 0.1)], 1)
    return d


def _with(data: Data, u: torch.Tensor | None = None, scale: float = 1.0) -> Data:
    d = data.clone()
    d.edge_weight = data.edge_weight * scale
    if u is not None:
        d.x = data.x.clone()
        d.x[:, 0] = u
    return d


def _stencil(**kw) -> torch.nn.Module:
    args = dict(in_channels=2, out_channels=1, pos_dim=0, latent=16, depth=1,
                hidden_layers=1, hops=0, implicit=True, weight_base=True, source_columns=[])
    return build("linear_stencil", **{**args, **kw})


def _constant_heads(model, conductance: float, mass: float = 1.0) -> None:
    """Make softplus(gamma) and softplus(mu) constants, the leak ~0."""
    inv = lambda v: float(np.log(np.expm1(v)))  # noqa: E731 - softplus^-1
    with torch.no_grad():
        for head, v in ((model.conductance, conductance), (model.mass, mass)):
            head[-1].weight.zero_()
            head[-1].bias.fill_(inv(v))
        model.leak[-1].weight.zero_()
        model.leak[-1].bias.fill_(-30.0)


def test_conductance_is_the_edge_weight_times_a_learned_factor() -> None:
    """gamma fixed: the step is exactly (I + k L_w)^-1 u, so doubling every weight is the
    same as doubling k, also for weights far above any seen (L_w the weighted Laplacian)."""
    torch.manual_seed(0)
    data = weighted_graph()
    model = _stencil().eval()
    k = 0.05
    _constant_heads(model, k)
    lap = torch.as_tensor(nx.laplacian_matrix(nx.Graph(
        [(int(s), int(t), {"weight": float(w)}) for s, t, w in
         zip(*data.edge_index, data.edge_weight, strict=True) if s < t]),
        nodelist=range(data.num_nodes)).toarray(), dtype=torch.float64)
    u = data.x[:, 0].double()
    eye = torch.eye(data.num_nodes, dtype=torch.float64)
    for scale in (1.0, 2.0, 50.0):
        with torch.no_grad():
            got = model(_with(data, scale=scale))[:, 0].double() + u
        want = torch.linalg.solve(eye + k * scale * lap, u)
        torch.testing.assert_close(got, want, rtol=2e-5, atol=2e-6)
    with torch.no_grad():  # doubled weights == doubled conductance factor
        a = model(_with(data, scale=2.0))
        _constant_heads(model, 2 * k)
        b = model(data)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_weighted_implicit_step_stays_bounded_for_huge_weights() -> None:
    """Learned (non-constant) heads, weights up to 1e4: an M-matrix step, so
    max |u_next| <= max |u| (discrete maximum principle) and nothing blows up."""
    torch.manual_seed(1)
    data = weighted_graph(n=40, seed=3)
    model = _stencil(depth=2).eval()
    for scale in (1.0, 30.0, 1e4 / 60):
        u = torch.randn(data.num_nodes) * 10.0
        with torch.no_grad():
            nxt = model(_with(data, u, scale=scale))[:, 0] + u
        assert torch.isfinite(nxt).all()
        assert float(nxt.abs().max()) <= float(u.abs().max()) * (1 + 1e-5)
    assert float(nxt.std()) < 0.5 * float(u.std())  # strong coupling: a strong smoothing


def test_weight_base_without_edge_weight_is_the_unit_base() -> None:
    torch.manual_seed(2)
    data = weighted_graph()
    plain = data.clone()
    del plain.edge_weight
    on = _stencil().eval()
    off = _stencil(weight_base=False)
    off.load_state_dict(on.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(on(plain), off.eval()(data))
        ones = _with(data)
        ones.edge_weight = torch.ones_like(data.edge_weight)
        torch.testing.assert_close(on(ones), off(data))


@pytest.mark.parametrize("kw, match", [
    ({"implicit": False}, "needs implicit=True"),
    ({"weight_base": 1}, "weight_base to be a bool"),
    ({"local_reaction": "yes"}, "local_reaction to be a bool"),
])
def test_invalid_new_options_are_model_errors(kw, match) -> None:
    with pytest.raises(ModelError, match=match):
        _stencil(**kw)


def test_negative_edge_weights_are_a_model_error() -> None:
    data = weighted_graph()
    data.edge_weight[3] = -1.0
    with pytest.raises(ModelError, match="non-negative edge weights"):
        _stencil()(data)


@pytest.mark.parametrize("kw", [{}, {"hops": 2, "depth": 2}])
def test_still_exactly_linear_with_the_local_reaction_off(kw) -> None:
    torch.manual_seed(3)
    data = weighted_graph()
    model = _stencil(source_columns=None, **kw).eval()
    n = data.num_nodes
    u1, u2 = torch.randn(n), torch.randn(n) * 30.0
    with torch.no_grad():
        f = {k: model(_with(data, u)) for k, u in
             (("0", torch.zeros(n)), ("1", u1), ("2", u2), ("ab", 0.7 * u1 - 2.3 * u2))}
    lhs = f["ab"] - f["0"]
    rhs = 0.7 * (f["1"] - f["0"]) - 2.3 * (f["2"] - f["0"])
    assert float((lhs - rhs).abs().max()) <= 1e-5 * float(lhs.abs().max())
    on = _stencil(source_columns=None, local_reaction=True, **kw).eval()
    with torch.no_grad():  # the reaction term makes it nonlinear
        g = {k: on(_with(data, u)) for k, u in (("0", torch.zeros(n)), ("1", u1),
                                                 ("2", 2 * u1))}
    assert float(((g["2"] - g["0"]) - 2 * (g["1"] - g["0"])).abs().max()) > 1e-4


def test_zero_state_gives_zero_increment() -> None:
    """R(0, h) = 0: with no source the model maps 0 to exactly 0; with a free source b(h),
    a rollout anchored at x = 0 keeps a zero state exactly 0 (and a seeded node spreads)."""
    from gnnops.surrogate.recipe import Recipe
    from gnnops.surrogate.stepping import (
        RolloutSurrogate,
        rollout,
        step_input_names,
        trajectory_layout,
    )
    from gnnops.surrogate.surrogate import Surrogate

    torch.manual_seed(4)
    data = weighted_graph()
    n = data.num_nodes
    with torch.no_grad():
        assert float(_stencil(local_reaction=True, depth=2).eval()(
            _with(data, torch.zeros(n))).abs().max()) == 0.0
    model = _stencil(local_reaction=True, source_columns=None)
    with torch.no_grad():
        assert float(model.eval()(_with(data, torch.zeros(n))).abs().max()) > 0  # b(h) != 0
    lay = trajectory_layout("fisher_kpp", {"t_end": 1.0, "n_times": 11}, anchor=0.0)
    names = step_input_names(lay)
    recipe = Recipe(kind="network", inputs=names, input_dims=[1] * len(names),
                    targets=["x_increment"], target_dims=[1], features=[], rollout=lay)
    norms = {"x.mean": torch.tensor([0.3, 0.1]), "x.std": torch.tensor([0.4, 1.0]),
             "y.mean": torch.zeros(1), "y.std": torch.ones(1)}
    sur = RolloutSurrogate.wrap(Surrogate(model, model_name="linear_stencil",
                                          model_kwargs=model.config(), recipe=recipe,
                                          normalizers=norms), noise_std=0.0, layout=lay).eval()
    graph = data.clone()
    del graph.x
    x0 = torch.zeros(n)
    out = rollout(sur, graph, x0, torch.zeros(n, 0), np.full(10, 0.1), layout=lay)
    assert float(out.abs().max()) == 0.0
    x0[0] = 1.0
    out = rollout(sur, graph, x0, torch.zeros(n, 0), np.full(10, 0.1), layout=lay)
    assert float(out[1:, -1].abs().max()) > 0  # the seed spreads to its neighbours


def test_local_reaction_is_zero_at_zero_and_per_node() -> None:
    torch.manual_seed(5)
    r = LocalReaction(1, 8, 1, 2)
    u, h = torch.rand(10, 1), torch.randn(10, 8)
    u[3] = 0.0
    out = r(u, h)
    assert out.shape == (10, 1) and float(out[3].abs().detach()) == 0.0
    torch.testing.assert_close(r(u[5:], h[5:]), out[5:])  # no coupling between nodes


def test_learns_the_logistic_flow_on_isolated_nodes() -> None:
    """Single nodes (no edges): the step must be the exact logistic flow over dt,
    x -> x e / (1 - x + x e), e = exp(alpha dt), alpha = 2, dt = 0.1 (Fisher-KPP's); fitted
    within 1 % (relative L2 of the increment) on new states after 400 Adam steps, with the
    growth rate at x -> 0 (which sets a pulled front's speed) within 5 %. States are drawn
    denser near 0 (x = U^2): a squared loss barely sees the rate at small x otherwise."""
    torch.manual_seed(0)
    alpha, dt = 2.0, 0.1
    e = float(np.exp(alpha * dt))

    def nodes(x: torch.Tensor) -> Data:
        return Data(x=torch.stack([x, torch.full_like(x, dt)], 1),
                    edge_index=torch.zeros(2, 0, dtype=torch.long), num_nodes=x.shape[0])

    model = _stencil(local_reaction=True, weight_base=False, depth=0, latent=32,
                     hidden_layers=2)
    opt = torch.optim.Adam(model.parameters(), lr=0.005)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, 400)
    for _ in range(400):
        x = torch.rand(256) ** 2
        loss = ((model(nodes(x))[:, 0] - (x * e / (1 - x + x * e) - x)) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    x = torch.cat([torch.tensor([0.0, 1e-3]), torch.linspace(0.01, 1.0, 100)])
    with torch.no_grad():
        got = model.eval()(nodes(x))[:, 0]
    want = x * e / (1 - x + x * e) - x
    err = float((got - want).norm() / want.norm())
    assert err < 0.01, err
    assert float(got[0]) == 0.0  # x = 0 stays exactly 0
    assert float(got[1] / want[1]) == pytest.approx(1.0, abs=0.05)

"""One-step pairs, training noise (on in training, off in evaluation) and rollout numbers."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch
from torch import nn
from torch_geometric.data import Batch

from gnnops.graphs import from_networkx
from gnnops.problems.network_diffusion import diffusion_exact
from gnnops.surrogate.normalizer import fit_normalizer
from gnnops.surrogate.recipe import Recipe, RolloutLayout
from gnnops.surrogate.stepping import (
    RolloutSurrogate,
    full_states,
    one_step_pairs,
    rollout,
    state_times,
    step_input_names,
    trajectory_layout,
)
from gnnops.surrogate.surrogate import Surrogate


class _Zero(nn.Module):
    def forward(self, data):  # noqa: D102
        return data.x[:, :1] * 0.0


class _State(nn.Module):
    def forward(self, data):  # noqa: D102
        return data.x[:, :1].clone()


def _norms(fx: int) -> dict[str, torch.Tensor]:
    return {"x.mean": torch.zeros(fx), "x.std": torch.ones(fx), "y.mean": torch.zeros(1),
            "y.std": torch.ones(1)}


def _recipe(layout: RolloutLayout) -> Recipe:
    names = step_input_names(layout)
    return Recipe(kind="network", inputs=names, input_dims=[1] * len(names),
                  targets=["x_increment"], target_dims=[1], features=[], rollout=layout)


def test_layouts_of_network_and_heat_problems() -> None:
    net = trajectory_layout("fisher_kpp", {"t_end": 2.0, "n_times": 21})
    assert isinstance(net, RolloutLayout)
    assert net.includes_initial and net.dt == pytest.approx(0.1)
    assert (net.state, net.initial, net.static) == ("x", "x0", [])
    assert step_input_names(net) == ["x", "dt"]
    heat = trajectory_layout("heat", {"t_end": 0.1, "n_steps": 50})
    assert not heat.includes_initial and heat.dt == pytest.approx(0.002)
    assert heat.static == ["kappa", "f"] and len(state_times(heat)) == 51
    assert state_times(heat)[0] == 0.0


def test_one_step_pairs_hold_states_increments_and_dt() -> None:
    lay = trajectory_layout("network_diffusion", {"t_end": 1.0, "n_times": 5})
    data = from_networkx(nx.path_graph(3))
    traj = torch.arange(15.0).reshape(3, 5) ** 2  # column 0 = the initial state
    data.x, data.y = traj[:, :1].clone(), traj
    pairs = one_step_pairs(data, lay, keep_pos=False)
    assert len(pairs) == 4
    for k, p in enumerate(pairs):
        assert torch.equal(p.x[:, 0], traj[:, k])
        assert torch.allclose(p.x[:, 1], torch.full((3,), 0.25))
        assert torch.equal(p.y[:, 0], traj[:, k + 1] - traj[:, k])
        assert p.edge_index.data_ptr() == data.edge_index.data_ptr()  # shared topology
    assert "x" in data and data.y is traj  # the sample itself is untouched
    heat = trajectory_layout("heat", {"t_end": 0.1, "n_steps": 4})
    d2 = from_networkx(nx.path_graph(3))
    d2.x = torch.tensor([[1.0, 2.0, 0.0], [3.0, 4.0, 0.0], [5.0, 6.0, 0.0]])  # u0, kappa, f
    d2.y = torch.ones(3, 4)
    s, static = full_states(d2, heat)
    assert s[:, 0].tolist() == [1.0, 3.0, 5.0] and s.shape == (3, 5)  # u0 prepended
    assert static[:, 0].tolist() == [2.0, 4.0, 6.0]


def test_noise_is_on_in_training_and_off_in_evaluation() -> None:
    lay = trajectory_layout("network_diffusion", {"t_end": 1.0, "n_times": 5})
    n = 40_000
    batch = Batch.from_data_list([from_networkx(nx.empty_graph(n))])
    batch.x = torch.cat([torch.linspace(0, 1, n)[:, None], torch.full((n, 1), 0.25)], 1)
    zero = RolloutSurrogate(_Zero(), model_name="zero", model_kwargs={}, recipe=_recipe(lay),
                            normalizers=_norms(2), noise_std=0.1)
    zero.train()
    a, b = zero(batch, normalized=True)[:, 0], zero(batch, normalized=True)[:, 0]
    # the returned increment is the zero model's output + eps: the target becomes y - eps
    assert float(a.std()) == pytest.approx(0.1, rel=0.03)
    assert abs(float(a.mean())) < 3e-3 and not torch.equal(a, b)
    zero.eval()
    assert torch.equal(zero(batch), torch.zeros(n, 1))  # no noise in evaluation
    ident = RolloutSurrogate(_State(), model_name="s", model_kwargs={}, recipe=_recipe(lay),
                             normalizers=_norms(2), noise_std=0.1)
    ident.train()
    out = ident(batch)[:, 0] - batch.x[:, 0]  # model saw s + eps, returned (s + eps) + eps
    assert float(out.std()) == pytest.approx(0.2, rel=0.03)
    ident.eval()
    assert torch.equal(ident(batch)[:, 0], batch.x[:, 0])
    plain = Surrogate(_Zero(), model_name="zero", model_kwargs={}, recipe=_recipe(lay),
                      normalizers=_norms(2))
    assert isinstance(RolloutSurrogate.wrap(plain, noise_std=0.0, layout=lay), Surrogate)


class _LinearGNN(nn.Module):
    """``out = a * x_state + b * (A x - deg x)``: two learnable scalars, sum aggregation."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.tensor(0.3))
        self.b = nn.Parameter(torch.tensor(0.3))

    def forward(self, data):  # noqa: D102
        src, dst = data.edge_index
        x = data.x[:, :1]
        lap = torch.zeros_like(x).index_add(0, dst, x[src] - x[dst])
        return self.a * x + self.b * lap


def test_rollout_of_a_trained_model_reproduces_linear_diffusion() -> None:
    """dx/dt = -k L x on cycles: train a tiny linear GNN on one-step pairs (noise on), roll
    out 20 steps on an unseen, larger cycle and compare with expm(-k L t) x0."""
    torch.manual_seed(0)
    k, dt, steps = 1.0, 0.05, 20
    lay = trajectory_layout("network_diffusion", {"k": k, "t_end": dt * steps,
                                                  "n_times": steps + 1})
    times = state_times(lay)
    rng = np.random.default_rng(0)
    pairs = []
    for _ in range(4):
        g = from_networkx(nx.cycle_graph(24))
        x0 = rng.uniform(0, 1, 24)
        g.x = torch.tensor(x0, dtype=torch.float32)[:, None]
        g.y = torch.tensor(diffusion_exact(g, x0=x0, times=times, k=k), dtype=torch.float32)
        pairs += one_step_pairs(g, lay, keep_pos=False)
    ones = {"x.mean": torch.zeros(2), "x.std": torch.ones(2)}
    yn = fit_normalizer((p.y for p in pairs), 1).state("y")
    sur = RolloutSurrogate.wrap(Surrogate(_LinearGNN(), model_name="lin", model_kwargs={},
                                          recipe=_recipe(lay), normalizers={**ones, **yn}),
                                noise_std=1e-3, layout=lay)
    batch = Batch.from_data_list(pairs)
    opt = torch.optim.Adam(sur.parameters(), lr=0.05)
    sur.train()
    for _ in range(300):
        loss = ((sur(batch, normalized=True) - sur.normalize_target(batch.y)) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    sur.eval()
    # the learned one-step map ~ I - k dt L (+ O(dt^2)): b * y_std ~ k dt, a ~ 0
    b = float(sur.model.b * sur.y_std)
    assert b == pytest.approx(k * dt, rel=0.1) and abs(float(sur.model.a * sur.y_std)) < 2e-3
    test = from_networkx(nx.cycle_graph(60))
    x0 = np.where(np.arange(60) < 15, 1.0, 0.0)
    true = diffusion_exact(test, x0=x0, times=times, k=k)
    pred = rollout(sur, test, torch.tensor(x0, dtype=torch.float32), torch.zeros(60, 0),
                   np.diff(times), layout=lay).double().numpy()
    err = np.mean(np.abs(pred[:, 1:] - true[:, 1:])) / np.mean(np.abs(true[:, 1:]))
    persistence = np.mean(np.abs(x0[:, None] - true[:, 1:])) / np.mean(np.abs(true[:, 1:]))
    assert np.allclose(pred[:, 0], x0)
    assert err < 0.02 and persistence > 0.05, (err, persistence)
    assert err < 0.2 * persistence
    assert np.abs(pred.sum(0) - x0.sum()).max() < 2.5e-3 * x0.sum()  # mass ~ conserved


class _Biased(nn.Module):
    """increment = 0.5 * state + 0.01: a model with a spurious bias at the steady state 0."""

    def forward(self, data):  # noqa: D102
        return 0.5 * data.x[:, :1] + 0.01


def test_anchor_removes_the_bias_at_a_steady_state() -> None:
    """rollout.anchor = 0: the increment is model(s) - model(0), so quiescent nodes stay
    exactly 0 and active ones follow s_{k+1} = 1.5 s_k; without the anchor the bias drifts."""
    steps = 10
    x0 = torch.tensor([0.0, 1.0, 0.0, 2.0])
    g = from_networkx(nx.path_graph(4))
    out = {}
    for anchor in (None, 0.0):
        lay = trajectory_layout("fisher_kpp", {"t_end": 0.1 * steps, "n_times": steps + 1},
                                anchor=anchor)
        names = step_input_names(lay)
        sur = Surrogate(_Biased(), model_name="biased", model_kwargs={}, recipe=_recipe(lay),
                        normalizers=_norms(len(names))).eval()
        with torch.no_grad():
            out[anchor] = rollout(sur, g, x0, torch.zeros(4, 0), np.full(steps, 0.1),
                                  layout=lay).double().numpy()
    expected = x0.double().numpy()[:, None] * 1.5 ** np.arange(steps + 1)
    np.testing.assert_allclose(out[0.0], expected, rtol=1e-5, atol=0)
    assert np.all(out[0.0][[0, 2]] == 0.0)
    drift = out[None][[0, 2], -1]
    assert np.all(drift > 0.1), drift   # the unanchored bias grows at quiescent nodes


def test_wrap_keeps_a_state_linear_model_linear_in_physical_units() -> None:
    """A LinearStencil (homogeneous in the state, increments in state units) wrapped with
    normalizers fitted on states of nonzero mean: the Surrogate, in physical units, is still
    f(a u1 + b u2) - f(0) = a (f(u1) - f(0)) + b (f(u2) - f(0))."""
    from gnnops.models import build

    lay = trajectory_layout("network_diffusion", {"t_end": 0.5, "n_times": 6})
    g = from_networkx(nx.cycle_graph(12))
    g.x = torch.stack([torch.linspace(5.0, 9.0, 12), torch.full((12,), 0.1)], 1)  # x, dt
    model = build("linear_stencil", in_channels=2, out_channels=1, pos_dim=0, latent=8,
                  depth=1, hidden_layers=1, hops=2, implicit=True)
    x_norm = fit_normalizer([g.x], 2).state("x")
    y_norm = {"y.mean": torch.tensor([0.3]), "y.std": torch.tensor([0.05])}
    sur = RolloutSurrogate.wrap(Surrogate(model, model_name="linear_stencil",
                                          model_kwargs=model.config(), recipe=_recipe(lay),
                                          normalizers={**x_norm, **y_norm}),
                                noise_std=0.0, layout=lay).eval()
    assert float(sur.x_mean[0]) == 0.0 and float(sur.x_mean[1]) == pytest.approx(0.1)
    assert float(sur.y_mean[0]) == 0.0 and float(sur.y_std[0]) == float(sur.x_std[0])

    def f(u: torch.Tensor) -> torch.Tensor:
        b = g.clone()
        b.x = torch.stack([u, g.x[:, 1]], 1)
        with torch.no_grad():
            return sur(b)

    u1, u2 = torch.randn(12) + 7.0, torch.randn(12) * 20.0
    f0 = f(torch.zeros(12))
    lhs = f(2.0 * u1 - 0.5 * u2) - f0
    rhs = 2.0 * (f(u1) - f0) - 0.5 * (f(u2) - f0)
    assert float((lhs - rhs).abs().max()) <= 1e-5 * float(lhs.abs().max())

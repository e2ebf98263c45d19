"""NDCN graph neural ODE: Phi, closed-form ODE solutions, training on heat dynamics."""

import json

import numpy as np
import pytest
import torch
from scipy.linalg import expm
from torch_geometric.data import Batch, Data

from gnnops.errors import ModelError
from gnnops.models import build
from gnnops.models.ndcn import NDCN, normalized_laplacian, odeint_stacked

pytestmark = pytest.mark.usefixtures("one_thread")


def _undirected(edges: np.ndarray, weights: np.ndarray | None = None) -> tuple:
    ei = torch.as_tensor(np.concatenate([edges, edges[:, ::-1]]).T.copy())
    w = None if weights is None else torch.as_tensor(np.concatenate([weights, weights]))
    return ei, w


def _dense_phi(ei: torch.Tensor, w: torch.Tensor | None, n: int) -> np.ndarray:
    a = np.zeros((n, n))
    src, dst = ei.numpy()
    np.add.at(a, (dst, src), 1.0 if w is None else w.numpy())
    deg = a.sum(1)
    dinv = np.where(deg > 0, 1 / np.sqrt(np.where(deg > 0, deg, 1)), 0.0)
    return np.eye(n) - dinv[:, None] * a * dinv[None, :]


def test_phi_matches_dense_reference_weighted_directed_isolated() -> None:
    rng = np.random.default_rng(0)
    n = 9  # node 8 isolated: its row of Phi is the identity row
    edges = np.array([[0, 1], [1, 2], [2, 3], [3, 0], [0, 2], [4, 5], [5, 6], [6, 7], [7, 4],
                      [1, 5]])
    ei, w = _undirected(edges, rng.uniform(0.5, 2.0, len(edges)))
    directed = torch.tensor([[2], [6]])  # one extra edge 2 -> 6 (A[6, 2])
    ei = torch.cat([ei, directed], 1)
    w = torch.cat([w, torch.tensor([0.7], dtype=w.dtype)])
    phi = normalized_laplacian(ei, n, edge_weight=w, dtype=torch.float64).to_dense().numpy()
    np.testing.assert_allclose(phi, _dense_phi(ei, w, n), atol=1e-14)
    assert phi[8].tolist() == [0.0] * 8 + [1.0]


def test_phi_spectrum_of_cycle_is_one_minus_cosine() -> None:
    n = 12
    ei, _ = _undirected(np.stack([np.arange(n), (np.arange(n) + 1) % n], 1))
    phi = normalized_laplacian(ei, n, dtype=torch.float64).to_dense().numpy()
    expect = np.sort(1 - np.cos(2 * np.pi * np.arange(n) / n))
    np.testing.assert_allclose(np.linalg.eigvalsh(phi), expect, atol=1e-12)


def test_phi_rejects_bad_input() -> None:
    ei = torch.tensor([[0, 1], [1, 0]])
    with pytest.raises(ModelError, match=r"expected edge_index entries in \[0, 1\)"):
        normalized_laplacian(ei, 1)
    with pytest.raises(ModelError, match="expected finite non-negative edge weights"):
        normalized_laplacian(ei, 2, edge_weight=torch.tensor([1.0, -1.0]))
    with pytest.raises(ModelError, match=r"expected edge_index of shape \[2, E\] \(got \[3\]\)"):
        normalized_laplacian(torch.tensor([0, 1, 2]), 3)


def _small_graph(n: int = 12, seed: int = 3) -> Data:
    rng = np.random.default_rng(seed)
    ring = np.stack([np.arange(n), (np.arange(n) + 1) % n], 1)
    extra = rng.choice(n, size=(6, 2))
    extra = extra[extra[:, 0] != extra[:, 1]]
    edges = np.unique(np.sort(np.concatenate([ring, extra]), axis=1), axis=0)
    ei, w = _undirected(edges, rng.uniform(0.5, 1.5, len(edges)))
    return Data(x=torch.as_tensor(rng.uniform(0, 2, (n, 1))), edge_index=ei,
                edge_weight=w, num_nodes=n)


def _hand_set_model(data: Data, p: np.ndarray, shift: float,
                    adjoint: bool = False, rtol: float = 1e-10) -> tuple[NDCN, np.ndarray]:
    """W = -diag(p), bias b so that z0 = Phi h0 W^T + b >= shift (ReLU inactive if >= 0).

    Then z = Phi h W^T + b obeys dz/dt = Phi z W^T, vec z' = -(diag(p) kron (I - S)) vec z
    with S = D^-1/2 A D^-1/2 >= 0, whose exponential is entrywise >= 0: z stays >= 0.
    """
    k = len(p)
    m = NDCN(1, 1, hidden=k, rtol=rtol, atol=rtol / 100, adjoint=adjoint).double()
    with torch.no_grad():
        m.encoder[0].weight.copy_(torch.linspace(-1.0, 1.5, k)[:, None])
        m.encoder[0].bias.copy_(torch.linspace(0.2, -0.3, k))
        m.encoder[2].weight.copy_(torch.eye(k) + 0.1)
        m.encoder[2].bias.zero_()
        m.odefunc.linear.weight.copy_(-torch.diag(torch.as_tensor(p)))
        h0 = m.encoder(data.x).numpy()
        phi = m.phi(data).to_dense().numpy()
        b = -(phi @ h0 @ -np.diag(p)).min(0) + shift
        m.odefunc.linear.bias.copy_(torch.as_tensor(b))
        m.decoder.weight.copy_(torch.linspace(0.5, -1.0, k)[None])
        m.decoder.bias.fill_(0.25)
    return m, b


def _linear_closed_form(m: NDCN, data: Data, times: np.ndarray, b: np.ndarray) -> np.ndarray:
    """dh/dt = Phi h W^T + 1 b^T solved by the matrix exponential of the augmented system."""
    with torch.no_grad():
        h0 = m.encoder(data.x).numpy()
        phi = m.phi(data).to_dense().numpy()
        w = m.odefunc.linear.weight.numpy()
        q, c = m.decoder.weight.numpy(), m.decoder.bias.numpy()
    n, k = h0.shape
    aug = np.zeros((n * k + 1, n * k + 1))
    aug[: n * k, : n * k] = np.kron(w, phi)  # vec(Phi h W^T) = (W kron Phi) vec(h), column-major
    aug[: n * k, -1] = np.repeat(b, n)
    v0 = np.append(h0.flatten(order="F"), 1.0)
    hs = [(expm(t * aug) @ v0)[: n * k].reshape(n, k, order="F") for t in times]
    return np.stack([h @ q.T + c for h in hs])  # [T, N, 1]


def test_ode_solution_matches_matrix_exponential() -> None:
    data = _small_graph()
    m, b = _hand_set_model(data, p=np.array([0.5, 1.0, 2.0]), shift=0.05)
    times = np.array([0.0, 0.13, 0.4, 0.41, 1.2, 2.0, 3.7])  # irregular
    got = m.trajectory(data, torch.as_tensor(times)).detach().numpy()
    expect = _linear_closed_form(m, data, times, b)
    assert got.shape == (7, 12, 1)
    np.testing.assert_allclose(got, expect, rtol=1e-7, atol=1e-8)
    # forward's layout: [N, T * F_out], time major
    np.testing.assert_allclose(m(data, times).detach().numpy(), expect[:, :, 0].T, atol=1e-8)


def test_relu_is_active_when_the_linear_flow_goes_negative() -> None:
    data = _small_graph()
    m, b = _hand_set_model(data, p=np.array([0.5, 1.0, 2.0]), shift=-1.0)  # z0 has < 0 entries
    times = np.array([0.0, 0.5, 1.0, 2.0])
    got = m.trajectory(data, torch.as_tensor(times)).detach().numpy()
    gap = np.abs(got - _linear_closed_form(m, data, times, b)).max()
    assert gap > 1e-2


def test_stacked_solver_matches_torchdiffeq_values_and_gradients() -> None:
    from torchdiffeq import odeint

    data = _small_graph()
    torch.manual_seed(0)
    m = NDCN(1, 1, hidden=4).double()
    m.odefunc.set_phi(m.phi(data))
    t = torch.tensor([0.0, 0.3, 0.35, 1.0, 2.5], dtype=torch.float64)
    outs, grads = [], []
    for solve in (odeint, odeint_stacked):
        m.zero_grad()
        y = solve(m.odefunc, m.encoder(data.x), t, rtol=1e-3, atol=1e-4, method="dopri5")
        (y ** 2).sum().backward()
        outs.append(y.detach())
        grads.append(m.odefunc.linear.weight.grad.clone())
    torch.testing.assert_close(outs[1], outs[0], rtol=0, atol=1e-14)
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-12, atol=1e-14)


def test_batch_equals_graphs_one_by_one_and_times_checked() -> None:
    torch.manual_seed(1)
    m = NDCN(1, 2, hidden=5).double()
    g1, g2 = _small_graph(12, 3), _small_graph(9, 4)
    t = torch.tensor([0.0, 0.7, 1.5], dtype=torch.float64)
    batch = Batch.from_data_list([g1, g2])
    y = m(batch, t).detach()
    assert y.shape == (21, 6)
    # rtol 0.01: the batch takes its own adaptive steps, so compare loosely
    torch.testing.assert_close(y[:12], m(g1, t).detach(), rtol=0.05, atol=0.02)
    torch.testing.assert_close(y[12:], m(g2, t).detach(), rtol=0.05, atol=0.02)
    with pytest.raises(ModelError, match="expected times strictly increasing"):
        m(batch, torch.tensor([0.0, 1.0, 0.0, 1.0]))
    with pytest.raises(ModelError, match="expected times= or data.times"):
        m(g1)
    g1.times = t
    assert m(g1).shape == (12, 6)


def test_registry_config_round_trip() -> None:
    m = build("ndcn", in_channels=1, out_channels=1, edge_dim=1, pos_dim=0, hidden=7)
    cfg = m.config()
    assert json.loads(json.dumps(cfg)) == cfg
    assert cfg["hidden"] == 7 and cfg["method"] == "dopri5" and cfg["rtol"] == 0.01
    assert build("ndcn", **cfg).config() == cfg
    # encoder 1*7+7 + 7*7+7, W 7*7+7, decoder 7+1
    assert sum(p.numel() for p in m.parameters()) == 14 + 56 + 56 + 8
    with pytest.raises(ModelError, match="unknown ODE method 'dopri4'"):
        NDCN(method="dopri4")


def test_training_on_heat_dynamics_reduces_normalized_l1() -> None:
    """30-node graph, dX/dt = -L X, 16 irregular times on [0, 2]: 100 Adam steps."""
    from gnnops.graphs import from_networkx
    from gnnops.graphs.families import make_graph
    from gnnops.problems.network_diffusion import diffusion_exact

    g = make_graph("erdos_renyi", 30, seed=2, p=0.15)
    rng = np.random.default_rng(0)
    x0 = rng.uniform(0.0, 25.0, 30)
    times = np.concatenate([[0.0], np.sort(rng.uniform(0.0, 2.0, 15))])
    y = torch.as_tensor(diffusion_exact(g, x0=x0, times=times), dtype=torch.float32)
    data = from_networkx(g)
    data.x = torch.as_tensor(x0, dtype=torch.float32)[:, None]
    t = torch.as_tensor(times, dtype=torch.float32)
    torch.manual_seed(0)
    m = NDCN(1, 1)
    opt = torch.optim.Adam(m.parameters(), lr=0.01)

    def nl1() -> float:
        with torch.no_grad():
            return float(100 * (m(data, t) - y).abs().mean() / y.abs().mean())

    before = nl1()
    for _ in range(100):
        opt.zero_grad()
        torch.nn.functional.l1_loss(m(data, t), y).backward()
        opt.step()
    after = nl1()
    print(f"NDCN heat training: normalized L1 {before:.1f} % -> {after:.2f} %")
    assert before > 50.0
    assert after < 10.0


def test_adjoint_gradients_match_direct_ones() -> None:
    """On the smooth (ReLU-inactive) hand-set model both gradients are the exact one."""
    data = _small_graph()
    t = torch.tensor([0.0, 0.4, 1.1, 2.0], dtype=torch.float64)
    grads = []
    for adjoint in (False, True):
        m, _ = _hand_set_model(data, p=np.array([0.5, 1.0, 2.0]), shift=0.5, adjoint=adjoint,
                               rtol=1e-8)
        (m(data, t) ** 2).sum().backward()
        grads.append([p.grad.clone() for p in m.parameters()])
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-7)


def test_euler_steps_once_per_gap_between_times() -> None:
    """``method="euler"`` without a step size takes one step per gap of the requested times
    (the NDCN code's fixed grid): h_{k+1} = h_k + (t_{k+1} - t_k) f(h_k), by hand."""
    data = _small_graph()
    torch.manual_seed(0)
    m = NDCN(1, 1, hidden=4, method="euler").double()
    t = torch.tensor([0.0, 0.3, 0.35, 1.0], dtype=torch.float64)
    with torch.no_grad():
        got = m.hidden_trajectory(data, t)
        m.odefunc.set_phi(m.phi(data))
        h = [m.encoder(data.x.double())]
        for k in range(3):
            h.append(h[-1] + (t[k + 1] - t[k]) * m.odefunc(t[k], h[-1]))
        torch.testing.assert_close(got, torch.stack(h), rtol=1e-12, atol=1e-12)
        # a uniform step size interpolates between its own grid points instead
        m.step_size = 0.05
        assert not torch.allclose(m.hidden_trajectory(data, t)[2], got[2])

"""Graph neural operator: quadrature weights, resolution consistency, overfit, batching."""

import math
from functools import partial

import numpy as np
import pytest
import torch
from mesh_fixtures import mesh_data
from skfem import MeshTri
from torch_geometric.data import Batch, Data

from gnnops.errors import ModelError
from gnnops.models import build
from gnnops.models.gno import GNO
from gnnops.models.mlp import scatter_sum

pytestmark = pytest.mark.usefixtures("one_thread")

mesh_data = partial(mesh_data, f_in=1)  # the GNO tests use one input channel by default


def smooth_input(data: Data) -> Data:
    p = data.pos
    data.x = (torch.sin(math.pi * p[:, 0]) * torch.sin(math.pi * p[:, 1]))[:, None]
    return data


def test_quadrature_coefficients() -> None:
    data = mesh_data(5)  # h = 1/32
    center = int(torch.argmin((data.pos - 0.5).norm(dim=1)))
    r = 0.25
    mean = GNO(1, 1, radius=r, normalization="mean").prepare(data)
    integ = GNO(1, 1, radius=r, normalization="integral").prepare(data)
    n = data.num_nodes
    sums = scatter_sum(mean.gno_edge_weight, mean.gno_edge_index[1], n)
    assert torch.allclose(sums, torch.ones(n), atol=1e-5)  # a weighted mean
    # the integral weights of the central node sum to the area of B_r (lumped quadrature;
    # the ball's edge cuts cells, an O(h) error: 2.0 % at h = 1/32)
    area = float(scatter_sum(integ.gno_edge_weight, integ.gno_edge_index[1], n)[center])
    assert abs(area - math.pi * r**2) < 0.03 * math.pi * r**2
    # a corner node sees a quarter disc
    corner = int(torch.argmin(data.pos.norm(dim=1)))
    area_c = float(scatter_sum(integ.gno_edge_weight, integ.gno_edge_index[1], n)[corner])
    assert abs(area_c - math.pi * r**2 / 4) < 0.05 * math.pi * r**2 / 4


@pytest.mark.parametrize("normalization", ["mean", "integral"])
def test_resolution_consistency_on_nested_meshes(normalization: str) -> None:
    """Same random-init GNO, a = sin(pi x) sin(pi y) on MeshTri().refined(k), k = 2..5.

    Nested meshes keep the coarse vertices first, so outputs are compared at the 25
    vertices of the k = 2 mesh; successive differences must shrink (rate >= 1 in h).
    """
    torch.manual_seed(0)
    model = GNO(1, 1, width=8, depth=3, radius=0.25, kernel_hidden=32,
                normalization=normalization)
    coarse = MeshTri().refined(2).p.T
    outs = []
    for k in range(2, 6):
        data = smooth_input(mesh_data(k))
        assert np.array_equal(data.pos[:25].numpy(), coarse.astype(np.float32))
        with torch.no_grad():
            outs.append(model(data)[:25, 0].numpy())
    spread = outs[-1].max() - outs[-1].min()
    diffs = np.array([np.abs(outs[i] - outs[i + 1]).max() for i in range(3)])
    hs = 0.5 ** np.arange(2, 5)
    rate = np.polyfit(np.log(hs), np.log(diffs), 1)[0]
    assert np.all(diffs[1:] < diffs[:-1]), diffs
    assert rate > 1.0, (rate, diffs)
    assert diffs[-1] < 0.05 * spread, (diffs, spread)


def test_unweighted_sum_is_not_resolution_consistent() -> None:
    """Control: without quadrature weights the ball sums grow ~ N (what the weights fix)."""
    sums = []
    for k in (3, 4, 5):
        d = GNO(1, 1, radius=0.25).prepare(mesh_data(k))
        sums.append(torch.bincount(d.gno_edge_index[1]).float().mean().item())
    assert sums[2] / sums[1] > 3.5 and sums[1] / sums[0] > 3.0


@pytest.mark.parametrize("kernel", ["full", "lowrank", "diagonal"])
def test_overfits_one_graph(kernel: str) -> None:
    torch.manual_seed(4)
    data = smooth_input(mesh_data(2))
    p = data.pos
    data.y = (p[:, :1] * (1 - p[:, :1]) + 0.5 * data.x) * 2
    model = GNO(1, 1, width=16, depth=2, radius=0.5, kernel=kernel, kernel_hidden=32)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2, foreach=True)
    data = model.prepare(data)
    losses = []
    for _ in range(200):
        opt.zero_grad()
        loss = (model(data) - data.y).square().mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 100, (losses[0], losses[-1])


@pytest.mark.parametrize("kernel", ["full", "lowrank"])
def test_batch_equals_separate(kernel: str) -> None:
    torch.manual_seed(5)
    model = GNO(1, 2, width=8, depth=2, radius=0.3, kernel=kernel, max_num_neighbors=12)
    a, b = mesh_data(2, seed=1), mesh_data(3, seed=2)
    with torch.no_grad():
        ya, yb = model(a), model(b)
        y_prep = model(Batch.from_data_list([model.prepare(a), model.prepare(b)]))
        y_raw = model(Batch.from_data_list([a, b]))  # prepare on the batch itself
    want = torch.cat([ya, yb])
    assert torch.allclose(y_prep, want, atol=1e-5)
    assert torch.allclose(y_raw, want, atol=1e-5)


def test_train_neighbors_subsample() -> None:
    data = mesh_data(4)
    d = GNO(1, 1, radius=0.25, train_neighbors=20).prepare(data)
    deg = torch.bincount(d.gno_edge_index[1], minlength=data.num_nodes)
    assert int(deg.max()) == 20 and int(deg.min()) >= 9  # a corner ball holds >= 9 nodes
    d2 = GNO(1, 1, radius=0.25, train_neighbors=20).prepare(data)
    assert torch.equal(d.gno_edge_index, d2.gno_edge_index)  # deterministic
    # mean weights over the kept nodes still sum to one
    s = scatter_sum(d.gno_edge_weight, d.gno_edge_index[1], data.num_nodes)
    assert torch.allclose(s, torch.ones_like(s), atol=1e-5)


def test_old_max_num_neighbors_kwarg_loads_and_inference_uses_the_whole_ball() -> None:
    """An artifact saved with ``max_num_neighbors`` rebuilds (same weights); its subsample
    applies only in training: in eval mode the forward integrates over the whole ball."""
    torch.manual_seed(2)
    old = build("gno", in_channels=1, out_channels=1, width=8, depth=2, radius=0.3,
                kernel="lowrank", kernel_hidden=16, max_num_neighbors=12)
    assert old.config()["train_neighbors"] == 12 and "max_num_neighbors" not in old.config()
    again = build("gno", **old.config())
    again.load_state_dict(old.state_dict())
    whole = build("gno", in_channels=1, out_channels=1, width=8, depth=2, radius=0.3,
                  kernel="lowrank", kernel_hidden=16)
    whole.load_state_dict(old.state_dict())
    data = mesh_data(4)
    with torch.no_grad():
        sub = old(data)  # training mode: the 12-node subsample
        ref = whole(data)  # training mode, no subsample: prepared whole balls
        inf = old.eval()(data)
    assert old.eval().prepare(data).get("gno_edge_index") is None
    assert torch.allclose(inf, ref, atol=1e-5 * float(ref.abs().max()))
    assert not torch.allclose(sub, ref, atol=1e-3 * float(ref.abs().max()))
    with pytest.raises(ModelError, match="not both"):
        build("gno", in_channels=1, out_channels=1, train_neighbors=8, max_num_neighbors=12)


@pytest.mark.parametrize("kernel", ["full", "lowrank", "diagonal"])
def test_inference_blocks_equal_one_block(kernel: str) -> None:
    """Eval-mode forward with a small memory budget (many blocks of targets, the balls
    rebuilt in every layer) equals the forward over one block, on a batch of two graphs."""
    torch.manual_seed(3)
    model = GNO(2, 2, width=8, depth=3, radius=0.3, kernel=kernel, kernel_hidden=16).eval()
    batch = Batch.from_data_list([mesh_data(4, f_in=2, seed=1), mesh_data(3, f_in=2, seed=2)])
    with torch.no_grad():
        one = model(batch)
        model.inference_chunk_bytes = 100_000
        plan, edges = model._plan(batch)
        many = model(batch)
    assert len(plan) >= 10 and edges > 15_000
    assert torch.allclose(many, one, atol=1e-5 * float(one.abs().max()))


@pytest.mark.parametrize("normalization", ["mean", "integral"])
def test_kernel_integral_converges_under_refinement(normalization: str) -> None:
    """Constant kernel (kappa = identity), f = 1 + cos(2x + 3y) / 2, radius 0.25: the
    inference quadrature of the kernel-integral layer against the closed form
    int_{B_r(c)} cos(k.x) dx = cos(k.c) 2 pi r J1(|k| r) / |k| (mean: divided by pi r^2),
    at the 81 vertices of the h = 1/16 mesh in [0.25, 0.75]^2 (balls inside the square),
    on the nested meshes h = 1/16 .. 1/128 (289 .. 16641 nodes).

    Measured max relative errors: mean 4.5e-3, 1.6e-3, 5.4e-4, 1.4e-4 (rate 1.7);
    integral 4.9e-2, 2.6e-2, 1.0e-2, 2.8e-3 (rate 1.4).
    """
    from scipy.special import j1

    r, kx, ky = 0.25, 2.0, 3.0
    rho = math.hypot(kx, ky)
    model = GNO(1, 1, width=2, depth=1, radius=r, kernel="diagonal", kernel_hidden=4,
                normalization=normalization).eval()
    with torch.no_grad():  # kappa(e) = last(z) = 0 z + 1
        model.kernels[0].last.weight.zero_()
        model.kernels[0].last.bias.fill_(1.0)
    coarse = mesh_data(4).pos.double().numpy()
    targets = np.flatnonzero(np.all((coarse >= 0.25 - 1e-9) & (coarse <= 0.75 + 1e-9), axis=1))
    c = coarse[targets]
    exact = math.pi * r**2 + 0.5 * np.cos(kx * c[:, 0] + ky * c[:, 1]) * 2 * math.pi * r * (
        j1(rho * r) / rho)
    if normalization == "mean":
        exact = exact / (math.pi * r**2)
    errors = []
    for k in range(4, 8):
        data = mesh_data(k, f_in=1)
        p = data.pos.double().numpy()
        assert np.allclose(p[targets], c, atol=1e-6)  # nested: the same points
        f = 1.0 + 0.5 * np.cos(kx * p[:, 0] + ky * p[:, 1])
        v = torch.tensor(f, dtype=torch.float32)[:, None].repeat(1, 2)
        with torch.no_grad():
            got = model.kernel_integral(data, v, targets=torch.from_numpy(targets))
        assert torch.equal(got[:, 0], got[:, 1])
        errors.append(float(np.abs(got[:, 0].double().numpy() - exact).max() / exact.max()))
    rate = np.polyfit(np.log(0.5 ** np.arange(4, 8)), np.log(errors), 1)[0]
    assert all(b < a for a, b in zip(errors, errors[1:], strict=False)), errors
    assert rate > 1.0, (rate, errors)
    assert errors[-1] < 1e-2, errors


def test_bad_arguments() -> None:
    with pytest.raises(ModelError, match="unknown kernel 'big'; expected one of: full, lowrank"):
        build("gno", in_channels=1, out_channels=1, kernel="big")
    with pytest.raises(ModelError, match="expected kernel_channels in"):
        build("gno", in_channels=1, out_channels=1, kernel_channels=[3])
    m = build("gno", in_channels=2, out_channels=1, kernel_channels=[1], width=4)
    again = build("gno", **m.config())
    again.load_state_dict(m.state_dict())
    data = mesh_data(2, f_in=2)
    with torch.no_grad():
        assert torch.equal(m(data), again(data))

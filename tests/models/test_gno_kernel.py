"""Kernel network (split first layer) and the ball integral against direct formulas."""

import pytest
import torch
from torch_geometric.data import Batch, Data

from gnnops.errors import ModelError
from gnnops.models.gno_kernel import KernelNet, ball_integral, graph_ranges


@pytest.mark.parametrize("kernel", ["full", "lowrank", "diagonal"])
def test_ball_integral_equals_direct_sum(kernel: str) -> None:
    torch.manual_seed(0)
    w, rank, hid, n, e, n_t = 6, 3, 10, 40, 300, 7
    k_out = {"full": w * w, "lowrank": 2 * w * rank, "diagonal": w}[kernel]
    net = KernelNet(4, 3, hid, k_out, 2)
    f, g = torch.randn(n, 4), torch.randn(e, 3)
    src, loc = torch.randint(0, n, (e,)), torch.randint(0, n_t, (e,))
    dst = loc + 5  # node ids of the targets (any)
    coef, v = torch.rand(e), torch.randn(n, w)
    with torch.no_grad():
        kappa = net(f, g, src, dst)  # [E, k_out], the kernel edge by edge
    want = torch.zeros(n_t, w)
    for j in range(e):  # edge by edge: kappa as a matrix [w, w]
        if kernel == "full":
            mat = kappa[j].view(w, w)
        elif kernel == "diagonal":
            mat = torch.diag(kappa[j])
        else:
            phi, psi = kappa[j].view(2, w, rank)
            mat = phi @ psi.t() / rank
        want[loc[j]] += coef[j] * (mat @ v[src[j]])
    # the split first layer equals the MLP on the concatenated features
    full = torch.cat([f[dst], f[src], g], 1) @ torch.cat(
        [net.lin_i.weight, net.lin_j.weight, net.lin_g.weight], 1).t() + net.lin_i.bias
    with torch.no_grad():
        assert torch.allclose(kappa, net.rest(full), atol=1e-5)
    got = ball_integral(kernel, kappa, v, src, loc, coef, n_t, rank=rank)
    assert torch.allclose(got, want, atol=1e-5 * float(want.abs().max()))


def test_graph_ranges() -> None:
    a, b = Data(num_nodes=3), Data(num_nodes=5)
    assert graph_ranges(a) == [(0, 3)]
    assert graph_ranges(Batch.from_data_list([a, b])) == [(0, 3), (3, 8)]
    bad = Data(num_nodes=3, batch=torch.tensor([1, 0, 1]))
    with pytest.raises(ModelError, match="sorted"):
        graph_ranges(bad)

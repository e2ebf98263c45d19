"""The factored ball integral equals applying the kernel edge by edge."""

import pytest
import torch
from torch_geometric.data import Batch, Data

from gnnops.errors import ModelError
from gnnops.models.gno_kernel import KernelNet, ball_integral, graph_ranges, node_terms
from gnnops.models.mlp import scatter_sum


@pytest.mark.parametrize("kernel", ["full", "lowrank", "diagonal"])
def test_factored_integral_equals_edgewise_kernel(kernel: str) -> None:
    torch.manual_seed(0)
    w, rank, hid, n, e, n_t = 6, 3, 10, 40, 300, 7
    k_out = {"full": w * w, "lowrank": 2 * w * rank, "diagonal": w}[kernel]
    net = KernelNet(4, 3, hid, k_out, 2)
    f, g = torch.randn(n, 4), torch.randn(e, 3)
    src, loc = torch.randint(0, n, (e,)), torch.randint(0, n_t, (e,))
    dst = loc + 5  # node ids of the targets (any)
    coef, v = torch.rand(e), torch.randn(n, w)
    kappa = net(f, g, src, dst)  # [E, k_out], the kernel edge by edge
    if kernel == "full":
        msg = torch.bmm(kappa.view(e, w, w), v[src].unsqueeze(2)).squeeze(2)
    elif kernel == "diagonal":
        msg = kappa * v[src]
    else:
        phi, psi = kappa.view(e, 2, w, rank).unbind(1)
        msg = torch.einsum("ewr,er->ew", phi, torch.einsum("ewr,ew->er", psi, v[src]) / rank)
    want = scatter_sum(msg * coef[:, None], loc, n_t)
    z = net.hidden(*net.node_parts(f), g, src, dst)
    got = ball_integral(kernel, net.last, z, v, src, loc, coef, n_t, rank=rank,
                        terms=node_terms(kernel, net.last, v, rank))
    assert torch.allclose(got, want, atol=1e-5 * float(want.abs().max()))


def test_graph_ranges() -> None:
    a, b = Data(num_nodes=3), Data(num_nodes=5)
    assert graph_ranges(a) == [(0, 3)]
    assert graph_ranges(Batch.from_data_list([a, b])) == [(0, 3), (3, 8)]
    bad = Data(num_nodes=3, batch=torch.tensor([1, 0, 1]))
    with pytest.raises(ModelError, match="sorted"):
        graph_ranges(bad)

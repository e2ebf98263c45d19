"""Transolver (physics attention, quadrature-weighted): batching, chunking, refinement."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch, Data

from gnnops.errors import ModelError
from gnnops.models import build


def grid(n: int, seed: int = 0) -> Data:
    """(n+1)^2 nodes of the unit square with trapezoid (lumped-mass) volumes and smooth x."""
    t = torch.linspace(0, 1, n + 1, dtype=torch.float64)
    X, Y = torch.meshgrid(t, t, indexing="xy")
    pos = torch.stack([X.ravel(), Y.ravel()], 1)
    w1 = torch.full((n + 1,), 1.0 / n, dtype=torch.float64)
    w1[0] = w1[-1] = 0.5 / n
    vol = (w1[None, :] * w1[:, None]).ravel()
    x = torch.stack([torch.sin(3 * pos[:, 0]) * pos[:, 1], torch.cos(2 * pos[:, 1])], 1)
    ei = torch.zeros(2, 0, dtype=torch.long)
    return Data(x=x.float(), pos=pos.float(), node_volume=vol.float(), edge_index=ei)


def model(**kw) -> torch.nn.Module:
    torch.manual_seed(0)
    m = build("transolver", in_channels=2, out_channels=1, edge_dim=0, pos_dim=2,
              width=32, depth=2, heads=4, slices=8, fourier=4, **kw)
    return m.eval()


def test_batched_graphs_attend_separately() -> None:
    m = model()
    a, b = grid(6), grid(9)
    with torch.no_grad():
        both = m(Batch.from_data_list([a, b]))
        ya, yb = m(a), m(b)
    torch.testing.assert_close(both, torch.cat([ya, yb]), atol=1e-5, rtol=1e-5)


def test_chunked_inference_equals_one_pass() -> None:
    g = grid(20)
    with torch.no_grad():
        full = model()(g)
        chunked = model(chunk=37)(g)
    torch.testing.assert_close(chunked, full, atol=1e-5, rtol=1e-5)


def test_permutation_equivariant() -> None:
    g = grid(8)
    perm = torch.randperm(g.num_nodes, generator=torch.Generator().manual_seed(1))
    h = Data(x=g.x[perm], pos=g.pos[perm], node_volume=g.node_volume[perm],
             edge_index=g.edge_index)
    m = model()
    with torch.no_grad():
        torch.testing.assert_close(m(h), m(g)[perm], atol=1e-5, rtol=1e-5)


def test_output_converges_under_refinement() -> None:
    """Nested grids: the coarse nodes are fine nodes; the output there converges (integrals)."""
    m = model()
    diffs = []
    ref = None
    for n in (64, 32, 16, 8):  # finest first: compare each level with the finest on 8x8 nodes
        g = grid(n)
        with torch.no_grad():
            y = m(g).reshape(n + 1, n + 1)[:: n // 8, :: n // 8]
        if ref is None:
            ref = y
        else:
            diffs.append(float((y - ref).abs().max() / ref.abs().max()))
    diffs = diffs[::-1]  # coarsest (8) ... 32
    assert diffs[0] > diffs[1] > diffs[2]
    rate = np.polyfit(np.log([1 / 8, 1 / 16, 1 / 32]), np.log(diffs), 1)[0]
    assert rate > 1.0  # quadrature of smooth integrands: O(h^2) minus the reference's own


def test_unweighted_sum_would_not_converge() -> None:
    """Without volumes a non-uniform refinement changes the tokens: weights matter."""
    g = grid(16)
    m = model()
    skew = g.clone()
    skew.node_volume = g.node_volume * (1 + 3 * (g.pos[:, 0] > 0.5).float())
    with torch.no_grad():
        assert (m(g) - m(skew)).abs().max() > 1e-3


def test_bad_arguments() -> None:
    with pytest.raises(ModelError, match="divisible"):
        build("transolver", in_channels=1, out_channels=1, pos_dim=2, width=30, heads=4)
    with pytest.raises(ModelError, match="out of range"):
        build("transolver", in_channels=1, out_channels=1, pos_dim=2, width=200000, heads=4)
    with pytest.raises(ModelError, match="invalid arguments for model .transolver.*widht"):
        build("transolver", in_channels=1, out_channels=1, pos_dim=2, widht=32)


def test_declares_resolution_independence() -> None:
    from gnnops.inference.trust import resolution_independent

    model = build("transolver", in_channels=1, out_channels=1, pos_dim=2, width=8, heads=2)
    assert resolution_independent(model)

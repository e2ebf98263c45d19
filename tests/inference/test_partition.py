"""Halo'd partitions: exact cover, halo closure, subgraphs equal to the naive construction."""

from __future__ import annotations

import numpy as np
import torch
from inference_fixtures import square_mesh

from gnnops.graphs import from_meshio
from gnnops.inference.partition import Partitioner, partition_nodes, receptive_hops
from gnnops.models import build


def test_cores_cover_once_and_halo_contains_k_hop_neighbourhood():
    g = from_meshio(square_mesh(30))
    pos = g.pos.double().numpy()
    h = 1 / 29
    hops = 3
    parts = partition_nodes(pos, 100, halo=hops * h * np.sqrt(2) * (1 + 1e-9))
    cores = np.concatenate([c for c, _ in parts])
    assert len(parts) == 16  # 900 nodes -> bisected 4 times -> parts of 56-57 nodes
    assert np.array_equal(np.sort(cores), np.arange(900))
    ei = g.edge_index.numpy()
    for core, nodes in parts:
        reach = np.zeros(900, bool)
        reach[core] = True
        for _ in range(hops):  # 3-hop neighbourhood of the core, by graph distance
            reach[ei[0][reach[ei[1]]]] = True
        assert set(np.flatnonzero(reach)) <= set(nodes.tolist())
        assert len(nodes) < 900


def test_subgraph_matches_naive_induced_subgraph():
    g = from_meshio(square_mesh(12))
    g.x = torch.arange(144, dtype=torch.float32)[:, None]
    nodes = np.flatnonzero((g.pos[:, 0] < 0.5).numpy() & (g.pos[:, 1] > 0.3).numpy())
    sub = Partitioner(g).subgraph(nodes)
    keep = torch.zeros(144, dtype=torch.bool)
    keep[torch.from_numpy(nodes)] = True
    ei = g.edge_index
    emask = keep[ei[0]] & keep[ei[1]]
    new = torch.full((144,), -1)
    new[keep] = torch.arange(len(nodes))
    assert torch.equal(sub.edge_index, new[ei[:, emask]])
    assert torch.equal(sub.edge_attr, g.edge_attr[emask])
    assert torch.equal(sub.x[:, 0], torch.from_numpy(nodes).float())
    cmask = keep[g.cell_index].all(0)
    assert torch.equal(sub.cell_index, new[g.cell_index[:, cmask]])
    assert sub.num_nodes == len(nodes) and int(cmask.sum()) > 0


def test_receptive_hops_of_the_models():
    mgn = build("meshgraphnet", in_channels=1, out_channels=1, edge_dim=3, latent=4, depth=7)
    assert receptive_hops(mgn) == 7
    gno = build("gno", in_channels=1, out_channels=1, edge_dim=0, pos_dim=2, width=4, depth=5)
    assert receptive_hops(gno) == 5
    ms = build("multiscale", in_channels=1, out_channels=1, edge_dim=3, pos_dim=2)
    assert receptive_hops(ms) is None  # a hierarchy reaches across the whole mesh


def test_per_axis_halo_from_edge_extent_contains_k_hop_neighbourhood():
    """The box inflated by hops * (longest edge projection per axis) -- h, not sqrt(2) h,
    on a square mesh with diagonals -- still holds every node within `hops` edges."""
    from gnnops.inference.partition import max_edge_extent

    g = from_meshio(square_mesh(30))
    h = 1 / 29
    ext = max_edge_extent(g)
    assert np.allclose(ext, [h, h])  # diagonal edges project to h on each axis
    hops = 3
    parts = partition_nodes(g.pos.double().numpy(), 100, halo=hops * ext * (1 + 1e-9))
    ei = g.edge_index.numpy()
    sizes = []
    for core, nodes in parts:
        reach = np.zeros(900, bool)
        reach[core] = True
        for _ in range(hops):
            reach[ei[0][reach[ei[1]]]] = True
        assert set(np.flatnonzero(reach)) <= set(nodes.tolist())
        sizes.append(len(nodes))
    # a 7 x 8 core plus 3 nodes of halo per side (clipped at the domain boundary)
    assert max(sizes) <= (8 + 2 * hops) * (8 + 2 * hops)

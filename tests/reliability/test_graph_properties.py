"""Property-based tests (hypothesis) of the graph layer.

Random valid meshes (jittered structured grids, random diagonals, random node numbering)
give valid graphs whose counts match closed forms; random byte strings and random
``meshio.Mesh`` objects give either a graph or a GnnopsError, never another exception.
"""

from __future__ import annotations

import warnings

import meshio
import networkx as nx
import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gnnops.errors import GnnopsError
from gnnops.graphs import from_meshio, from_networkx, read_network

FAST = settings(max_examples=25, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def _check_edges(data, n: int) -> set[tuple[int, int]]:
    """Schema invariants of edge_index; returns the undirected edge set."""
    ei = data.edge_index
    assert ei.dtype == torch.long and ei.shape[0] == 2
    assert int(ei.min()) >= 0 and int(ei.max()) < n
    assert not bool((ei[0] == ei[1]).any())  # no self loops
    pairs = list(zip(ei[0].tolist(), ei[1].tolist(), strict=True))
    assert len(set(pairs)) == len(pairs)  # no duplicates
    assert set(pairs) == {(j, i) for i, j in pairs}  # symmetric
    return {(min(p), max(p)) for p in pairs}


@FAST
@given(nx_=st.integers(2, 6), ny_=st.integers(2, 6), seed=st.integers(0, 2**31 - 1))
def test_random_triangle_grid_graph(nx_, ny_, seed) -> None:
    rng = np.random.default_rng(seed)
    h = (1.0 / (nx_ - 1), 1.0 / (ny_ - 1))
    X, Y = np.meshgrid(np.linspace(0, 1, nx_), np.linspace(0, 1, ny_), indexing="ij")
    pts = np.column_stack([X.ravel(), Y.ravel()])
    inner = ((pts > 0) & (pts < 1)).all(axis=1)
    pts[inner] += rng.uniform(-0.2, 0.2, (int(inner.sum()), 2)) * h
    idx = np.arange(nx_ * ny_).reshape(nx_, ny_)
    a, b = idx[:-1, :-1].ravel(), idx[1:, :-1].ravel()
    c, d = idx[1:, 1:].ravel(), idx[:-1, 1:].ravel()
    flip = rng.random(len(a)) < 0.5  # random diagonal per square
    t1 = np.where(flip[:, None], np.column_stack([a, b, c]), np.column_stack([a, b, d]))
    t2 = np.where(flip[:, None], np.column_stack([a, c, d]), np.column_stack([b, c, d]))
    tri = np.concatenate([t1, t2])
    perm = rng.permutation(len(pts))  # random node numbering
    new_pts = np.empty_like(pts)
    new_pts[perm] = pts
    tri = perm[tri]
    g = from_meshio(meshio.Mesh(new_pts, [("triangle", tri)]))
    n = nx_ * ny_
    und = _check_edges(g, n)
    n_edges = (nx_ - 1) * ny_ + nx_ * (ny_ - 1) + (nx_ - 1) * (ny_ - 1)
    assert len(und) == n_edges  # Euler: V - E + F = 1
    assert n - len(und) + len(tri) == 1
    cell_edges = {tuple(sorted(e)) for t in tri.tolist() for e in ((t[0], t[1]), (t[1], t[2]),
                                                                 (t[2], t[0]))}
    assert und == cell_edges
    assert int(g.boundary.sum()) == 2 * (nx_ + ny_) - 4
    assert abs(float(g.node_volume.sum()) - 1.0) < 1e-5
    ea = g.edge_attr
    src, dst = g.edge_index
    torch.testing.assert_close(ea[:, :2], g.pos[dst] - g.pos[src])
    torch.testing.assert_close(ea[:, 2], ea[:, :2].norm(dim=1))
    assert g.cell_index.shape == (3, len(tri))


@FAST
@given(dims=st.tuples(st.integers(2, 4), st.integers(2, 4), st.integers(2, 4)),
       seed=st.integers(0, 2**31 - 1))
def test_random_hexahedron_grid_graph(dims, seed) -> None:
    a_, b_, c_ = dims
    rng = np.random.default_rng(seed)
    grids = np.meshgrid(*(np.linspace(0, 1, k) for k in dims), indexing="ij")
    pts = np.column_stack([g.ravel() for g in grids])
    idx = np.arange(a_ * b_ * c_).reshape(dims)
    i, j, k = (s.ravel() for s in np.meshgrid(*(np.arange(m - 1) for m in dims), indexing="ij"))
    hexes = np.column_stack([idx[i, j, k], idx[i + 1, j, k], idx[i + 1, j + 1, k],
                             idx[i, j + 1, k], idx[i, j, k + 1], idx[i + 1, j, k + 1],
                             idx[i + 1, j + 1, k + 1], idx[i, j + 1, k + 1]])
    perm = rng.permutation(len(pts))
    new_pts = np.empty_like(pts)
    new_pts[perm] = pts
    g = from_meshio(meshio.Mesh(new_pts, [("hexahedron", perm[hexes])]))
    n = a_ * b_ * c_
    und = _check_edges(g, n)
    assert len(und) == (a_ - 1) * b_ * c_ + a_ * (b_ - 1) * c_ + a_ * b_ * (c_ - 1)
    assert int(g.boundary.sum()) == n - (a_ - 2) * (b_ - 2) * (c_ - 2)
    assert abs(float(g.node_volume.sum()) - 1.0) < 1e-5
    assert g.pos.shape == (n, 3) and g.edge_attr.shape == (2 * len(und), 4)


@FAST
@given(n=st.integers(1, 12), p=st.floats(0.0, 1.0), seed=st.integers(0, 2**31 - 1),
       directed=st.booleans())
def test_random_networks_give_valid_graphs(n, p, seed, directed) -> None:
    G = nx.gnp_random_graph(n, p, seed=seed, directed=directed)
    G.add_edges_from([(0, 0)])  # a self loop: dropped by the schema
    g = from_networkx(G)
    ei = g.edge_index
    assert not bool((ei[0] == ei[1]).any())
    pairs = set(zip(ei[0].tolist(), ei[1].tolist(), strict=True))
    assert len(pairs) == ei.shape[1]
    want = {(u, v) for u, v in G.edges() if u != v}
    if not directed:
        want |= {(v, u) for u, v in want}
    assert pairs == want
    assert g.num_nodes == n and g.edge_weight.shape == (ei.shape[1],)


MESH_EXTS = [".vtu", ".vtk", ".msh", ".xdmf", ".mesh", ".off", ".ply", ".obj", ".stl"]
NET_EXTS = [".graphml", ".gml", ".json", ".edgelist", ".csv"]


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=400), ext=st.sampled_from(MESH_EXTS + NET_EXTS),
       header=st.sampled_from([b"", b"<?xml version='1.0'?>\n<VTKFile type='Unstructured"
                               b"Grid'>", b"$MeshFormat\n2.2 0 8\n$EndMeshFormat\n$Nodes\n",
                               b"# vtk DataFile Version 4.2\nx\nASCII\n", b"OFF\n3 1 0\n",
                               b"graph [\n node [ id 0 ]\n", b'{"nodes": [{"id": 1}], ',
                               b"MeshVersionFormatted 1\nDimension 3\nVertices\n"]))
def test_random_bytes_give_graph_or_gnnops_error(tmp_path_factory, raw, ext, header) -> None:
    p = tmp_path_factory.mktemp("bytes") / f"f{ext}"
    p.write_bytes(header + raw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if ext in NET_EXTS:
                from_networkx(read_network(p))
            else:
                from_meshio(p)
        except GnnopsError:
            pass


CELL_TYPES = {"line": 2, "triangle": 3, "quad": 4, "tetra": 4, "hexahedron": 8, "wedge": 6,
              "pyramid": 5, "triangle6": 6, "vertex": 1, "polygon": 5}


@st.composite
def meshes(draw) -> meshio.Mesh:
    n = draw(st.integers(0, 12))
    d = draw(st.sampled_from([2, 3]))
    coords = st.floats(-10, 10, allow_nan=False) | st.sampled_from([np.nan, np.inf, 0.0])
    pts = np.array(draw(st.lists(st.lists(coords, min_size=d, max_size=d),
                                 min_size=n, max_size=n)), dtype=float).reshape(n, d)
    blocks = []
    for _ in range(draw(st.integers(0, 3))):
        ctype = draw(st.sampled_from(sorted(CELL_TYPES)))
        k = CELL_TYPES[ctype]
        c = draw(st.integers(0, 4))
        cells = np.array(draw(st.lists(st.integers(-2, n + 2), min_size=c * k,
                                       max_size=c * k)), dtype=np.int64).reshape(c, k)
        blocks.append((ctype, cells))
    m = meshio.Mesh(pts, blocks)
    if draw(st.booleans()) and n:
        m.point_data["a"] = np.array(draw(st.lists(coords, min_size=1, max_size=n + 1)))
    return m


@settings(max_examples=80, deadline=None, database=None)
@given(mesh=meshes())
def test_random_meshio_objects_give_graph_or_gnnops_error(mesh) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            g = from_meshio(mesh, inputs=["a"] if "a" in mesh.point_data else ())
        except GnnopsError:
            return
    n = len(mesh.points)
    _check_edges(g, n)
    assert bool(torch.isfinite(g.pos).all()) and bool(torch.isfinite(g.node_volume).all())
    assert bool((g.node_volume >= 0).all())

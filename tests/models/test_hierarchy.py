"""Physical-unit hierarchies: voxel subsampling counts, nesting, interpolation weights."""

import numpy as np
from skfem import MeshTri

from gnnops.models.hierarchy import build_hierarchy, voxel_subsample


def perturbed(k: int, seed: int = 0) -> np.ndarray:
    """Nodes of MeshTri().refined(k), interior nodes jittered by 0.3 h (unstructured-ish)."""
    p = MeshTri().refined(k).p.T.copy()
    h = 0.5**k
    inner = np.all((p > 1e-9) & (p < 1 - 1e-9), axis=1)
    p[inner] += np.random.default_rng(seed).uniform(-0.3 * h, 0.3 * h, (inner.sum(), 2))
    return p


def test_voxel_subsample_hand_count() -> None:
    # 4 x 4 grid of points in [0, 3]^2, cell 2 -> 2 x 2 voxels, one point each
    g = np.stack(np.meshgrid(np.arange(4.0), np.arange(4.0), indexing="ij"), -1).reshape(-1, 2)
    keep = voxel_subsample(g, 2.0, np.zeros(2), np.full(2, 3.0))
    assert len(keep) == 4
    # voxel [0,2)^2 has centre (1, 1): the point (1, 1) = index 5 is kept
    assert 5 in keep.tolist()


def test_coarse_levels_are_physical() -> None:
    """A mesh and its refinement (4x the nodes) get the same coarse level sizes."""
    kw = dict(levels=3, base_cell=1 / 8, radius_factor=2.0, k_up=3)
    sizes = {}
    for k in (4, 5):
        h = build_hierarchy(perturbed(k), **kw)
        sizes[k] = [len(h[f"ms{lvl}_node_index"]) for lvl in (1, 2, 3)]
    assert sizes[4] == [64, 16, 4]  # (1 / h_l)^2 occupied voxels
    assert sizes[5] == sizes[4]


def test_levels_nested_and_weights() -> None:
    p = perturbed(4)
    h = build_hierarchy(p, levels=2, base_cell=1 / 4, radius_factor=2.0, k_up=3)
    n1, n2 = h["ms1_node_index"], h["ms2_node_index"]
    assert set(n2.tolist()) <= set(n1.tolist())
    for lvl, fine_n in ((1, len(p)), (2, len(n1))):
        cw = h[f"ms{lvl}_cross_weight"].reshape(fine_n, 3)
        assert np.allclose(cw.sum(1), 1.0, atol=1e-6)
        # every coarse node is its own nearest coarse node and dominates its weights
        cross = h[f"ms{lvl}_cross_index"].reshape(2, fine_n, 3)
        own = cross[0, :, 0] == cross[1, :, 0]
        assert own.sum() == len(h[f"ms{lvl}_node_index"])
        assert np.all(cw[own, 0] > 0.8)
    # level-1 radius graph: cells of 1/4, radius 1/2: symmetric, no self loops
    ei = h["ms1_edge_index"]
    pairs = set(zip(ei[0].tolist(), ei[1].tolist(), strict=True))
    assert all((t, s) in pairs for s, t in pairs) and all(s != t for s, t in pairs)
    d = np.linalg.norm(p[ei[1]] - p[ei[0]], axis=1)
    assert d.max() <= 0.5 + 1e-12
    assert np.allclose(h["ms1_edge_attr"][:, 2], d / 0.25, atol=1e-5)

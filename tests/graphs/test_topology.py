"""row_keys (encoded and lexsort paths), edges, boundary and volumes on block arrays."""

from __future__ import annotations

import numpy as np

from gnnops.graphs.cells import CELLS
from gnnops.graphs.topology import boundary_mask, mesh_edges, node_volume, row_keys


def test_row_keys_both_paths_agree() -> None:
    rng = np.random.default_rng(0)
    rows = rng.integers(0, 5, size=(200, 4))
    encoded = row_keys(rows, 5)  # 5**4 fits
    ranked = row_keys(rows, 2**20)  # (2**20)**4 does not: lexsort ranks
    same_enc = encoded[:, None] == encoded[None, :]
    same_rank = ranked[:, None] == ranked[None, :]
    truth = np.all(rows[:, None, :] == rows[None, :, :], axis=2)
    assert np.array_equal(same_enc, truth) and np.array_equal(same_rank, truth)
    assert ranked.max() + 1 == len(np.unique(rows, axis=0))


def test_two_hexes_large_index_space() -> None:
    # 2 hexes sharing a face, with N so large that quad facets take the lexsort path
    hexes = np.array([[0, 1, 2, 3, 4, 5, 6, 7], [4, 5, 6, 7, 8, 9, 10, 11]])
    big = 10**6
    blocks = [(CELLS["hexahedron"], hexes)]
    mask = boundary_mask(blocks, big)
    assert mask[:12].all() and not mask[12:].any()
    assert mesh_edges(blocks, big).shape[1] == 2 * (12 + 12 - 4)
    # a tet hanging off a face of a wedge: 3-corner and 4-corner facets mixed
    blocks = [(CELLS["wedge"], np.array([[0, 1, 2, 3, 4, 5]])),
              (CELLS["tetra"], np.array([[3, 4, 5, 6]]))]
    assert boundary_mask(blocks, 7).sum() == 7
    pts = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [0, 1, 1],
                    [0, 0, 4.0]])
    vol = node_volume(pts, blocks, 7)
    assert np.isclose(vol.sum(), 0.5 + 0.5 * 3 / 3)
    np.testing.assert_allclose(vol[6], 0.5 / 4)


def test_degenerate_cell_gives_no_self_loop() -> None:
    # a quad with a repeated node (collapsed to a triangle): 3 edges, not 4 with a loop
    edges = mesh_edges([(CELLS["quad"], np.array([[0, 1, 2, 2]]))], 3)
    assert edges.tolist() == [[0, 0, 1, 1, 2, 2], [1, 2, 0, 2, 0, 1]]

"""radius_graph against brute-force distances."""

import numpy as np
import pytest
import torch

from gnnops.errors import GraphError
from gnnops.graphs.radius import ball_chunks, keep_nearest, radius_graph


def brute(pos: np.ndarray, r: float, batch: np.ndarray, loop: bool) -> set[tuple[int, int]]:
    d = np.linalg.norm(pos[:, None] - pos[None], axis=2)
    ok = (d <= r) & (batch[:, None] == batch[None])
    if not loop:
        np.fill_diagonal(ok, False)
    j, i = np.nonzero(ok)
    return set(zip(j.tolist(), i.tolist(), strict=True))


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("loop", [False, True])
def test_matches_brute_force(dim: int, loop: bool) -> None:
    rng = np.random.default_rng(dim)
    pos = rng.random((300, dim))
    batch = np.repeat([0, 1, 2], [100, 120, 80])
    r = 0.2
    ei = radius_graph(torch.tensor(pos, dtype=torch.float64), r,
                      batch=torch.tensor(batch), loop=loop)
    got = set(zip(ei[0].tolist(), ei[1].tolist(), strict=True))
    want = brute(pos, r, batch, loop)
    assert len(want) > 300  # a non-trivial graph
    assert got == want
    assert ei.shape[1] == len(want)  # no duplicates
    # sorted by target, then source
    key = ei[1] * 1000 + ei[0]
    assert bool((key[1:] > key[:-1]).all())


def test_single_graph_symmetric_counts() -> None:
    # 3 x 3 grid, spacing 1: r = 1 gives the 12 grid edges, both directions
    g = np.stack(np.meshgrid(np.arange(3.0), np.arange(3.0)), -1).reshape(-1, 2)
    ei = radius_graph(torch.tensor(g), 1.0)
    assert ei.shape == (2, 24)
    ei = radius_graph(torch.tensor(g), 1.5)  # + 8 diagonals
    assert ei.shape == (2, 40)


def test_max_num_neighbors_keeps_nearest() -> None:
    rng = np.random.default_rng(5)
    pos = rng.random((80, 2))
    ei = radius_graph(torch.tensor(pos), 0.5, max_num_neighbors=4)
    d = np.linalg.norm(pos[:, None] - pos[None], axis=2)
    np.fill_diagonal(d, np.inf)
    for i in (0, 17, 42):
        src = ei[0][ei[1] == i].numpy()
        cand = np.nonzero(d[i] <= 0.5)[0]
        want = cand[np.argsort(d[i, cand], kind="stable")][:4]
        assert sorted(src.tolist()) == sorted(want.tolist())
    assert int(torch.bincount(ei[1]).max()) == 4


def _all_pairs(pos: np.ndarray, r: float, loop: bool) -> np.ndarray:
    """Brute force [2, E] (squared distances <= r^2), sorted by target then source."""
    diff = pos[:, None] - pos[None]
    ok = (diff * diff).sum(2) <= r * r
    if not loop:
        np.fill_diagonal(ok, False)
    i, j = np.nonzero(ok)  # row-major: target i, then source j ascending
    return np.stack([j, i])


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("loop", [False, True])
def test_edge_arrays_equal_brute_force_with_and_without_cap(dim: int, loop: bool) -> None:
    """The bounded queries give exactly the brute-force edge list (and order); with a cap,
    exactly what keeping the nearest of all pairs gives (distance, then index)."""
    rng = np.random.default_rng(10 + dim)
    pos = rng.random((500, dim))
    for r in (0.1, 0.3):
        want = _all_pairs(pos, r, loop)
        got = radius_graph(torch.tensor(pos), r, loop=loop).numpy()
        assert want.shape[1] > 900 and np.array_equal(got, want)
        for k in (1, 5, 24):
            ref = keep_nearest(torch.from_numpy(want), torch.tensor(pos), k).numpy()
            got = radius_graph(torch.tensor(pos), r, loop=loop, max_num_neighbors=k).numpy()
            assert np.array_equal(got, ref)
        blocks = list(ball_chunks(pos, r, max_edges=want.shape[1] // 6, loop=loop))
        assert len(blocks) > 3
        src = np.concatenate([b[1] for b in blocks])
        dst = np.concatenate([b[2] for b in blocks])
        order = np.argsort(dst, kind="stable")
        assert np.array_equal(np.stack([src[order], dst[order]]), want)


def test_cap_with_distance_ties_on_a_lattice() -> None:
    """Many equal distances on a grid: the cut at the k-th neighbour breaks ties by index,
    exactly as sorting all pairs does (the bounded query re-asks with more candidates)."""
    g = np.stack(np.meshgrid(np.arange(12.0), np.arange(12.0)), -1).reshape(-1, 2)
    want = _all_pairs(g, 2.5, loop=False)
    for k in (1, 3, 5, 8, 9, 12, 20):
        ref = keep_nearest(torch.from_numpy(want), torch.tensor(g), k).numpy()
        assert np.array_equal(radius_graph(torch.tensor(g), 2.5, max_num_neighbors=k).numpy(),
                              ref)


def test_interleaved_batch_with_cap() -> None:
    rng = np.random.default_rng(3)
    pos = rng.random((200, 2))
    batch = rng.integers(0, 3, 200)
    ei = radius_graph(torch.tensor(pos), 0.3, batch=torch.tensor(batch), max_num_neighbors=6)
    for b in range(3):
        idx = np.flatnonzero(batch == b)
        sub = radius_graph(torch.tensor(pos[idx]), 0.3, max_num_neighbors=6).numpy()
        mine = ei.numpy()[:, np.isin(ei[1].numpy(), idx)]
        assert np.array_equal(mine, idx[sub])


def test_errors() -> None:
    with pytest.raises(GraphError, match=r"expected pos of shape \[N, d\]"):
        radius_graph(torch.zeros(5), 0.1)
    with pytest.raises(GraphError, match="positive radius"):
        radius_graph(torch.zeros(5, 2), 0.0)
    with pytest.raises(GraphError, match=r"expected batch of shape \[5\]"):
        radius_graph(torch.zeros(5, 2), 0.1, batch=torch.zeros(4, dtype=torch.long))

"""radius_graph against brute-force distances."""

import numpy as np
import pytest
import torch

from gnnops.errors import GraphError
from gnnops.graphs.radius import radius_graph


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


def test_errors() -> None:
    with pytest.raises(GraphError, match=r"expected pos of shape \[N, d\]"):
        radius_graph(torch.zeros(5), 0.1)
    with pytest.raises(GraphError, match="positive radius"):
        radius_graph(torch.zeros(5, 2), 0.0)
    with pytest.raises(GraphError, match=r"expected batch of shape \[5\]"):
        radius_graph(torch.zeros(5, 2), 0.1, batch=torch.zeros(4, dtype=torch.long))

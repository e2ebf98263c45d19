"""Sorted (CSR) aggregation: sums and gradients equal index_add_ on hand-made edge lists."""

import torch

from gnnops.models.scatter import SortedEdges, segment_sum


def test_segment_sum_matches_hand_sums_and_gradient() -> None:
    src = torch.tensor([0, 1, 2, 0, 3, 1])
    dst = torch.tensor([2, 0, 0, 3, 2, 2])  # node 1 receives nothing
    edges = SortedEdges(src, dst, 4)
    assert edges.dst.tolist() == [0, 0, 2, 2, 2, 3]
    assert edges.src.tolist() == [1, 2, 0, 3, 1, 0]  # stable: original order kept per target
    assert edges.lengths.tolist() == [2, 0, 3, 1]
    vals = torch.tensor([[1.0], [2.0], [3.0], [4.0], [5.0], [6.0]], requires_grad=True)
    out = segment_sum(edges.permute(vals), edges)
    # node 0: edges 1, 2 -> 2 + 3; node 2: edges 0, 4, 5 -> 1 + 5 + 6; node 3: edge 3 -> 4
    assert out.flatten().tolist() == [5.0, 0.0, 12.0, 4.0]
    (out.flatten() * torch.tensor([1.0, 10.0, 100.0, 1000.0])).sum().backward()
    # d/d vals_k = weight of its target
    assert vals.grad.flatten().tolist() == [100.0, 1.0, 1.0, 1000.0, 100.0, 100.0]


def test_already_sorted_edges_are_not_permuted_and_bf16_works() -> None:
    dst = torch.tensor([0, 0, 1, 3])
    edges = SortedEdges(torch.tensor([1, 2, 0, 0]), dst, 4)
    assert edges.perm is None
    vals = torch.arange(8, dtype=torch.bfloat16).reshape(4, 2)
    out = segment_sum(vals, edges)
    assert out.dtype == torch.bfloat16
    assert out.float().tolist() == [[2.0, 4.0], [4.0, 5.0], [0.0, 0.0], [6.0, 7.0]]

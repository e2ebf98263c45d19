"""Sorted (CSR) aggregation: sums and gradients equal index_add_ on hand-made edge lists."""

import torch

from gnnops.models.scatter import SortedEdges, range_sum, segment_sum


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


def test_range_sum_sums_a_chunk_into_its_target_range() -> None:
    # a chunk of target-sorted edges into nodes 3..7 (4 and 6 receive nothing)
    targets = torch.tensor([3, 3, 5, 5, 5, 7])
    rows = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0], [9.0, 10.0],
                         [11.0, 12.0]])
    want = [[4.0, 6.0], [0.0, 0.0], [21.0, 24.0], [0.0, 0.0], [11.0, 12.0]]
    assert range_sum(rows, targets, 3, 8).tolist() == want  # CSR product (CPU float32)
    assert range_sum(rows.double(), targets, 3, 8).tolist() == want
    assert range_sum(rows.long(), targets, 3, 8).tolist() == want  # index_add_ path
    # a range longer than the last target: trailing zero rows
    assert range_sum(rows, targets, 3, 10).tolist() == want + [[0.0, 0.0]] * 2
    g = torch.Generator().manual_seed(1)
    t = torch.sort(torch.randint(20, 60, (3000,), generator=g)).values
    r = torch.randn(3000, 16, generator=g)
    ref = torch.zeros(45, 16).index_add_(0, t - 20, r)
    assert torch.allclose(range_sum(r, t, 20, 65), ref, atol=1e-5)


def _random_edges(n: int = 300, e: int = 2000, n_src: int | None = None, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(0, n_src or n, (e,), generator=g)
    dst = torch.randint(0, n, (e,), generator=g)
    return SortedEdges(src, dst, n), g


def test_the_csr_product_path_is_taken_and_equals_index_add_with_its_gradient() -> None:
    import gnnops.models.scatter as S

    for dtype, tol in ((torch.float32, 1e-5), (torch.float64, 1e-12)):
        edges, g = _random_edges()
        assert S._csr_ok(torch.zeros(3, dtype=dtype))
        vals = torch.randn(edges.src.numel(), 3, 5, dtype=dtype, generator=g, requires_grad=True)
        out = segment_sum(vals, edges)
        ref_vals = vals.detach().clone().requires_grad_(True)
        ref = torch.zeros(300, 3, 5, dtype=dtype).index_add(0, edges.dst, ref_vals)
        assert out.shape == ref.shape and torch.allclose(out, ref, atol=tol, rtol=tol)
        w = torch.randn(300, 3, 5, dtype=dtype, generator=g)
        (out * w).sum().backward()
        (ref * w).sum().backward()
        assert torch.equal(vals.grad, ref_vals.grad)  # both are the gather w[dst]
    # an empty edge list and integers keep the index_add_ path
    empty = SortedEdges(torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long), 4)
    assert segment_sum(torch.zeros(0, 2), empty).tolist() == [[0.0, 0.0]] * 4
    assert segment_sum(torch.ones(2000, 1, dtype=torch.long), edges).sum().item() == 2000


def test_the_csr_sum_does_not_depend_on_the_thread_count() -> None:
    edges, g = _random_edges(n=5000, e=40000)
    vals = torch.randn(40000, 64, generator=g)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = segment_sum(vals, edges)
        torch.set_num_threads(2)
        two = segment_sum(vals, edges)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(one, two)


def test_gather_equals_index_select_and_its_backward_is_the_same_sum() -> None:
    from gnnops.models.scatter import gather

    for end, n_src in (("src", 170), ("dst", None)):  # sources from another node set
        edges, g = _random_edges(n_src=n_src)
        rows = n_src or 300
        x = torch.randn(rows, 7, generator=g, dtype=torch.float64, requires_grad=True)
        xr = x.detach().clone().requires_grad_(True)
        idx = edges.src if end == "src" else edges.dst
        out, ref = gather(x, edges, end), xr.index_select(0, idx)
        assert torch.equal(out, ref)
        w = torch.randn(out.shape, generator=g, dtype=torch.float64)
        (out * w).sum().backward()
        (ref * w).sum().backward()
        assert torch.allclose(x.grad, xr.grad, atol=1e-12, rtol=1e-12)
    with torch.no_grad():
        assert torch.equal(gather(x, edges, "dst"), x.index_select(0, edges.dst))
    try:
        gather(x, edges, "both")
    except ValueError as exc:
        assert "'src' or 'dst'" in str(exc)
    else:
        raise AssertionError("expected a ValueError")


def test_bf16_sums_and_gather_gradients_are_summed_in_float32() -> None:
    from gnnops.models.scatter import gather

    edges, g = _random_edges()
    vals = torch.randn(edges.src.numel(), 4, generator=g)
    out = segment_sum(vals.bfloat16(), edges)
    exact = segment_sum(vals.bfloat16().float(), edges)
    assert out.dtype == torch.bfloat16 and torch.equal(out, exact.bfloat16())  # one rounding
    x = torch.randn(300, 4, generator=g).bfloat16().requires_grad_(True)
    up = torch.randn(edges.src.numel(), 4, generator=g).bfloat16()
    (gather(x, edges, "src").float() * up.float()).sum().backward()
    ref = torch.zeros(300, 4).index_add_(0, edges.src, up.float())
    assert x.grad.dtype == torch.bfloat16 and torch.equal(x.grad, ref.bfloat16())


def test_under_bf16_autocast_the_csr_paths_run_and_keep_bf16() -> None:
    from gnnops.models.scatter import gather

    edges, g = _random_edges()
    x = torch.randn(300, 4, generator=g, requires_grad=True)
    lin = torch.nn.Linear(4, 4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        h = lin(gather(x, edges, "src"))  # bf16 rows
        out = segment_sum(h, edges)
    assert h.dtype == out.dtype == torch.bfloat16
    out.float().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()

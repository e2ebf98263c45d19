"""gnnops.models.fused: oneDNN's Linear (+ ReLU) equals F.linear (+ relu) in value and gradient."""

import pytest
import torch
import torch.nn.functional as F

import gnnops.models.fused as FU

needs_fused = pytest.mark.skipif(not FU.fused_available(), reason="no oneDNN linear here")


@needs_fused
@pytest.mark.parametrize("relu", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_fused_linear_equals_the_unfused_ops_and_their_gradients(relu: bool, bias: bool) -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(FU.MIN_ROWS + 37, 24, generator=g, requires_grad=True)
    w = torch.randn(16, 24, generator=g, requires_grad=True)
    b = torch.randn(16, generator=g, requires_grad=True) if bias else None
    leaves = [t for t in (x, w, b) if t is not None]
    refs = [t.detach().clone().requires_grad_(True) for t in leaves]
    xr, wr, br = refs[0], refs[1], refs[2] if bias else None
    fn = FU.linear_relu if relu else FU.linear
    out = fn(x, w, b)
    ref = F.linear(xr, wr, br)
    ref = torch.relu(ref) if relu else ref
    assert out.grad_fn is not None and "_Linear" in type(out.grad_fn).__name__  # fused path
    assert torch.allclose(out, ref, atol=1e-5, rtol=1e-5)
    if relu:
        assert (out == 0).float().mean() > 0.3  # the mask matters in this test
    up = torch.randn(out.shape, generator=g)
    (out * up).sum().backward()
    (ref * up).sum().backward()
    for a, r in zip(leaves, refs, strict=True):
        assert torch.allclose(a.grad, r.grad, atol=1e-4, rtol=1e-5)


def test_small_inputs_autocast_and_other_dtypes_take_the_plain_ops() -> None:
    w, b = torch.randn(8, 4), torch.randn(8)
    small = FU.linear_relu(torch.randn(10, 4), w, b)
    assert small.grad_fn is None and (small >= 0).all()
    x = torch.randn(FU.MIN_ROWS, 4, dtype=torch.float64, requires_grad=True)
    out = FU.linear(x, w.double(), b.double())
    assert "_Linear" not in type(out.grad_fn).__name__
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert FU.linear_relu(torch.randn(FU.MIN_ROWS, 4), w, b).dtype == torch.bfloat16


def test_a_strided_weight_takes_the_plain_op() -> None:
    w = torch.randn(16, 48)[:, 8:32]  # a column slice: oneDNN's slow path, not used
    x = torch.randn(FU.MIN_ROWS, 24, requires_grad=True)
    out = FU.linear_relu(x, w, None)
    assert "_Linear" not in type(out.grad_fn).__name__
    assert torch.allclose(out, torch.relu(F.linear(x, w)))
    assert not FU._usable(x, w) and FU._usable(x, w.contiguous()) == FU.fused_available()


def test_where_the_op_is_missing_it_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(*args: object) -> None:
        raise RuntimeError("no such op")

    monkeypatch.setattr(FU, "_available", None)
    monkeypatch.setattr(FU, "_fused", missing)
    assert FU.fused_available() is False
    out = FU.linear_relu(torch.randn(FU.MIN_ROWS, 4), torch.randn(8, 4), torch.randn(8))
    assert out.shape == (FU.MIN_ROWS, 8) and (out >= 0).all()


def test_under_torch_compile_the_plain_ops_are_traced(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inductor fuses Linear + ReLU itself and lowers oneDNN's op only for frozen weights
    (compile_processor() failed with it); the CSR sums fall back to the segmented sum."""
    import gnnops.models.scatter as SC

    x = torch.randn(FU.MIN_ROWS, 4, requires_grad=True)
    w, b = torch.randn(8, 4), torch.randn(8)
    assert FU._usable(x, w) == FU.fused_available() and SC._csr_ok(x)
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: True)
    assert not FU._usable(x, w) and not SC._csr_ok(x)
    assert "_Linear" not in type(FU.linear_relu(x, w, b).grad_fn).__name__


@needs_fused
@pytest.mark.parametrize("onednn", [True, False])
def test_addmm_into_accumulates_in_place_with_autograds_gradients(
        onednn: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(FU, "ONEDNN_INPUT_GRAD", onednn)
    g = torch.Generator().manual_seed(2)
    w = torch.randn(16, 40, generator=g, requires_grad=True)  # b = a slice of it, transposed
    a = torch.randn(FU.MIN_ROWS + 5, 24, generator=g, requires_grad=True)
    base = torch.randn(FU.MIN_ROWS + 5, 16, generator=g, requires_grad=True)
    wr, ar, baser = (t.detach().clone().requires_grad_(True) for t in (w, a, base))
    out0 = base * 2.0  # a non-leaf, as the gathered first-layer products are
    out = FU.addmm_into(out0, a, w[:, :24].t())
    assert out.data_ptr() == out0.data_ptr()  # in place
    assert ("_AddmmInto" in type(out.grad_fn).__name__) == onednn
    ref = torch.addmm(baser * 2.0, ar, wr[:, :24].t())
    assert torch.allclose(out, ref, atol=1e-5, rtol=1e-5)
    up = torch.randn(out.shape, generator=g)
    (out * up).sum().backward()
    (ref * up).sum().backward()
    for t, r in ((w, wr), (a, ar), (base, baser)):
        assert torch.allclose(t.grad, r.grad, atol=1e-4, rtol=1e-5)
    assert (w.grad[:, 24:] == 0).all()


def test_addmm_into_without_autograd_or_with_mixed_dtypes_uses_torchs_ops() -> None:
    out = torch.zeros(FU.MIN_ROWS, 3)
    with torch.no_grad():
        res = FU.addmm_into(out, torch.ones(FU.MIN_ROWS, 2), torch.ones(2, 3))
    assert res.data_ptr() == out.data_ptr() and (out == 2).all()
    # under autocast a bf16 accumulator and fp32 operands: torch.addmm, cast by autocast
    a = torch.ones(FU.MIN_ROWS, 2, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = FU.addmm_into(torch.zeros(FU.MIN_ROWS, 3, dtype=torch.bfloat16), a,
                              torch.ones(2, 3))
    assert mixed.dtype == torch.bfloat16 and (mixed == 2).all()
    assert "_AddmmInto" not in type(mixed.grad_fn).__name__

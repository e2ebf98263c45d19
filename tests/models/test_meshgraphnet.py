"""MeshGraphNet: split first layer == plain version, equivariance, overfit, batching."""

import pytest
import torch
from mesh_fixtures import mesh_data
from torch_geometric.data import Batch, Data

from gnnops.errors import ModelError
from gnnops.models import build
from gnnops.models.meshgraphnet import MeshGraphNet

pytestmark = pytest.mark.usefixtures("one_thread")


def naive_forward(model: MeshGraphNet, data: Data) -> torch.Tensor:
    """Textbook MGN: gather -> MLP(cat[e, x_j, x_i]) -> index_add -> MLP, written out."""
    src, dst = data.edge_index
    x = model.node_encoder(data.x)
    e = model.edge_encoder(data.edge_attr)
    for blk in model.blocks:
        m = blk.edge_mlp(torch.cat([e, x[src], x[dst]], 1))
        agg = torch.zeros_like(x).index_add_(0, dst, m)
        x = x + blk.node_mlp(torch.cat([x, agg], 1))
        e = e + m
    return model.decoder(x)


def test_split_first_layer_equals_plain() -> None:
    torch.manual_seed(0)
    data = mesh_data(3)
    split = MeshGraphNet(2, 3, edge_dim=3, latent=32, depth=4)
    plain = MeshGraphNet(2, 3, edge_dim=3, latent=32, depth=4, split_first_layer=False)
    plain.load_state_dict(split.state_dict())
    with torch.no_grad():
        ys, yp, yn = split(data), plain(data), naive_forward(split, data)
    assert ys.abs().max() > 1e-2
    assert torch.allclose(ys, yn, atol=1e-5, rtol=0)
    assert torch.allclose(yp, yn, atol=1e-5, rtol=0)
    # gradients agree too
    gs = torch.autograd.grad(split(data).square().sum(), list(split.parameters()))
    gp = torch.autograd.grad(plain(data).square().sum(), list(plain.parameters()))
    for a, b in zip(gs, gp, strict=True):
        assert torch.allclose(a, b, atol=1e-4, rtol=1e-4)


def test_permutation_equivariance() -> None:
    torch.manual_seed(1)
    data = mesh_data(3)
    model = MeshGraphNet(2, 2, edge_dim=3, latent=16, depth=3)
    perm = torch.randperm(data.num_nodes)
    inv = torch.argsort(perm)
    pdata = Data(x=data.x[perm], pos=data.pos[perm], edge_index=inv[data.edge_index],
                 edge_attr=data.edge_attr)
    with torch.no_grad():
        y, yp = model(data), model(pdata)
    assert torch.allclose(yp, y[perm], atol=1e-5)
    assert not torch.allclose(yp, y, atol=1e-3)  # the permutation did change the order


def test_overfits_one_graph() -> None:
    torch.manual_seed(2)
    data = mesh_data(2, f_in=1)
    p = data.pos
    data.y = torch.stack([torch.sin(3 * p[:, 0]) * p[:, 1], data.x[:, 0] ** 2], 1)
    model = MeshGraphNet(1, 2, edge_dim=3, latent=16, depth=2)
    opt = torch.optim.Adam(model.parameters(), lr=5e-3, foreach=True)
    losses = []
    for _ in range(300):
        opt.zero_grad()
        loss = (model(data) - data.y).square().mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 100, (losses[0], losses[-1])


def test_batch_equals_separate_and_edge_dim_zero() -> None:
    torch.manual_seed(3)
    a, b = mesh_data(2, seed=1), mesh_data(3, seed=2)
    for edge_dim in (3, 0):
        model = MeshGraphNet(2, 2, edge_dim=edge_dim, latent=16, depth=2)
        with torch.no_grad():
            yb = model(Batch.from_data_list([a, b]))
            ya, yb_ = model(a), model(b)
        assert torch.allclose(yb, torch.cat([ya, yb_]), atol=1e-5)
    # edge_dim=0 computes [pos_i - pos_j, |.|] itself: equal to passing edge_attr explicitly
    m0 = MeshGraphNet(2, 2, edge_dim=0, latent=16, depth=2)
    m3 = MeshGraphNet(2, 2, edge_dim=3, latent=16, depth=2)
    m3.load_state_dict(m0.state_dict())
    with torch.no_grad():
        assert torch.allclose(m0(a), m3(a), atol=1e-6)


def test_rebuild_from_config_and_bad_input() -> None:
    model = build("meshgraphnet", in_channels=2, out_channels=1, edge_dim=3, latent=8, depth=2)
    again = build("meshgraphnet", **model.config())
    again.load_state_dict(model.state_dict())
    data = mesh_data(2)
    with torch.no_grad():
        assert torch.equal(model(data), again(data))
    data.x = torch.zeros(data.num_nodes, 5)
    with pytest.raises(ModelError, match=r"expected data.x of shape \[N, 2\] \(got \[25, 5\]\)"):
        model(data)


def test_inplace_chunked_inference_and_unsorted_aggregation_equal_default() -> None:
    """The bounded-memory inference path (edges in chunks, e updated in place) and the
    unsorted index_add_ aggregation compute the same function as the default forward."""
    torch.manual_seed(0)
    data = mesh_data(3)  # 81 nodes, 416 directed edges
    model = build("meshgraphnet", in_channels=2, out_channels=1, edge_dim=3, latent=16,
                  depth=3)
    ref = model(data).detach()  # autograd on: unchunked path
    with torch.no_grad():
        model.inference_chunk = 50  # 9 chunks, boundaries inside nodes' edge runs
        chunked = model(data)
        model.inference_chunk = 0
        unchunked = model(data)
        model.sorted_aggregation = False
        unsorted = model(data)
    assert torch.allclose(chunked, ref, atol=1e-5)
    assert torch.allclose(unchunked, ref, atol=1e-5)
    assert torch.allclose(unsorted, ref, atol=1e-5)


def test_inference_chunks_are_larger_on_a_gpu() -> None:
    """CPU chunks stay as set (cache-sized); on CUDA they are GPU_CHUNK_FACTOR times larger,
    so a GPU forward is not launch-bound; 0 (no chunking) stays 0 everywhere."""
    from gnnops.models.base import GPU_CHUNK_FACTOR, device_chunk

    assert device_chunk(8192, torch.device("cpu")) == 8192
    assert device_chunk(8192, torch.device("cuda", 0)) == 8192 * GPU_CHUNK_FACTOR
    assert GPU_CHUNK_FACTOR >= 16
    assert device_chunk(0, torch.device("cuda")) == 0
    assert device_chunk(0, torch.device("cpu")) == 0


def test_train_step_through_the_csr_and_fused_kernels_equals_the_plain_ops(monkeypatch) -> None:
    """Loss and every parameter gradient of a MeshGraphNet with the CPU fast paths (CSR sums
    and gather backward, oneDNN Linear + ReLU) equal those with plain torch ops."""
    import gnnops.models.fused as FU
    import gnnops.models.scatter as SC

    torch.manual_seed(0)
    data = mesh_data(5)  # 1,089 nodes: the node MLPs are above FU.MIN_ROWS too
    model = build("meshgraphnet", in_channels=2, out_channels=1, edge_dim=3, latent=32,
                  depth=3)

    def loss_and_grads() -> tuple[float, list[torch.Tensor]]:
        model.zero_grad()
        loss = model(data).square().mean()
        loss.backward()
        return loss.item(), [p.grad.clone() for p in model.parameters()]

    fast = loss_and_grads()
    csr_calls = []
    orig = SC._CsrSum.apply
    monkeypatch.setattr(SC._CsrSum, "apply", lambda *a: csr_calls.append(1) or orig(*a))
    loss_and_grads()
    assert len(csr_calls) == 3  # one sum per block went through the CSR product
    monkeypatch.setattr(SC, "_csr_ok", lambda t: False)
    monkeypatch.setattr(FU, "fused_available", lambda: False)
    plain = loss_and_grads()
    assert fast[0] == pytest.approx(plain[0], rel=1e-5)
    for a, b in zip(fast[1], plain[1], strict=True):
        assert torch.allclose(a, b, atol=1e-5, rtol=1e-4)


def test_a_cpu_bf16_autocast_train_step_runs_and_stays_near_fp32() -> None:
    """bf16 autocast on a CPU: the in-place first-layer GEMM meets fp32 edge latents (after
    LayerNorm) and bf16 node products; it falls back to the autocast addmm."""
    torch.manual_seed(0)
    data = mesh_data(5)
    model = build("meshgraphnet", in_channels=2, out_channels=1, edge_dim=3, latent=32,
                  depth=2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(data)
    out.float().square().mean().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
    with torch.no_grad():
        ref = model(data)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            chunked = model(data)  # inference path under autocast
    assert (out.float() - ref).abs().max() < 0.05 * ref.abs().max() + 1e-3
    assert (chunked.float() - ref).abs().max() < 0.05 * ref.abs().max() + 1e-3

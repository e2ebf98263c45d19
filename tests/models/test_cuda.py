"""Checks that need a CUDA device (skipped without one; run by benchmarks/gpu_check.sh).

The bodies take the device as an argument, so the same checks also run on the CPU
(``chunk_check("cpu", ...)``) when they are edited."""

from __future__ import annotations

import pytest
import torch
from mesh_fixtures import mesh_data

from gnnops.models import build
from gnnops.models.base import device_chunk

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
KW = {"meshgraphnet": {"latent": 32, "depth": 3},
      "multiscale": {"latent": 16, "levels": 2, "base_cell": 1 / 8}}


def chunk_check(device: str, name: str) -> None:
    """The in-place chunked inference on ``device`` (its chunks: ``device_chunk``) computes
    the training forward's function, and the CPU's to float32 round-off."""
    torch.manual_seed(0)
    data = mesh_data(5)
    model = build(name, in_channels=2, out_channels=1, edge_dim=3, **KW[name])
    cpu = model(data).detach()
    model, data = model.to(device), data.to(device)
    ref = model(data).detach()  # autograd on: unchunked
    # >= 3 chunks of the edges on this device
    model.inference_chunk = max(1, data.edge_index.shape[1] * 8192
                                // (3 * device_chunk(8192, torch.device(device))))
    with torch.no_grad():
        chunked = model(data)
    scale = ref.abs().max()
    assert (chunked - ref).abs().max() <= 1e-5 * scale
    assert (ref.cpu() - cpu).abs().max() <= 1e-4 * scale


def bf16_check(device: str) -> None:
    """20 AdamW steps under bf16 autocast on ``device`` halve the loss."""
    torch.manual_seed(0)
    data = mesh_data(5).to(device)
    target = torch.sin(3 * data.pos[:, :1]) * torch.cos(2 * data.pos[:, 1:])
    model = build("meshgraphnet", in_channels=2, out_channels=1, edge_dim=3, latent=32,
                  depth=3).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(20):
        opt.zero_grad()
        with torch.autocast(torch.device(device).type, dtype=torch.bfloat16):
            pred = model(data)
        loss = (pred.float() - target).square().mean()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.5 * losses[0]


@cuda
@pytest.mark.parametrize("name", ["meshgraphnet", "multiscale"])
def test_gpu_inference_chunks_equal_the_training_forward(name):
    chunk_check("cuda", name)


@cuda
def test_bf16_autocast_train_steps_on_cuda():
    bf16_check("cuda")

"""One epoch of training and one pass of validation, identical on 1 or N processes.

Batching is planned per epoch from ``(seed, epoch)``: a permutation of the training
graphs is cut into *global* batches of ``batch_size`` graphs; on ``world`` ranks each
global batch is split into ``world`` nearly equal chunks, one per rank. Each rank's loss
is ``world / B_global * sum_{its graphs} loss_g``, so the gradient DDP averages equals
the single-process gradient of ``1 / B_global * sum_g loss_g`` (the mean over the global
batch) -- the same optimizer steps on any number of processes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch_geometric.data import Batch, Data
from torch_geometric.loader import DataLoader

from gnnops.errors import GnnopsError
from gnnops.surrogate.recipe import Recipe
from gnnops.training.augment import rigid_motion
from gnnops.training.distributed import DistInfo, all_reduce_sum

__all__ = ["TrainingError", "plan_batches", "make_loader", "lr_lambda", "per_graph_mean",
           "batch_loss", "train_epoch", "validate"]


class TrainingError(GnnopsError):
    """Training cannot go on (non-finite loss)."""


def plan_batches(n: int, batch_size: int, *, seed: int, epoch: int, rank: int = 0,
                 world: int = 1, shuffle: bool = True) -> list[tuple[list[int], int]]:
    """This rank's batches for one epoch.

    Returns:
        ``[(indices of this rank's graphs, size of the global batch), ...]``; global
        batches smaller than ``world`` are dropped (a rank would get no graph).
    """
    if shuffle:
        g = torch.Generator().manual_seed(int(seed) * 100_003 + int(epoch))
        order = torch.randperm(n, generator=g).numpy()
    else:
        order = np.arange(n)
    plan = []
    for start in range(0, n, batch_size):
        glob = order[start:start + batch_size]
        if len(glob) < world:
            continue
        chunk = np.array_split(glob, world)[rank]
        plan.append(([int(i) for i in chunk], len(glob)))
    return plan


def make_loader(graphs: Sequence[Data], plan: list[tuple[list[int], int]]) -> DataLoader:
    """A PyG ``DataLoader`` yielding the planned batches in order."""
    return DataLoader(list(graphs), batch_sampler=[idx for idx, _ in plan])


def lr_lambda(*, scheduler: str, epochs: int, steps_per_epoch: int, warmup_epochs: float,
              min_lr_factor: float, step_epochs: int, gamma: float) -> Callable[[int], float]:
    """Multiplicative LR factor per optimizer step: linear warm-up, then the schedule."""
    spe = max(steps_per_epoch, 1)
    total = epochs * spe
    warm = int(round(warmup_epochs * spe))

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        if scheduler == "cosine":
            t = (step - warm) / max(total - warm, 1)
            return min_lr_factor + (1 - min_lr_factor) * 0.5 * (1 + math.cos(math.pi * min(t, 1)))
        if scheduler == "step":
            return gamma ** ((step // spe) // step_epochs)
        return 1.0

    return factor


def per_graph_mean(values: Tensor, batch: Tensor, num_graphs: int) -> Tensor:
    """Mean of per-node ``values: [N]`` within each graph -> [num_graphs]."""
    sums = torch.zeros(num_graphs, dtype=values.dtype, device=values.device)
    sums.index_add_(0, batch, values)
    counts = torch.bincount(batch, minlength=num_graphs).clamp_min(1).to(values.dtype)
    return sums / counts


def per_graph_rel_l2(pred: Tensor, batch: Data) -> Tensor:
    """Volume-weighted relative L2 error per graph of ``pred`` [N, F] against ``batch.y``."""
    y = batch.y.reshape(pred.shape).float()
    w = getattr(batch, "node_volume", None)
    w = torch.ones(pred.shape[0], device=pred.device) if w is None else w.reshape(-1).float()
    num = torch.zeros(batch.num_graphs, device=pred.device)
    den = torch.zeros(batch.num_graphs, device=pred.device)
    num.index_add_(0, batch.batch, w * ((pred - y) ** 2).sum(dim=1))
    den.index_add_(0, batch.batch, w * (y ** 2).sum(dim=1))
    return torch.sqrt(num / den.clamp_min(1e-30) + 1e-12)


def _split_inputs(x: Tensor, recipe: Recipe) -> dict[str, Tensor]:
    out, c = {}, 0
    for name, d in zip(recipe.inputs, recipe.input_dims, strict=True):
        out[name] = x[:, c] if d == 1 else x[:, c:c + d]
        c += d
    return out


def batch_loss(net: nn.Module, surrogate: nn.Module, batch: Data, glob: int, info: DistInfo,
               *, bf16: bool = False, noise_std: float = 0.0, physics_weight: float = 0.0,
               problem: Any = None, loss: str = "mse") -> tuple[Tensor, Tensor]:
    """Loss of one batch: this rank's share of the global-batch mean, plus the physics term.

    Args:
        glob: number of graphs in the global batch (all ranks).

    Returns:
        ``(loss, per-graph data losses [num_graphs])``; the data loss of a graph is, for
        ``loss="mse"``, the mean over its nodes of the squared normalized error (mean over
        output columns); for ``loss="rel_l2"``, the relative L2 error of the graph in
        physical units, ``sqrt(sum_i w_i |u_i - y_i|^2 / sum_i w_i |y_i|^2)`` with the
        node volumes ``w`` (1 on networks): the metric the evaluation reports.
    """
    autocast = torch.autocast(info.device.type, dtype=torch.bfloat16) if bf16 else nullcontext()
    with autocast:
        out = net(batch, normalized=True, input_noise=noise_std)
    if loss == "rel_l2":
        lg = per_graph_rel_l2(surrogate.physical(out.float(), batch), batch)
    else:
        err = surrogate.normalized_error(out, batch) ** 2
        lg = per_graph_mean(err.mean(dim=1), batch.batch, batch.num_graphs)
    total = lg.sum() * (info.world / glob)
    if physics_weight > 0:
        phys = surrogate.physical(out, batch)
        res = problem.residual_torch(batch, phys, **_split_inputs(batch.x, surrogate.recipe))
        total = total + physics_weight * res
    return total, lg


def train_epoch(
    net: nn.Module,
    surrogate: nn.Module,
    loader: DataLoader,
    plan: list[tuple[list[int], int]],
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    info: DistInfo,
    *,
    bf16: bool = False,
    grad_clip: float = 0.0,
    noise_std: float = 0.0,
    physics_weight: float = 0.0,
    problem: Any = None,
    loss: str = "mse",
    augment: bool = False,
    augment_shift: float = 0.0,
    epoch: int = 0,
    progress: Any = None,
) -> float:
    """Train one epoch; returns the mean per-graph data loss over all ranks' graphs.

    Args:
        net: the module called (the Surrogate, or its DDP wrapper).
        surrogate: the unwrapped Surrogate (normalizers, recipe).

    Raises:
        TrainingError: a non-finite loss (parameters are left as before that step).
    """
    net.train()
    total, count = 0.0, 0
    for step, (batch, (_, glob)) in enumerate(zip(loader, plan, strict=True)):
        batch = batch.to(info.device)
        if augment:
            batch = rigid_motion(batch, shift=augment_shift)
        # ``value``, not ``loss``: rebinding ``loss`` (the loss kind) to the tensor made every
        # batch after the first fall back to mse
        value, lg = batch_loss(net, surrogate, batch, glob, info, bf16=bf16,
                               noise_std=noise_std, physics_weight=physics_weight,
                               problem=problem, loss=loss)
        finite = float(torch.isfinite(value.detach()).all())
        if info.world > 1:
            finite = all_reduce_sum([finite], info)[0] / info.world
        if finite < 1.0:
            raise TrainingError(f"training diverged at epoch {epoch + 1}, step {step + 1}: "
                                f"the loss is {float(value.detach()):g}; lower optim.lr, set "
                                f"optim.grad_clip or disable train.bf16")
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        if grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(net.parameters(), grad_clip)
        optimizer.step()
        scheduler.step()
        total += float(lg.detach().sum())
        count += batch.num_graphs
        if progress is not None:
            progress.update(1)
            progress.set_postfix(loss=f"{total / max(count, 1):.4g}")
    total, count = all_reduce_sum([total, count], info)
    return total / max(count, 1)


@torch.no_grad()
def validate(surrogate: nn.Module, graphs: Sequence[Data], info: DistInfo, *,
             batch_size: int) -> float:
    """Mean over graphs of the relative L2 error ``||pred - y|| / ||y||`` (physical units).

    Each rank evaluates graphs ``rank, rank + world, ...``; sums are all-reduced. Always
    float32 (no autocast), so the metric does not depend on ``train.bf16``.
    """
    surrogate.eval()
    mine = list(graphs)[info.rank::info.world]
    total = 0.0
    for start in range(0, len(mine), batch_size):
        batch = Batch.from_data_list(mine[start:start + batch_size]).to(info.device)
        pred = surrogate(batch).float()
        y = batch.y.float()
        num = per_graph_mean(((pred - y) ** 2).sum(dim=1), batch.batch, batch.num_graphs)
        den = per_graph_mean((y**2).sum(dim=1), batch.batch, batch.num_graphs)
        total += float((num.sqrt() / den.sqrt().clamp_min(1e-30)).sum())
    total, count = all_reduce_sum([total, len(mine)], info)
    return total / max(count, 1)

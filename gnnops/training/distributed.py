"""Distributed data parallel setup from ``torchrun`` environment variables.

``torchrun --nproc_per_node=N train.py ...`` sets ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``; :func:`setup` joins the
process group (gloo on CPU, NCCL on CUDA). Without them everything is a no-op
with rank 0 of 1.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from gnnops.errors import ConfigError

__all__ = ["DistInfo", "setup", "teardown", "all_reduce_sum", "barrier", "resolve_device"]


@dataclass
class DistInfo:
    """This process's place in the job.

    Attributes:
        rank: global rank; 0 writes every file.
        world: number of processes.
        local_rank: rank on this machine (selects the GPU).
        device: the torch device this process trains on.
        owns_group: whether :func:`setup` created the process group (and tears it down).
    """

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        """Rank 0."""
        return self.rank == 0


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``"auto"`` -> cuda:<local_rank> when available, else cpu.

    Raises:
        ConfigError: ``"cuda"`` requested on a machine without CUDA.
    """
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("config key 'train.device' is 'cuda' but no CUDA device is "
                              "available; use 'auto' or 'cpu'")
        return torch.device("cuda", local_rank % max(torch.cuda.device_count(), 1))
    return torch.device("cpu")


def setup(device: str = "auto") -> DistInfo:
    """Join the process group described by the environment (if any)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", str(rank)))
    dev = resolve_device(device, local_rank)
    if world <= 1:
        return DistInfo(device=dev)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    owns = False
    if not dist.is_initialized():
        backend = "nccl" if dev.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, init_method="env://", rank=rank,
                                world_size=world)
        owns = True
    return DistInfo(rank=rank, world=world, local_rank=local_rank, device=dev, owns_group=owns)


def teardown(info: DistInfo) -> None:
    """Leave the process group if :func:`setup` created it."""
    if info.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(values: list[float], info: DistInfo) -> list[float]:
    """Sum a few floats over all ranks (float64; identity on one process)."""
    if info.world <= 1:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64,
                     device=info.device if info.device.type == "cuda" else "cpu")
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.cpu().tolist()


def barrier(info: DistInfo) -> None:
    """Wait for every rank (no-op on one process)."""
    if info.world > 1:
        dist.barrier()

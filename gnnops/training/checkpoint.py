"""Training checkpoints: written atomically, loaded with ``torch.load(weights_only=True)``.

A checkpoint is a plain dict of tensors and plain Python values: model, optimizer and
scheduler state dicts, the best weights so far, the epoch, early-stopping counters and
every random-number-generator state (torch CPU/CUDA, numpy, python ``random``), so a
resumed run continues bit for bit where the interrupted one stopped.
"""

from __future__ import annotations

import os
import pickle
import random
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gnnops._atomic import atomic_open, clean_stale_temps, storage_error
from gnnops.errors import ArtifactError

__all__ = ["rng_state", "set_rng_state", "save_checkpoint", "load_checkpoint", "seed_everything"]


def seed_everything(seed: int) -> None:
    """Seed python ``random``, numpy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    """Every global RNG state as tensors / plain types (``weights_only``-loadable)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": str(kind), "keys": torch.from_numpy(keys.astype(np.int64)),
                  "pos": int(pos), "has_gauss": int(has_gauss), "cached": float(cached)},
        "python": {"version": int(version), "internal": list(internal),
                   "gauss_next": gauss_next},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the states captured by :func:`rng_state`."""
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"],
                         n["has_gauss"], n["cached"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["internal"]), p["gauss_next"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write ``state`` to ``path`` atomically (temporary file in the same folder, then rename).

    A process killed while saving leaves the previous ``path`` intact (plus a hidden
    ``.<name>.<host>-<pid>-*.tmp`` file, removed by the next save once that process is
    gone; a live writer's temporary is never touched): "latest" is never half-written.

    Raises:
        StorageError: disk full or no permission (the previous checkpoint is intact).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise storage_error(exc, path.parent, "create the folder") from None
    clean_stale_temps(path.parent, prefix=f"{path.name}.")  # left by saves killed mid-write
    with atomic_open(path, "wb", fsync=True) as fh:
        torch.save(state, fh)
    return path


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load a checkpoint without unpickling code.

    Raises:
        ArtifactError: missing, truncated or unsafe file.
    """
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"cannot resume: expected a checkpoint at '{path}' (not found)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, OSError,
            ValueError) as exc:
        raise ArtifactError(f"cannot read checkpoint '{path}' ({' '.join(str(exc).split())})"
                            ) from None
    if not isinstance(state, dict) or "epoch" not in state:
        raise ArtifactError(f"'{path}' is not a gnnops training checkpoint")
    return state

"""Tests of gnnops.training.checkpoint: RNG states, atomic save, safe load."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from gnnops.errors import ArtifactError
from gnnops.training.checkpoint import (
    load_checkpoint,
    rng_state,
    save_checkpoint,
    seed_everything,
    set_rng_state,
)


def _draw():
    return torch.rand(3).tolist(), np.random.rand(3).tolist(), [random.random() for _ in range(3)]


def test_rng_round_trip_through_weights_only_file(tmp_path) -> None:
    seed_everything(5)
    _draw()
    save_checkpoint(tmp_path / "c.pt", {"epoch": 0, "rng": rng_state()})
    expected = _draw()
    seed_everything(99)
    set_rng_state(load_checkpoint(tmp_path / "c.pt")["rng"])
    assert _draw() == expected
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]  # no temporary left behind


def test_load_rejects_missing_foreign_and_pickled(tmp_path) -> None:
    with pytest.raises(ArtifactError, match="not found"):
        load_checkpoint(tmp_path / "none.pt")
    torch.save({"weights": torch.zeros(1)}, tmp_path / "w.pt")
    with pytest.raises(ArtifactError, match="not a gnnops training checkpoint"):
        load_checkpoint(tmp_path / "w.pt")
    torch.save({"epoch": 1, "obj": _Evil()}, tmp_path / "p.pt")
    with pytest.raises(ArtifactError, match="cannot read checkpoint"):
        load_checkpoint(tmp_path / "p.pt")


class _Evil:
    pass

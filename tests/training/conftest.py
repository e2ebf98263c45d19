"""Fixtures for the training tests (helpers in training_fixtures.py)."""

from __future__ import annotations

import pytest
from torch_geometric.data import Data
from training_fixtures import ToyGNN, make_graphs

from gnnops.models import MODELS


@pytest.fixture
def toy_model(monkeypatch: pytest.MonkeyPatch) -> str:
    """Register ToyGNN as model 'toy' for the duration of a test."""
    monkeypatch.setitem(MODELS, "toy", ToyGNN)
    return "toy"


@pytest.fixture
def graphs() -> tuple[list[Data], list[Data]]:
    """(train, val) toy graphs."""
    return make_graphs(8, 0), make_graphs(4, 1)

"""Fixtures of the inference tests (helpers in inference_fixtures.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from inference_fixtures import make_artifact


@pytest.fixture
def artifact(tmp_path: Path) -> Path:
    return make_artifact(tmp_path / "model.pt")

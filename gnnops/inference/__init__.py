"""Prediction with trained artifacts: ``Predictor``, ``Prediction``, batch runs, hybrid solve.

``gnnops.load(path)`` returns a :class:`Predictor`; the ``gnnops predict`` and
``gnnops info`` commands live in :mod:`gnnops.inference.cli` and
:mod:`gnnops.inference.info_cli`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gnnops.inference.batch import BatchResult
    from gnnops.inference.prediction import Prediction
    from gnnops.inference.predictor import Predictor
    from gnnops.inference.refine import Refinement

__all__ = ["Predictor", "Prediction", "BatchResult", "Refinement"]

# name -> module; imported on first use, so the CLI modules of this room (and
# ``gnnops predict --help``) load without torch
_LAZY = {"Predictor": "predictor", "Prediction": "prediction", "BatchResult": "batch",
         "Refinement": "refine"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

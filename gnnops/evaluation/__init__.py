"""Evaluation: relative L2 and physics residuals across resolutions, reports and plots.

- :func:`evaluate` -- resolution sweep of a trained model over a dataset's test splits.
- :func:`write_report` -- ``report.md``, ``report.json`` and PNG plots.
- :func:`relative_l2` -- the metric.
- :func:`gnnops.runs.pipeline.run` -- train -> evaluate -> report.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gnnops.evaluation.metrics import evaluate, relative_l2
    from gnnops.evaluation.report import write_report

__all__ = ["evaluate", "write_report", "relative_l2"]

# name -> module; imported on first use, so ``gnnops evaluate --help`` loads without torch
_LAZY = {"evaluate": "metrics", "relative_l2": "metrics", "write_report": "report"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

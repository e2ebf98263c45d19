"""Evaluation: relative L2 and physics residuals across resolutions, reports and plots.

- :func:`evaluate` -- resolution sweep of a trained model over a dataset's test splits.
- :func:`write_report` -- ``report.md``, ``report.json`` and PNG plots.
- :func:`relative_l2` -- the metric.
- :func:`gnnops.runs.pipeline.run` -- train -> evaluate -> report.
"""

from gnnops.evaluation.metrics import evaluate, relative_l2
from gnnops.evaluation.report import write_report

__all__ = ["evaluate", "write_report", "relative_l2"]

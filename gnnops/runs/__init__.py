"""Runs: the whole ``train -> evaluate -> report`` pipeline and its command line.

- :mod:`~gnnops.runs.pipeline` -- ``run(cfg, resume=False) -> report path``.
- :mod:`~gnnops.runs.cli` -- ``python train.py`` and ``gnnops train``.

The top room: it may import every other room; nothing in gnnops imports it but the
command-line dispatcher (:mod:`gnnops.cli`).
"""

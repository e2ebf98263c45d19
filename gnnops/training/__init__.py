"""Training: config schema, trainer, data sources, checkpoints, DDP.

Modules (imported on use, so ``import gnnops`` stays fast):

- :mod:`~gnnops.training.config` -- ``load_config(path, overrides)``: YAML, overrides, the
  one validator; :mod:`~gnnops.training.config_sections` -- the ``RunConfig`` section
  dataclasses and their value checks (re-exported by ``config``).
- :mod:`~gnnops.training.trainer` -- ``train(cfg, *, resume=False) -> TrainResult``.
- :mod:`~gnnops.training.rollout_train` -- ``train_rollout(cfg)`` for time-dependent problems.
- :mod:`~gnnops.training.loop`, :mod:`~gnnops.training.checkpoint`,
  :mod:`~gnnops.training.distributed`, :mod:`~gnnops.training.datasource` -- its parts.

What training produces (artifact, recipe, normalizers, surrogate) lives in
:mod:`gnnops.surrogate`; the full train -> evaluate -> report run in :mod:`gnnops.runs`.
"""

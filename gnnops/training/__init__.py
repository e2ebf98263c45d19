"""Training: config schema, graph recipe, normalizers, surrogate, trainer, DDP, artifact.

Modules (imported on use, so ``import gnnops`` stays fast):

- :mod:`~gnnops.training.config` -- ``RunConfig`` dataclasses, ``load_config(path, overrides)``.
- :mod:`~gnnops.training.features` -- ``prepare_graph(data, recipe)`` and the recipe.
- :mod:`~gnnops.training.normalizer` -- streaming per-column mean / std.
- :mod:`~gnnops.training.surrogate` -- ``Surrogate``: model + normalizers, physical units.
- :mod:`~gnnops.training.trainer` -- ``train(cfg, *, resume=False) -> TrainResult``.
- :mod:`~gnnops.training.loop`, :mod:`~gnnops.training.checkpoint`,
  :mod:`~gnnops.training.distributed`, :mod:`~gnnops.training.datasource` -- its parts.
- :mod:`~gnnops.training.artifact` -- the model artifact file format.
- :mod:`~gnnops.training.cli` -- ``gnnops train`` / ``python train.py``.
"""

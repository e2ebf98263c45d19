"""The trained model: what training produces and inference and evaluation consume.

Modules (imported on use, so ``import gnnops`` stays fast):

- :mod:`~gnnops.surrogate.artifact` -- the model file format (``save_artifact``,
  ``load_artifact``, ``Artifact``).
- :mod:`~gnnops.surrogate.recipe` -- the graph recipe: raw fields -> model-ready ``Data``
  (``make_recipe``, the typed ``Recipe``);
- :mod:`~gnnops.surrogate.prepare` -- ``prepare_graph``: the recipe applied to one graph,
  identical in training and inference;
- :mod:`~gnnops.surrogate.normalizer` -- streaming per-column mean / std.
- :mod:`~gnnops.surrogate.surrogate` -- ``Surrogate``: model + normalizers + recipe, in
  physical units.
- :mod:`~gnnops.surrogate.stepping` -- time-dependent models: the trajectory layout,
  one-step pairs, anchored increments and the autoregressive ``rollout``.

This room sits below ``training``, ``inference`` and ``evaluation`` and imports only
``models``, ``problems``, ``graphs`` and the shared helpers (see ARCHITECTURE.md).
"""

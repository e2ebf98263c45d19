"""Datasets on disk: generation, manifest, loading.

- :class:`GenerateSpec` / :func:`load_spec` -- what to generate (YAML or dict).
- :func:`generate` -- write a dataset folder (parallel, resumable, deterministic).
- :func:`open_dataset` -> :class:`Dataset` -- a generated folder or a user's mesh files;
  ``Dataset.load(split, resolution, inputs=..., targets=...)`` gives PyG ``Data``.

Layout of a folder: :mod:`gnnops.data.manifest`; network samples: :mod:`gnnops.data._network`.
"""

from __future__ import annotations

from gnnops.data.dataset import Dataset, open_dataset
from gnnops.data.generate import GenerateResult, generate, run_generation
from gnnops.data.manifest import read_manifest
from gnnops.data.spec import GenerateSpec, load_spec

__all__ = ["GenerateSpec", "load_spec", "generate", "run_generation", "GenerateResult",
           "open_dataset", "Dataset", "read_manifest"]

"""gnnops: learn solution operators of physics with graph neural networks.

Public API (see README):

- :func:`gnnops.load` -- load a trained artifact into a ``Predictor``.
- :mod:`gnnops.graphs` -- meshes and networks <-> ``torch_geometric.data.Data``.
- :mod:`gnnops.problems` -- reference solvers and physics residuals.
- :mod:`gnnops.models` -- MeshGraphNet, graph neural operator, multiscale.
- :mod:`gnnops.errors` -- ``GnnopsError`` and its subclasses.

Submodules are imported lazily so ``import gnnops`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "load",
    "errors",
    "graphs",
    "meshing",
    "problems",
    "data",
    "models",
    "training",
    "inference",
    "evaluation",
]

_SUBMODULES = {
    "errors", "graphs", "meshing", "problems", "data", "models", "training",
    "inference", "evaluation",
}


def load(path: str, **kwargs: Any) -> Any:
    """Load a trained model artifact (``model.pt``) and return a ``Predictor``.

    Args:
        path: path of an artifact written by training.
        **kwargs: forwarded to :class:`gnnops.inference.Predictor`.

    Returns:
        A :class:`gnnops.inference.Predictor`.
    """
    from gnnops.inference import Predictor

    return Predictor.from_artifact(path, **kwargs)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"gnnops.{name}")
    raise AttributeError(f"module 'gnnops' has no attribute {name!r}")

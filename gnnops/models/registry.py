"""Model registry: a plain dict from name to class; ``build(name, **kwargs)``."""

from __future__ import annotations

from typing import Any

from torch import nn

from gnnops.errors import ModelError
from gnnops.models.gno import GNO
from gnnops.models.linear_stencil import LinearStencil
from gnnops.models.meshgraphnet import MeshGraphNet
from gnnops.models.multiscale import MultiScale
from gnnops.models.ndcn import NDCN
from gnnops.models.transolver import Transolver

__all__ = ["MODELS", "build", "names"]

MODELS: dict[str, type[nn.Module]] = {
    "gno": GNO,
    "linear_stencil": LinearStencil,
    "meshgraphnet": MeshGraphNet,
    "multiscale": MultiScale,
    "ndcn": NDCN,
    "transolver": Transolver,
}


def names() -> list[str]:
    """Sorted registered model names."""
    return sorted(MODELS)


def build(name: str, **kwargs: Any) -> nn.Module:
    """Construct a registered model.

    Args:
        name: registry name (``gno``, ``linear_stencil``, ``meshgraphnet``, ``multiscale``,
            ``ndcn``, ``transolver``).
        **kwargs: constructor arguments (plain JSON-able values), at least
            ``in_channels`` and ``out_channels``; ``edge_dim`` and ``pos_dim`` as needed.

    Returns:
        The model; ``model.config()`` returns ``kwargs`` completed with defaults.

    Raises:
        ModelError: unknown name, or arguments the constructor does not accept.
    """
    if name not in MODELS:
        raise ModelError(f"unknown model {name!r}; expected one of: {', '.join(names())}")
    try:
        return MODELS[name](**kwargs)
    except TypeError as err:
        raise ModelError(f"invalid arguments for model {name!r}: {err}") from err

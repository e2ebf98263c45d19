"""Reuse of a one-step model's static encoding along an autoregressive rollout.

In a rollout only the state changes from step to step; the static inputs (coefficients,
geometry, ``dt``) and the graph stay the same, so everything a model computes from them
alone (its encoder's latents, per-edge stencil weights, the implicit step's masses and
conductances) is the same every step. :class:`StaticCache` keeps the last such encoding and
returns it while the graph is the same ``edge_index`` tensor object, the static input
columns are equal (``torch.equal``, O(N)) and the model's weights are unchanged (their
tensors' in-place version counters, which an optimizer step or ``load_state_dict`` bumps);
:func:`memo` stores derived static tensors in it.
Only without autograd (prediction, rollouts); a training forward always recomputes, so
gradients are unaffected.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor
from torch_geometric.data import Data

__all__ = ["StaticCache", "memo"]


class StaticCache:
    """One cached static encoding (a dict) per model, keyed by graph and static inputs."""

    def __init__(self) -> None:
        self._edge_index: Tensor | None = None  # held, so its storage cannot be reused
        self._static: Tensor | None = None
        self._value: dict[str, Any] | None = None
        self._weights: tuple[int, ...] = ()

    def get(self, data: Data, static_columns: list[int],
            build: Callable[[], dict[str, Any]], params: Iterable[Tensor] = ()
            ) -> dict[str, Any]:
        """``build()``'s encoding, reused while ``data`` has the same graph and static columns.

        Args:
            data: graph with ``x`` [N, F] and ``edge_index`` [2, E].
            static_columns: the columns of ``x`` the encoding depends on.
            build: computes the encoding (a dict; a ``"memo"`` dict is added when cached).
            params: the model's parameters (their version counters key the cache; read only
                without autograd).
        """
        if torch.is_grad_enabled():
            return build()
        x = data.x[:, static_columns]
        weights = tuple(p._version for p in params)
        if (self._value is not None and data.edge_index is self._edge_index
                and weights == self._weights
                and self._static is not None and self._static.shape == x.shape
                and self._static.dtype == x.dtype and torch.equal(self._static, x)):
            return self._value
        value = build()
        value["memo"] = {}
        self._edge_index, self._static, self._value = data.edge_index, x.clone(), value
        self._weights = weights
        return value


def memo(enc: dict[str, Any], name: str, fn: Callable[[], Any]) -> Any:
    """``fn()``, stored in ``enc["memo"]`` under ``name`` when the encoding is cached."""
    store = enc.get("memo")
    if store is None:
        return fn()
    if name not in store:
        store[name] = fn()
    return store[name]

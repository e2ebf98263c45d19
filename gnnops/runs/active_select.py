"""How a round of active learning picks its solves (:mod:`gnnops.runs.active`).

- :func:`select_top`: the largest estimates, under a per-geometry cap;
- :func:`select_proportional`: drawn without replacement with probability
  ``∝ s / mean(s) + floor`` (the residual-based adaptive distribution of Wu et al. 2023);
- :func:`select_random`: the baseline;
- :func:`weighted_cycle`: the geometry cycle of a pool that is not spread evenly.
"""

from __future__ import annotations

import math

import numpy as np

from gnnops.errors import ConfigError

__all__ = ["select_top", "select_proportional", "select_random", "weighted_cycle"]


def weighted_cycle(geometries: list[str], weights: dict[str, int] | None) -> list[str]:
    """The geometry cycle of a pool: each geometry ``weights.get(g, 1)`` times, in order.

    Raises:
        ConfigError: a weight names a geometry not in ``geometries``, or all are 0.
    """
    weights = weights or {}
    unknown = sorted(set(weights) - set(geometries))
    if unknown:
        raise ConfigError(f"config key 'active.pool_weights' names {unknown}; expected "
                          f"geometries of data.generate.geometries: {geometries}")
    cycle = [g for g in geometries for _ in range(weights.get(g, 1))]
    if not cycle:
        raise ConfigError("config key 'active.pool_weights' leaves no geometry in the pool")
    return cycle


def select_top(scores: np.ndarray, geometries: list[str], k: int,
               max_share: float = 1.0) -> list[int]:
    """Indices of the ``k`` largest scores (NaN counts as largest: the estimate failed), at
    most ``ceil(max_share * k)`` of them from one geometry unless too few others remain."""
    s = np.where(np.isnan(scores), np.inf, np.asarray(scores, dtype=np.float64))
    order = [int(i) for i in np.argsort(-s, kind="stable")]
    cap = max(1, math.ceil(max_share * k))
    picked: list[int] = []
    per_geo: dict[str, int] = {}
    for i in order:
        if len(picked) == k:
            break
        if per_geo.get(geometries[i], 0) < cap:
            picked.append(i)
            per_geo[geometries[i]] = per_geo.get(geometries[i], 0) + 1
    rest = [i for i in order if i not in picked]
    return picked + rest[: k - len(picked)]


def select_proportional(scores: np.ndarray, geometries: list[str], k: int,
                        rng: np.random.Generator, *, floor: float = 1.0,
                        max_share: float = 1.0) -> list[int]:
    """``k`` indices drawn without replacement with probability ``∝ s / mean(s) + floor``
    (Gumbel top-k; NaN scores count as the largest finite one), at most
    ``ceil(max_share * k)`` from one geometry unless too few others remain."""
    s = np.asarray(scores, dtype=np.float64)
    finite = s[np.isfinite(s)]
    top = float(finite.max()) if finite.size else 1.0
    s = np.where(np.isfinite(s), s, top)
    mean = float(s.mean())
    weight = (s / mean if mean > 0 else np.ones_like(s)) + floor
    if not np.any(weight > 0):
        weight = np.ones_like(s)
    with np.errstate(divide="ignore"):
        keys = np.log(weight) + rng.gumbel(size=len(s))
    return select_top(keys, geometries, k, max_share)


def select_random(available: list[int], k: int, rng: np.random.Generator) -> list[int]:
    """``k`` of ``available`` drawn without replacement by ``rng``."""
    return [available[int(i)] for i in rng.choice(len(available), size=k, replace=False)]

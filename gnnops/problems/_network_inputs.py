"""Random initial states of the network problems, stored as recipes (not nodal values).

A draw is a small JSON-serializable dict; :func:`evaluate_initial` turns it into
``x0: [N]`` on any graph, so one draw can be evaluated on graphs of different sizes.
Recipes:

* ``"uniform"``: iid ``U(low, high)`` per node from ``seed`` (node order).
* ``"seeds"``: ``max(1, round(fraction * N))`` random seed nodes get ``U(low, high)``,
  the rest ``background``.
* ``"region"``: a seeded region gets ``value`` (drawn ``U(low, high)``), the rest
  ``background``. With positions: the nodes within ``radius`` (a fraction of the
  bounding-box diagonal) of ``center`` (fractions of the bounding box; the nearest node
  if the ball is empty). Without: the ``hops``-neighbourhood of node ``floor(node_frac*N)``
  (edges taken as undirected).
* ``"ndcn"``: :func:`ndcn_initial_state` times ``scale`` (node order = row-major grid).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.sparse as sp

from gnnops.errors import ProblemError

__all__ = ["RECIPES", "ndcn_initial_state", "draw_initial", "evaluate_initial", "positions"]

RECIPES: dict[str, dict[str, Any]] = {
    "uniform": {"low": 0.0, "high": 1.0},
    "seeds": {"fraction": 0.05, "low": 0.0, "high": 1.0, "background": 0.0},
    "region": {"low": 0.5, "high": 1.0, "value": None, "radius": 0.15, "hops": 1,
               "background": 0.0},
    "ndcn": {"scale": 1.0},
}


def ndcn_initial_state(n: int = 400) -> np.ndarray:
    """The NDCN initial state on a ``s x s`` layout (``n = s^2``), row-major ``[n]``.

    For ``s = 20``: blocks ``[1:5, 1:5] = 25``, ``[9:15, 9:15] = 20``,
    ``[1:5, 7:13] = 17``, else 0; other ``s`` scale the block bounds
    (``int(0.05 s):int(0.25 s)`` etc., as in the NDCN code).

    Raises:
        ProblemError: ``n`` is not a perfect square.
    """
    s = math.isqrt(int(n))
    if n < 1 or s * s != n:
        raise ProblemError(f"expected n a perfect square (a s x s layout) (got {n})")

    def i(frac: float) -> int:
        return int(math.floor(frac * s + 1e-9))

    x = np.zeros((s, s))
    x[i(0.05):i(0.25), i(0.05):i(0.25)] = 25.0
    x[i(0.45):i(0.75), i(0.45):i(0.75)] = 20.0
    x[i(0.05):i(0.25), i(0.35):i(0.65)] = 17.0
    return x.reshape(-1)


def draw_initial(rng: np.random.Generator, options: dict[str, Any]) -> dict[str, Any]:
    """Draw recipe parameters. ``options``: ``recipe`` plus that recipe's keys (see RECIPES).

    Returns:
        JSON-serializable params, including a ``seed`` (and ``center``/``node_frac``/``value``
        for ``"region"``).
    """
    opts = dict(options)
    recipe = opts.pop("recipe", "uniform")
    if recipe not in RECIPES:
        raise ProblemError(f"unknown initial-state recipe {recipe!r}; expected one of: "
                           f"{', '.join(sorted(RECIPES))}")
    allowed = RECIPES[recipe]
    unknown = sorted(set(opts) - set(allowed))
    if unknown:
        raise ProblemError(f"unknown option(s) {unknown} for recipe {recipe!r}; "
                           f"expected some of: {', '.join(sorted(allowed))}")
    params: dict[str, Any] = {"recipe": recipe, **allowed, **opts}
    if "low" in params and not float(params["low"]) <= float(params["high"]):
        raise ProblemError(f"expected low <= high (got {params['low']} > {params['high']})")
    params["seed"] = int(rng.integers(0, 2**31 - 1))
    if recipe == "region":
        params["center"] = [float(c) for c in rng.uniform(0.0, 1.0, 3)]
        params["node_frac"] = float(rng.uniform(0.0, 1.0))
        if params["value"] is None:
            params["value"] = float(rng.uniform(params["low"], params["high"]))
    return params


def positions(graph: Any) -> np.ndarray | None:
    """Node positions ``[N, d]`` (networkx node attribute ``"pos"`` or ``Data.pos``), or None."""
    import networkx as nx

    from gnnops.problems._graph_ops import to_numpy

    if isinstance(graph, nx.Graph):
        pos = [graph.nodes[v].get("pos") for v in graph.nodes]
        if not pos or any(p is None for p in pos):
            return None
        return np.asarray(pos, dtype=np.float64).reshape(len(pos), -1)
    pos = getattr(graph, "pos", None)
    if pos is None:
        return None
    arr = to_numpy(pos)
    return arr.reshape(arr.shape[0], -1)


def evaluate_initial(params: dict[str, Any], graph: Any, a: sp.csr_matrix) -> np.ndarray:
    """``x0: [N]`` of a drawn recipe on a graph with adjacency ``a: [N, N]``."""
    n = a.shape[0]
    recipe = params.get("recipe")
    rng = np.random.default_rng(params.get("seed", 0))
    if recipe == "uniform":
        return rng.uniform(float(params["low"]), float(params["high"]), n)
    if recipe == "ndcn":
        return ndcn_initial_state(n) * float(params["scale"])
    if recipe not in ("seeds", "region"):
        raise ProblemError(f"unknown initial-state recipe {recipe!r}; expected one of: "
                           f"{', '.join(sorted(RECIPES))}")
    x = np.full(n, float(params["background"]))
    if recipe == "seeds":
        k = min(n, max(1, round(float(params["fraction"]) * n)))
        idx = rng.choice(n, size=k, replace=False)
        x[idx] = rng.uniform(float(params["low"]), float(params["high"]), k)
        return x
    pos = positions(graph)
    if pos is not None and pos.shape[0] == n:
        lo, hi = pos.min(axis=0), pos.max(axis=0)
        center = lo + np.asarray(params["center"][: pos.shape[1]]) * (hi - lo)
        dist = np.linalg.norm(pos - center, axis=1)
        mask = dist <= float(params["radius"]) * float(np.linalg.norm(hi - lo))
        if not mask.any():
            mask[np.argmin(dist)] = True
    else:
        sym = ((a + a.T) != 0).astype(np.float64)
        mask = np.zeros(n, dtype=bool)
        mask[min(n - 1, int(float(params["node_frac"]) * n))] = True
        for _ in range(int(params["hops"])):
            mask |= (sym @ mask.astype(np.float64)) > 0
    x[mask] = float(params["value"])
    return x

"""Seeded random-graph families for the network problems (networkx graphs).

``make_graph(family, n, *, seed, **params)``; ``FAMILIES`` maps names to builders.
Nodes are ``0 .. n-1``; families with a geometry set the node attribute ``"pos"``
(a tuple of 2 floats in the unit square); ``G.graph`` records ``family``, ``seed``
and the resolved parameters. The defaults reproduce NDCN at ``n = 400`` (Zang & Wang,
KDD 2020) and, as ``n`` grows, keep the *mean degree* constant (not the edge
probability), so the Laplacian spectrum -- the time scale of the dynamics -- stays put:

==================  =====================================================================
erdos_renyi         ``p`` or ``mean_degree`` (default ``mean_degree = 0.1 * 399``, i.e.
                    ``p = 0.1`` at n = 400)
barabasi_albert     ``m = 5``
watts_strogatz      Newman--Watts--Strogatz, ``k = 5`` (networkx: ``k // 2`` ring
                    neighbours per side), ``p = 0.5``
community           random partition, block sizes proportional to 133/133/100/34,
                    ``p_in = 0.25``, ``p_out = 0.01`` at n = 400, both scaled by
                    ``400 / n`` (capped at 1) unless given; or explicit ``sizes``
sbm                 alias of community through ``nx.stochastic_block_model``
                    (``sizes``, ``p_in``, ``p_out``); node attribute ``"block"``
grid                ``side x side`` grid, ``n = side^2``, 8-neighbour (``diagonal=True``)
                    or 4-neighbour; row-major ids; positions ``(col, row) / (side - 1)``
random_geometric    uniform points in the unit square, edges closer than ``radius``;
                    default ``radius`` gives expected mean degree ``mean_degree = 6``
                    (boundary effect included)
voronoi             Delaunay triangulation of uniform points = adjacency of their
                    Voronoi cells (cell-contact network); ``3n - 3 - h`` edges
==================  =====================================================================

Every family also takes ``edge_weights`` (``None``: unweighted; ``"zipf"`` /
``"lognormal"``: heavy-tailed integer counts as edge attribute ``"weight"``, like synapse
or interaction counts; :func:`add_count_weights`), ``weight_exponent`` and ``weight_max``.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any

import networkx as nx
import numpy as np

from gnnops.errors import GraphError

__all__ = ["FAMILIES", "make_graph", "family_names", "block_sizes", "add_count_weights",
           "WEIGHT_PARAMS"]

#: family options of every family: integer edge weights (:func:`add_count_weights`)
WEIGHT_PARAMS = ("edge_weights", "weight_exponent", "weight_max")

_NDCN_BLOCKS = (133, 133, 100, 34)


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise GraphError(msg)


def _prob(name: str, p: float) -> float:
    _check(0.0 <= float(p) <= 1.0, f"expected {name} in [0, 1] (got {p!r})")
    return float(p)


def _from_edges(n: int, edges: np.ndarray, pos: np.ndarray | None = None) -> nx.Graph:
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(map(tuple, edges.tolist()))
    if pos is not None:
        nx.set_node_attributes(g, {i: (float(a), float(b)) for i, (a, b) in enumerate(pos)},
                               "pos")
    return g


def erdos_renyi(n: int, rng_seed: int, *, p: float | None = None,
                mean_degree: float | None = None) -> nx.Graph:
    """G(n, p) with ``p`` given, or ``p = mean_degree / (n - 1)`` (default mean 39.9)."""
    _check(p is None or mean_degree is None, "expected p or mean_degree, not both")
    if p is None:
        md = 0.1 * 399 if mean_degree is None else float(mean_degree)
        _check(md >= 0, f"expected mean_degree >= 0 (got {md})")
        p = min(1.0, md / max(n - 1, 1))
    return nx.fast_gnp_random_graph(n, _prob("p", p), seed=rng_seed)


def barabasi_albert(n: int, rng_seed: int, *, m: int = 5) -> nx.Graph:
    """Preferential attachment, ``m`` edges per new node (``1 <= m < n``)."""
    _check(int(m) == m and 1 <= m < n, f"expected integer m with 1 <= m < n = {n} (got {m!r})")
    return nx.barabasi_albert_graph(n, int(m), seed=rng_seed)


def watts_strogatz(n: int, rng_seed: int, *, k: int = 5, p: float = 0.5) -> nx.Graph:
    """Newman--Watts--Strogatz: ring lattice (``k // 2`` per side) plus shortcuts w.p. ``p``."""
    _check(int(k) == k and 2 <= k < n, f"expected integer k with 2 <= k < n = {n} (got {k!r})")
    return nx.newman_watts_strogatz_graph(n, int(k), _prob("p", p), seed=rng_seed)


def block_sizes(n: int, weights: tuple[float, ...] = _NDCN_BLOCKS) -> list[int]:
    """Split ``n`` proportionally to ``weights`` (largest remainder; sums to ``n``)."""
    w = np.asarray(weights, dtype=np.float64)
    raw = n * w / w.sum()
    sizes = np.floor(raw).astype(int)
    order = np.argsort(-(raw - sizes), kind="stable")
    sizes[order[: n - int(sizes.sum())]] += 1
    return sizes.tolist()


def _sbm_args(n: int, sizes: Any, p_in: float | None, p_out: float | None) -> tuple:
    sizes = block_sizes(n) if sizes is None else [int(s) for s in sizes]
    _check(all(s >= 0 for s in sizes) and sum(sizes) == n,
           f"expected non-negative block sizes summing to n = {n} (got {sizes})")
    scale = 400.0 / max(n, 1)
    p_in = min(1.0, 0.25 * scale) if p_in is None else p_in
    p_out = min(1.0, 0.01 * scale) if p_out is None else p_out
    return sizes, _prob("p_in", p_in), _prob("p_out", p_out)


def community(n: int, rng_seed: int, *, sizes: Any = None, p_in: float | None = None,
              p_out: float | None = None) -> nx.Graph:
    """Random partition graph (NDCN "community"); node attribute ``"block"``."""
    sizes, p_in, p_out = _sbm_args(n, sizes, p_in, p_out)
    g = nx.random_partition_graph(sizes, p_in, p_out, seed=rng_seed)
    nx.set_node_attributes(g, {v: int(b) for b, part in enumerate(g.graph.pop("partition"))
                               for v in part}, "block")
    return nx.Graph(g)


def sbm(n: int, rng_seed: int, *, sizes: Any = None, p_in: float | None = None,
        p_out: float | None = None) -> nx.Graph:
    """Stochastic block model with ``p_in`` on, ``p_out`` off the diagonal."""
    sizes, p_in, p_out = _sbm_args(n, sizes, p_in, p_out)
    probs = np.full((len(sizes), len(sizes)), p_out)
    np.fill_diagonal(probs, p_in)
    g = nx.stochastic_block_model(sizes, probs.tolist(), seed=rng_seed, sparse=True)
    g.graph.clear()
    return g


def grid(n: int, rng_seed: int, *, diagonal: bool = True) -> nx.Graph:
    """``side x side`` grid (``n = side^2``), row-major ids, 8- or 4-neighbour."""
    side = math.isqrt(n)
    _check(side * side == n and n >= 1, f"expected n a perfect square for 'grid' (got {n})")
    ids = np.arange(n).reshape(side, side)
    pairs = [(ids[:, :-1], ids[:, 1:]), (ids[:-1, :], ids[1:, :])]
    if diagonal:
        pairs += [(ids[:-1, :-1], ids[1:, 1:]), (ids[:-1, 1:], ids[1:, :-1])]
    edges = np.concatenate([np.stack([a.ravel(), b.ravel()], 1) for a, b in pairs])
    rows, cols = np.divmod(np.arange(n), side)
    pos = np.stack([cols, rows], 1) / max(side - 1, 1)
    return _from_edges(n, edges, pos)


def _disk_in_square(r: float) -> float:
    """Mean area of a radius-``r`` disk inside the unit square, centre uniform (r <= 1/2)."""
    return math.pi * r**2 - 8.0 / 3.0 * r**3 + 0.5 * r**4


def random_geometric(n: int, rng_seed: int, *, radius: float | None = None,
                     mean_degree: float | None = None) -> nx.Graph:
    """Uniform points in the unit square joined when closer than ``radius``."""
    from scipy.optimize import brentq
    from scipy.spatial import cKDTree

    _check(radius is None or mean_degree is None, "expected radius or mean_degree, not both")
    if radius is None:
        md = 6.0 if mean_degree is None else float(mean_degree)
        target = md / max(n - 1, 1)
        _check(0 < target < _disk_in_square(0.5),
               f"expected 0 < mean_degree < {_disk_in_square(0.5) * (n - 1):.4g} "
               f"for n = {n} (got {md})")
        radius = brentq(lambda r: _disk_in_square(r) - target, 0.0, 0.5)
    _check(float(radius) > 0, f"expected radius > 0 (got {radius!r})")
    pos = np.random.default_rng(rng_seed).uniform(0.0, 1.0, (n, 2))
    edges = cKDTree(pos).query_pairs(float(radius), output_type="ndarray")
    g = _from_edges(n, edges.reshape(-1, 2), pos)
    g.graph["radius"] = float(radius)
    return g


def voronoi(n: int, rng_seed: int) -> nx.Graph:
    """Delaunay graph of ``n >= 3`` uniform points (Voronoi-cell contacts)."""
    from scipy.spatial import Delaunay

    _check(n >= 3, f"expected n >= 3 for 'voronoi' (got {n})")
    pos = np.random.default_rng(rng_seed).uniform(0.0, 1.0, (n, 2))
    simp = Delaunay(pos).simplices
    e = np.concatenate([simp[:, [0, 1]], simp[:, [1, 2]], simp[:, [0, 2]]])
    e = np.unique(np.sort(e, axis=1), axis=0)
    return _from_edges(n, e, pos)


FAMILIES: dict[str, Callable[..., nx.Graph]] = {
    "erdos_renyi": erdos_renyi,
    "barabasi_albert": barabasi_albert,
    "watts_strogatz": watts_strogatz,
    "community": community,
    "sbm": sbm,
    "grid": grid,
    "random_geometric": random_geometric,
    "voronoi": voronoi,
}


def family_names() -> list[str]:
    """Sorted family names."""
    return sorted(FAMILIES)


def make_graph(family: str, n: int, *, seed: int, **params: Any) -> nx.Graph:
    """Build a seeded random graph of a family.

    Args:
        family: one of :data:`FAMILIES`.
        n: number of nodes.
        seed: random seed; the same ``(family, n, seed, params)`` gives the same graph.
        **params: family parameters (see the module docstring).

    Returns:
        Undirected ``nx.Graph`` on nodes ``0 .. n-1`` (``"pos"`` where the family has one).

    Raises:
        GraphError: unknown family (lists the valid ones), unknown or invalid parameters.
    """
    if family not in FAMILIES:
        raise GraphError(f"unknown graph family {family!r}; expected one of: "
                         f"{', '.join(family_names())}")
    _check(isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 1,
           f"expected n a positive integer (got {n!r})")
    _check(isinstance(seed, (int, np.integer)) and not isinstance(seed, bool),
           f"expected an integer seed (got {seed!r})")
    builder = FAMILIES[family]
    weights = {k: params.pop(k) for k in WEIGHT_PARAMS if k in params}
    valid = [k for k, v in inspect.signature(builder).parameters.items()
             if v.kind is inspect.Parameter.KEYWORD_ONLY]
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise GraphError(f"unknown parameter(s) {unknown} for family {family!r}; "
                         f"expected some of: {', '.join(valid + list(WEIGHT_PARAMS))}")
    try:
        g = builder(int(n), int(seed), **params)
    except (TypeError, ValueError, nx.NetworkXError) as exc:
        raise GraphError(f"cannot build {family!r} with n = {n}, {params} ({exc})") from exc
    out = nx.Graph(family=family, seed=int(seed), **{**g.graph, **params, **weights})
    out.add_nodes_from(sorted(g.nodes(data=True)))  # ids 0 .. n-1 in order
    out.add_edges_from(g.edges(data=True))
    if weights.get("edge_weights") is not None:
        add_count_weights(out, int(seed), **weights)
    return out


def add_count_weights(g: nx.Graph, seed: int, *, edge_weights: str | None = "zipf",
                      weight_exponent: float = 2.0, weight_max: int = 60) -> nx.Graph:
    """Give every edge an integer ``"weight"`` that looks like a real interaction count.

    ``edge_weights="zipf"``: ``P(w = k) ~ k^-weight_exponent`` capped at ``weight_max``
    (``weight_exponent = 2``, ``weight_max = 60``: 61 % of the edges 1, median 1, mean ~4),
    like the synapse counts of a connectome (C. elegans: 1 to ~50 per connection, most 1 to
    3); ``"lognormal"``: ``max(1, round(exp(N(0, 1))))``, capped. Drawn from their own
    stream (``default_rng([seed, 7])``, edges in sorted order), so the structure of the
    graph does not change.

    Raises:
        GraphError: an unknown kind, ``weight_exponent <= 1`` or ``weight_max < 1``.
    """
    _check(edge_weights in ("zipf", "lognormal"),
           f"expected edge_weights 'zipf', 'lognormal' or null (got {edge_weights!r})")
    _check(isinstance(weight_max, (int, np.integer)) and not isinstance(weight_max, bool)
           and weight_max >= 1, f"expected weight_max an integer >= 1 (got {weight_max!r})")
    _check(float(weight_exponent) > 1.0,
           f"expected weight_exponent > 1 (got {weight_exponent!r})")
    rng = np.random.default_rng([int(seed), 7])
    edges = sorted(tuple(sorted(e)) for e in g.edges)
    if edge_weights == "zipf":
        w = rng.zipf(float(weight_exponent), size=len(edges))
    else:
        w = np.maximum(1, np.round(np.exp(rng.normal(0.0, 1.0, size=len(edges)))))
    w = np.minimum(w, int(weight_max)).astype(np.int64)
    nx.set_edge_attributes(g, {e: int(x) for e, x in zip(edges, w, strict=True)}, "weight")
    return g

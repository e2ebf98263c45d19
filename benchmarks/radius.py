"""Radius graphs: the all-pairs construction this project used before vs ``radius_graph`` now.

Run:  python benchmarks/radius.py [--h 0.0088] [--repeats 5]

On a gmsh mesh of the unit square (h = 0.0088: ~15k nodes), three cases, each timed
old / new alternately (interleaved, so a burst of load from other jobs hits both), the
median of ``--repeats`` rounds reported, and the edge arrays compared for equality in
every round:

- ``ball r=0.25 loop`` -- the GNO's ball (radius 0.25, self loops), every neighbour;
- ``ball r=0.25 k=32`` -- the same ball capped at the 32 nearest (``max_num_neighbors``);
- ``ball r=0.02`` -- a local graph (~40 neighbours per node).

"old" is the previous implementation verbatim: ``cKDTree.query_pairs`` for all pairs,
both directions concatenated, one ``np.lexsort`` by (target, source), then for a cap
``keep_nearest`` (a second lexsort of all pairs by target, distance, source).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from scipy.spatial import cKDTree

from gnnops.graphs.radius import keep_nearest, radius_graph


def old_radius_graph(pos: torch.Tensor, r: float, *, max_num_neighbors: int | None = None,
                     loop: bool = False) -> torch.Tensor:
    """The pre-change ``radius_graph`` for one graph (all pairs, then sorts)."""
    p = pos.numpy().astype(np.float64)
    pairs = cKDTree(p).query_pairs(r, output_type="ndarray").astype(np.int64, copy=False)
    src = np.concatenate([pairs[:, 0], pairs[:, 1]])
    dst = np.concatenate([pairs[:, 1], pairs[:, 0]])
    if loop:
        ar = np.arange(len(p), dtype=np.int64)
        src, dst = np.concatenate([src, ar]), np.concatenate([dst, ar])
    order = np.lexsort((src, dst))
    ei = torch.from_numpy(np.stack([src[order], dst[order]]))
    if max_num_neighbors is not None:
        ei = keep_nearest(ei, pos, max_num_neighbors)
    return ei


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--h", type=float, default=0.0088, help="gmsh element size")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    from gnnops.meshing import unit_square

    pos = torch.from_numpy(np.ascontiguousarray(unit_square(args.h).points[:, :2]))
    cases = [("ball r=0.25 loop", dict(r=0.25, loop=True)),
             ("ball r=0.25 k=32 loop", dict(r=0.25, loop=True, max_num_neighbors=32)),
             ("ball r=0.02", dict(r=0.02))]
    print(f"unit square, gmsh h={args.h}: {pos.shape[0]} nodes; torch threads "
          f"{torch.get_num_threads()}; median of {args.repeats} interleaved rounds")
    print(f"{'case':24s} {'edges':>11s} {'old s':>8s} {'new s':>8s} {'speed-up':>9s}  equal")
    for name, kw in cases:
        told, tnew, equal, edges = [], [], True, 0
        for _ in range(args.repeats):
            t = time.perf_counter()
            a = old_radius_graph(pos, **kw)
            told.append(time.perf_counter() - t)
            t = time.perf_counter()
            b = radius_graph(pos, **kw)
            tnew.append(time.perf_counter() - t)
            equal &= bool(torch.equal(a, b))
            edges = b.shape[1]
            del a, b
        mo, mn = statistics.median(told), statistics.median(tnew)
        print(f"{name:24s} {edges:11d} {mo:8.3f} {mn:8.3f} {mo / mn:8.1f}x  {equal}", flush=True)


if __name__ == "__main__":
    main()

"""Cost of one rollout step of the heat surrogate vs one backward-Euler step (issue 14.4).

``python benchmarks/heat_cost.py [--artifact runs/heat_meshgraphnet/model.pt]
[--sizes 0.0134 0.0042]``: for unit-square meshes of the given sizes ``h`` (default ~10k and
~100k nodes) times, single process, after one warm-up step:

* the surrogate: ``gnnops.surrogate.stepping.rollout`` over ``--steps`` steps (per step:
  encoder, P1 operators, the implicit solve; the LU factorization is reused while the
  matrix is unchanged, so it is paid in the first step), and its first step alone;
* the solver: the heat problem's backward Euler (``(M + dt K) u+ = M u``): assembly +
  factorization once, then one sparse triangular solve pair per step.

The rollout is timed with the model's static-encoding cache
(:mod:`gnnops.models.static_cache`: the encoder and the implicit step's coefficients are
computed once per rollout) and without it (recomputed every step, as before the cache),
interleaved in the same process. Prints a markdown table (seconds per step, median of
``--reps`` with the range).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch


class _NoCache:
    """Stands in for the model's StaticCache: recompute the static encoding every call."""

    def get(self, data, columns, build, params=()):  # noqa: ANN001, ANN201
        return build()


def _interleaved(model, fn, reps: int) -> tuple[list[float], list[float]]:
    """Seconds of ``fn`` with and without the static cache, alternating, ``reps`` each."""
    from gnnops.models.static_cache import StaticCache

    cached, fresh = [], []
    for _ in range(reps):
        for out, cache in ((cached, StaticCache()), (fresh, _NoCache())):
            model._static_cache = cache
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
    model._static_cache = StaticCache()
    return cached, fresh


def _spread(values: list[float], scale: float = 1.0) -> str:
    v = [x * scale for x in values]
    return f"{statistics.median(v):.3f} [{min(v):.3f}-{max(v):.3f}]"


def _time(fn, reps: int) -> float:
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def _measure(h: float, sur, heat, steps: int, reps: int) -> tuple:
    """``(nodes, surrogate first step, surrogate per rollout step, BE factor, BE step)``."""
    import scipy.sparse.linalg as spla

    import gnnops.meshing as meshing
    from gnnops.graphs import from_meshio
    from gnnops.models import sparse_solve
    from gnnops.models.static_cache import StaticCache
    from gnnops.problems._fem import fem_mesh
    from gnnops.surrogate.stepping import rollout

    lay = sur.recipe.rollout
    mesh = meshing.make_geometry("unit_square", h)
    data = from_meshio(mesh)
    fm = fem_mesh(mesh)
    inp = heat.evaluate_inputs(heat.sample_inputs(np.random.default_rng(0)), fm)
    u0 = torch.tensor(inp["u0"], dtype=torch.float32)
    static = torch.tensor(np.stack([inp["kappa"], inp["f"]], 1), dtype=torch.float32)
    dts = np.full(steps, lay.dt)
    rollout(sur, data, u0, static, dts[:1], layout=lay)  # warm-up

    def first() -> None:
        sparse_solve._CACHE.clear()  # the factorization is paid again
        sur.model._static_cache = StaticCache()  # and the static encoding
        rollout(sur, data, u0, static, dts[:1], layout=lay)

    t_first = _time(first, reps)
    t_roll = _interleaved(sur.model, lambda: rollout(sur, data, u0, static, dts, layout=lay),
                          reps)
    clean = heat._inputs(fm, inp)

    def factor():
        system, m = heat._matrices(fm, clean, heat.dt)
        a_ff, _ = system.reduced()
        return spla.splu(a_ff.tocsc()), system.free, m

    t_factor = _time(factor, reps)
    lu, free, m = factor()
    u = inp["u0"].copy()

    def be_step() -> None:
        rhs = m @ u
        out = np.zeros_like(u)
        out[free] = lu.solve(rhs[free])

    return data.num_nodes, t_first, t_roll, t_factor, _time(be_step, max(reps, 5))


def main() -> None:
    from gnnops.evaluation.metrics import as_predictor
    from gnnops.problems import get

    ap = argparse.ArgumentParser()
    ap.add_argument("--artifact", default="runs/heat_meshgraphnet/model.pt")
    ap.add_argument("--sizes", type=float, nargs="+", default=[0.0134, 0.0042])
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    sur = as_predictor(a.artifact).surrogate.eval()
    heat = get("heat", **sur.recipe.rollout.problem_options)
    rows = [_measure(h, sur, heat, a.steps, a.reps) for h in a.sizes]
    print("| nodes | surrogate 1st step (s) | surrogate per step, static cache (s) | "
          "per step, no cache (s) | BE assembly + LU (s) | BE per step (s) |")
    print("|---|---|---|---|---|---|")
    for n, t1, (tc, tn), tf, tb in rows:
        print(f"| {n:,} | {t1:.3f} | {_spread(tc, 1 / a.steps)} | {_spread(tn, 1 / a.steps)} | "
              f"{tf:.3f} | {tb:.4f} |")


if __name__ == "__main__":
    main()

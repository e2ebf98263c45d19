"""Cost tables of benchmarks/trust.py: estimate vs prediction vs solve, and AMG correction.

For a Darcy surrogate on the unit square at ~3k, ~12k and ~50k nodes (one input draw each):

- seconds of the network (above ``max_nodes`` it is not run: the default GNO integrates
  over whole balls in evaluation, O(N^2) edges; the ~3k-node prediction of the same draw,
  P1-interpolated, stands in), of the error estimate on a mesh seen for the first time
  (cold: the smoothed-aggregation prolongators are built) and on the same mesh with a new
  coefficient (warm: only the Galerkin products), of a direct solve (SuperLU, assembly
  cached) and of an AMG-CG solve from scratch (pyamg setup included);
- the relative algebraic error (vs the mesh's exact discrete solution, lumped-mass L2)
  after 1, 2, 5 correction cycles (AMG-CG, one V-cycle each) from the prediction and from
  zero, and the wall time to reach 1e-2 and 1e-4 from each (the prediction's time counted).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np


def _timed(fn: Any, *args: Any, **kw: Any) -> tuple[Any, float]:
    t = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t


def _rel(mass: np.ndarray, u: np.ndarray, ref: np.ndarray) -> float:
    return float(np.sqrt(mass @ (u - ref) ** 2 / (mass @ ref**2)))


def _time_to(darcy: Any, fm: Any, start: np.ndarray, inp: dict, u_h: np.ndarray,
             mass: np.ndarray, target: float, kmax: int = 40) -> tuple[int, float]:
    """Fewest cycles (and their seconds) reaching ``target`` from ``start``."""
    for k in range(1, kmax + 1):
        (fields, _), sec = _timed(darcy.correct, fm, {"u": start}, cycles=k, **inp)
        if _rel(mass, fields["u"], u_h) <= target:
            return k, sec
    return -1, float("nan")


def _prediction(model: Any, m: Any, inp: dict, max_nodes: int) -> tuple[np.ndarray, float]:
    """The network's prediction and seconds; above ``max_nodes`` (the default GNO integrates
    over whole balls in evaluation: O(N^2) edges) a stand-in: the prediction on the ~3k-node
    mesh of the same input draw, P1-interpolated to this mesh (seconds: NaN)."""
    from gnnops import meshing
    from gnnops.problems.transfer import P1Transfer

    if len(m.points) <= max_nodes:
        pred = model.predict(m, **{k: inp[k] for k in model.inputs})
        return np.asarray(pred.fields["u"], dtype=np.float64), pred.timings["model"]
    coarse = meshing.unit_square(0.02)
    sample = inp["_sample"]
    pred = model.predict(coarse, **{k: v for k, v in sample.at(coarse).items()
                                    if k in model.inputs})
    cells = np.asarray(coarse.cells_dict["triangle"])
    p = P1Transfer(np.asarray(coarse.points)[:, :2], cells).matrix(np.asarray(m.points)[:, :2])
    return p @ np.asarray(pred.fields["u"], dtype=np.float64), float("nan")


def _one_size(model: Any, h: float, max_nodes: int) -> dict[str, Any]:
    from gnnops import meshing
    from gnnops.problems import get
    from gnnops.problems._fem import fem_mesh
    from gnnops.problems._linear import direct_solve
    from gnnops.problems.estimators import lumped_mass

    darcy = get("darcy")
    m = meshing.unit_square(h)
    fm = fem_mesh(m)
    samples = [darcy.sample_inputs(np.random.default_rng(2000 + i)) for i in range(2)]
    draws = [s.at(m) for s in samples]
    inp = draws[0]
    u_pred, t_model = _prediction(model, m, {**inp, "_sample": samples[0]}, max_nodes)
    _, t_cold = _timed(darcy.error_estimate, fm, {"u": u_pred}, **draws[1])  # prolongators
    _, t_warm = _timed(darcy.error_estimate, fm, {"u": u_pred}, **inp)
    system = darcy.system(fm, **inp)
    u_h, t_direct = _timed(direct_solve, system, method="direct")
    _, t_amg = _timed(direct_solve, system, method="amg")
    mass = lumped_mass(fm)
    row = {"nodes": fm.n_nodes, "model": t_model, "estimate_cold": t_cold, "estimate": t_warm,
           "direct": t_direct, "amg": t_amg, "err0": _rel(mass, u_pred, u_h)}
    zero = np.zeros_like(u_pred)
    for k in (1, 2, 5):
        row[f"pred{k}"] = _rel(mass, darcy.correct(fm, {"u": u_pred}, cycles=k, **inp)[0]["u"],
                               u_h)
        row[f"zero{k}"] = _rel(mass, darcy.correct(fm, {"u": zero}, cycles=k, **inp)[0]["u"],
                               u_h)
    for tol in (1e-2, 1e-4):
        kp, sp_ = _time_to(darcy, fm, u_pred, inp, u_h, mass, tol)
        kz, sz = _time_to(darcy, fm, zero, inp, u_h, mass, tol)
        row[f"to{tol:g}"] = (kp, sp_ + (0.0 if np.isnan(t_model) else t_model), kz, sz)
    return row


def cost_tables(model: Any, hs: tuple[float, ...] = (0.02, 0.01, 0.0048),
                max_nodes: int = 5_000) -> list[dict[str, Any]]:
    """Print both tables for unit-square meshes of sizes ``hs``; returns the rows."""
    rows = [_one_size(model, h, max_nodes) for h in hs]
    print("\ncost (seconds): network (nan: not run, a transferred ~3k prediction stands in) | "
          "estimate cold (first call on this mesh: assembly structures and SA prolongators) | "
          "estimate warm (new coefficient) | direct solve | AMG-CG to 1e-12 from scratch")
    for r in rows:
        print(f"  {r['nodes']:6d} nodes: {r['model']:.3f} | {r['estimate_cold']:.3f} | "
              f"{r['estimate']:.3f} | {r['direct']:.3f} | {r['amg']:.3f}  (estimate warm / "
              f"direct = {r['estimate'] / r['direct']:.2f})")
    print("\ncorrection: relative algebraic error after k AMG cycles, from the prediction / "
          "from zero")
    for r in rows:
        cyc = "  ".join(f"k={k}: {r[f'pred{k}']:.2e} / {r[f'zero{k}']:.2e}" for k in (1, 2, 5))
        print(f"  {r['nodes']:6d} nodes: k=0: {r['err0']:.2e} / 1  {cyc}")
    print("time to a relative algebraic error (cycles, seconds; from the prediction: + the "
          "network's seconds where it ran) from the prediction / from zero; direct solve")
    for r in rows:
        parts = []
        for tol in (1e-2, 1e-4):
            kp, sp_, kz, sz = r[f"to{tol:g}"]
            parts.append(f"{tol:g}: {kp} cyc {sp_:.3f} s / {kz} cyc {sz:.3f} s")
        print(f"  {r['nodes']:6d} nodes: " + "; ".join(parts) + f"; direct {r['direct']:.3f} s")
    return rows

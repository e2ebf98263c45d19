"""Cost tables of benchmarks/trust.py: estimate vs prediction vs solve, and AMG correction.

For a Darcy surrogate on the unit square at ~3k, ~50k and ~500k nodes (one input draw per
size; the same draw for every column):

- seconds of the network, once (above ``max_nodes`` it is not run: the default GNO
  integrates over whole balls in evaluation, O(N^2) edges; the ~3k-node prediction of the
  same draw, P1-interpolated, stands in);
- **warm** (a mesh seen before, two other coefficients estimated on it first: its FemMesh,
  assembly structures, SA prolongators and Galerkin maps are cached; the system of these
  inputs is not): the error estimate (input checks, assembly of this coefficient, Galerkin
  products through the cached maps, AMG-CG, flux recovery) vs a direct solve (input
  checks, assembly of this coefficient, free-dof reduction, SuperLU) vs an AMG-CG solve to
  1e-12 (the same assembly, pyamg setup from scratch);
- **cold** (the mesh seen for the first time: every cache emptied): the estimate vs the
  direct solve, each from the meshio mesh and the inputs (mesh conversion, assembly
  structures, and for the estimate the SA prolongators, included);
- median of ``repeats`` interleaved repeats (estimate, direct, AMG, estimate, ...) with
  min - max; ratios estimate / direct per repeat (median, min - max). Where the direct
  solve is skipped (``direct_max_nodes``) the AMG solve is the reference column;
- up to ``correction_max_nodes`` (600k: every default size): the relative algebraic error
  (vs the mesh's exact discrete solution, lumped-mass L2) after 1, 2, 5 correction cycles
  (AMG-CG, one V-cycle each) from the prediction and from zero, and the wall time to reach
  1e-2 and 1e-4 from each (the prediction's time counted) beside the solves from scratch.

Usage (standalone; ``benchmarks/trust.py`` calls :func:`cost_tables` too)::

    python benchmarks/trust_cost.py --artifact MODEL.pt [--out benchmarks/results/trust_cost.txt]
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


_COARSE: dict[int, np.ndarray] = {}


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
    key = id(sample)
    if key not in _COARSE:
        pred = model.predict(coarse, **{k: v for k, v in sample.at(coarse).items()
                                        if k in model.inputs})
        _COARSE[key] = np.asarray(pred.fields["u"], dtype=np.float64)
    cells = np.asarray(coarse.cells_dict["triangle"])
    p = P1Transfer(np.asarray(coarse.points)[:, :2], cells).matrix(np.asarray(m.points)[:, :2])
    return p @ _COARSE[key], float("nan")


def _warm_pair(darcy: Any, fm: Any, u: np.ndarray, inp: dict, direct: bool) -> dict[str, float]:
    """One interleaved repeat on a known mesh: the systems of these inputs are dropped first
    (assembly of the coefficient, Galerkin products and reduction are timed every time)."""
    out = {}
    for name, fn in (("estimate", lambda: darcy.error_estimate(fm, {"u": u}, **inp)),
                     ("direct", lambda: darcy.solve(fm, method="direct", **inp)),
                     ("amg", lambda: darcy.solve(fm, method="amg", **inp))):
        if name == "direct" and not direct:
            out[name] = float("nan")
            continue
        fm._store.pop("systems:darcy", None)
        _, out[name] = _timed(fn)
    return out


def _cold_pair(darcy: Any, m: Any, u: np.ndarray, inp: dict, direct: bool) -> dict[str, float]:
    """One repeat from the meshio mesh with every cache emptied, estimate then solve."""
    from gnnops.problems import _fem

    out = {}
    for name in ("estimate", "direct"):
        _fem._CACHE.clear()
        if name == "estimate":
            _, out["cold_estimate"] = _timed(darcy.error_estimate, m, {"u": u}, **inp)
        else:
            _, out["cold_direct"] = _timed(darcy.solve, m, method="direct" if direct else "amg",
                                           **inp)
    return out


def _stats(v: list[float]) -> tuple[float, float, float]:
    a = np.asarray(v, dtype=float)
    return float(np.median(a)), float(a.min()), float(a.max())


def _one_size(model: Any, h: float, max_nodes: int, repeats: int, direct_max_nodes: int,
              correction_max_nodes: int) -> dict[str, Any]:
    from gnnops import meshing
    from gnnops.problems import get
    from gnnops.problems._fem import fem_mesh
    from gnnops.problems.estimators import lumped_mass

    darcy = get("darcy")
    m = meshing.unit_square(h)
    fm = fem_mesh(m)
    sample = darcy.sample_inputs(np.random.default_rng(2000))
    inp = sample.at(m)
    u_pred, t_model = _prediction(model, m, {**inp, "_sample": sample}, max_nodes)
    direct = fm.n_nodes <= direct_max_nodes
    # warm-up: mesh structures and prolongators (first estimate), the Galerkin maps (built
    # by the second coefficient seen on a mesh): the repeats time the steady state
    for k in range(2):
        other = darcy.sample_inputs(np.random.default_rng(3000 + k)).at(m)
        darcy.error_estimate(fm, {"u": u_pred}, **other)
    reps = [_warm_pair(darcy, fm, u_pred, inp, direct) for _ in range(repeats)]
    reps = [{**r, **_cold_pair(darcy, m, u_pred, inp, direct)} for r in reps]
    fm = fem_mesh(m)
    est = darcy.error_estimate(fm, {"u": u_pred}, **inp)
    ref = "direct" if direct else "amg"
    row = {"nodes": fm.n_nodes, "model": t_model, "ref": ref, "cycles": est.iterations,
           "estimate_value": est.total}
    for key in ("estimate", "direct", "amg", "cold_estimate", "cold_direct"):
        row[key] = _stats([r[key] for r in reps])
    row["ratio"] = _stats([r["estimate"] / r[ref] for r in reps])
    row["cold_ratio"] = _stats([r["cold_estimate"] / r["cold_direct"] for r in reps])
    if fm.n_nodes > correction_max_nodes:
        return row
    u_h = darcy.solve(fm, **inp)["u"]
    mass = lumped_mass(fm)
    row["err0"] = _rel(mass, u_pred, u_h)
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


def _fmt(st: tuple[float, float, float]) -> str:
    return f"{st[0]:.3f} [{st[1]:.3f}-{st[2]:.3f}]"


def cost_tables(model: Any, hs: tuple[float, ...] = (0.02, 0.0048, 0.0015),
                max_nodes: int = 5_000, repeats: int = 3, direct_max_nodes: int = 600_000,
                correction_max_nodes: int = 600_000) -> list[dict[str, Any]]:
    """Print the tables for unit-square meshes of sizes ``hs``; returns the rows."""
    rows = []
    for h in hs:
        rows.append(_one_size(model, h, max_nodes, repeats, direct_max_nodes,
                              correction_max_nodes))
        print(f"  (h = {h}: {rows[-1]['nodes']} nodes done)", flush=True)
    print(f"\ncost (seconds, median [min-max] of {repeats} interleaved repeats; see "
          "benchmarks/trust_cost.py for what each column includes)")
    print("warm = mesh known, new inputs: network (once; nan: not run, a transferred ~3k "
          "prediction stands in) | estimate | direct solve | AMG-CG solve to 1e-12 | "
          "estimate / solve")
    for r in rows:
        print(f"  {r['nodes']:7d} nodes: {r['model']:.3f} | {_fmt(r['estimate'])} | "
              f"{_fmt(r['direct'])} | {_fmt(r['amg'])} | {r['ratio'][0]:.3f} "
              f"[{r['ratio'][1]:.3f}-{r['ratio'][2]:.3f}] (vs {r['ref']}; "
              f"{r['cycles']} AMG-CG cycles, estimate {r['estimate_value']:.3f})")
    print("cold = from the meshio mesh, every cache emptied: estimate | solve | estimate / solve")
    for r in rows:
        print(f"  {r['nodes']:7d} nodes: {_fmt(r['cold_estimate'])} | "
              f"{_fmt(r['cold_direct'])} ({r['ref']}) | {r['cold_ratio'][0]:.3f} "
              f"[{r['cold_ratio'][1]:.3f}-{r['cold_ratio'][2]:.3f}]")
    rows_c = [r for r in rows if "err0" in r]
    print("\ncorrection: relative algebraic error after k AMG cycles, from the prediction / "
          "from zero")
    for r in rows_c:
        cyc = "  ".join(f"k={k}: {r[f'pred{k}']:.2e} / {r[f'zero{k}']:.2e}" for k in (1, 2, 5))
        print(f"  {r['nodes']:7d} nodes: k=0: {r['err0']:.2e} / 1  {cyc}")
    print("time to a relative algebraic error (cycles, seconds; from the prediction: + the "
          "network's seconds where it ran) from the prediction / from zero; a direct and an "
          "AMG-CG solve from scratch (the warm medians above)")
    for r in rows_c:
        parts = []
        for tol in (1e-2, 1e-4):
            kp, sp_, kz, sz = r[f"to{tol:g}"]
            parts.append(f"{tol:g}: {kp} cyc {sp_:.3f} s / {kz} cyc {sz:.3f} s")
        print(f"  {r['nodes']:7d} nodes: " + "; ".join(parts)
              + f"; direct {r['direct'][0]:.3f} s, AMG-CG {r['amg'][0]:.3f} s")
    return rows


def main() -> None:
    import argparse
    import contextlib
    import io
    import sys

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--artifact", required=True, help="Darcy artifact")
    ap.add_argument("--hs", default="0.02,0.0048,0.0015", help="mesh sizes")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=None, help="also write the output to this file")
    args = ap.parse_args()
    from gnnops.inference import Predictor

    model = Predictor.from_artifact(args.artifact)
    buf = io.StringIO()

    class Tee(io.TextIOBase):
        def write(self, text: str) -> int:
            sys.__stdout__.write(text)
            sys.__stdout__.flush()
            return buf.write(text)

    t0 = time.perf_counter()
    with contextlib.redirect_stdout(Tee()):
        print(f"artifact {args.artifact}; {time.strftime('%Y-%m-%d')}; OMP_NUM_THREADS="
              f"{__import__('os').environ.get('OMP_NUM_THREADS', 'unset')}")
        cost_tables(model, tuple(float(h) for h in args.hs.split(",")), repeats=args.repeats)
        print(f"total {time.perf_counter() - t0:.0f} s")
    if args.out:
        from pathlib import Path

        Path(args.out).write_text(buf.getvalue())


if __name__ == "__main__":
    main()

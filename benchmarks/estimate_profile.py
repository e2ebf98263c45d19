"""Where the time of one warm error estimate goes on a small mesh (Darcy, unit square).

Interleaves ``--repeats`` warm estimates (a mesh seen before, a new coefficient each time:
assembly, Galerkin products through the cached maps, AMG-CG, flux recovery) with direct
solves of the same inputs and, where the compiled kernel of the algebraic part
(``gnnops.problems._native``) is built, with the same estimates through the Python path
(``GNNOPS_NATIVE=0``); prints the medians and the ratios to the direct solve, then profiles
the estimates (cProfile) and prints the calls and seconds per estimate spent in the
compiled kernels (ours, scipy's sparse mat-vec, pyamg's Gauss-Seidel) and in the flux
recovery: the floor below which Python-level tuning cannot bring the estimate.

    OMP_NUM_THREADS=1 python benchmarks/estimate_profile.py [--h 0.02] [--repeats 37]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import time
from collections.abc import Callable

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--h", type=float, default=0.02, help="mesh size (0.02: ~3k nodes)")
    ap.add_argument("--repeats", type=int, default=37)
    args = ap.parse_args()
    from gnnops.meshing import make_geometry
    from gnnops.problems import _native, get
    from gnnops.problems._fem import fem_mesh

    darcy = get("darcy")
    fm = fem_mesh(make_geometry("unit_square", args.h))
    inps = [darcy.evaluate_inputs(darcy.sample_inputs(np.random.default_rng(k)), fm)
            for k in range(args.repeats + 3)]
    sols = [darcy.solve(fm, method="direct", **i)["u"] for i in inps[:3]]

    def estimate(k: int) -> None:
        fm._store.pop("systems:darcy", None)  # this coefficient's system is new
        darcy.error_estimate(fm, {"u": 1.05 * sols[k % 3]}, **inps[k])

    def direct(k: int) -> None:
        fm._store.pop("systems:darcy", None)
        darcy.solve(fm, method="direct", **inps[k])

    def python_path(k: int) -> None:  # the same estimate without the compiled kernel
        os.environ["GNNOPS_NATIVE"] = "0"
        try:
            estimate(k)
        finally:
            os.environ["GNNOPS_NATIVE"] = native_env

    native_env = os.environ.get("GNNOPS_NATIVE", "1")
    native = _native.library() is not None
    for k in range(3):  # warm: the mesh's prolongators and Galerkin maps
        estimate(k)
        python_path(k)
    te, td, tp = [], [], []
    runs = [(estimate, te), (direct, td)] + ([(python_path, tp)] if native else [])
    for k in range(3, args.repeats + 3):
        for fn, out in runs:
            t = time.perf_counter()
            fn(k)
            out.append(time.perf_counter() - t)

    def ms(t: list[float]) -> str:
        return f"{1e3 * np.median(t):.2f} ms [{1e3 * min(t):.2f} - {1e3 * max(t):.2f}]"

    kind = "compiled kernel" if native else f"Python path ({_native.build_error() or 'off'})"
    print(f"{fm.n_nodes} nodes, {args.repeats} interleaved repeats: estimate ({kind}) {ms(te)}, "
          f"direct solve {ms(td)}, ratio {np.median(te) / np.median(td):.3f}")
    if native:
        print(f"  the Python path in the same rounds: {ms(tp)}, ratio "
              f"{np.median(tp) / np.median(td):.3f}")
    _profile(estimate, args.repeats, float(np.median(td)))


def _profile(estimate: Callable[[int], None], repeats: int, direct_s: float) -> None:
    """Print the calls and seconds per estimate in the compiled kernels and the recovery."""
    prof = cProfile.Profile()
    prof.enable()
    for k in range(3, repeats + 3):
        estimate(k)
    prof.disable()
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    n = repeats
    total = 0.0
    # (label, function name, file suffix or "~" for a compiled builtin (own time), else
    # the Python function's cumulative time)
    for label, key, where in (
            ("compiled kernel (NativePlan.algebraic_error)", "algebraic_error", "_native.py"),
            ("sparse mat-vec (scipy csr_matvec)", "csr_matvec", "~"),
            ("Gauss-Seidel sweeps (pyamg)", "gauss_seidel", "~"),
            ("flux recovery (simplex_recovery, cumulative)", "simplex_recovery", ".py")):
        rows = [(v[1], v[2] if where == "~" else v[3]) for (f, _line, name), v in stats.items()
                if (where == "~" and f == "~" and key in name)
                or (where != "~" and name == key and f.endswith(where))]
        calls, secs = sum(r[0] for r in rows), sum(r[1] for r in rows)
        total += secs
        print(f"  {label:46s} {calls / n:6.1f} calls, {1e3 * secs / n:.2f} ms per estimate")
    print(f"  these alone: {1e3 * total / n:.2f} ms per estimate; a tenth of the direct solve: "
          f"{1e2 * direct_s:.2f} ms")


if __name__ == "__main__":
    main()

"""The direct solve's ordering: SuperLU's default (COLAMD, partial pivoting) against
:func:`gnnops.problems._linear.factorize` (minimum degree on ``A + A^T``, no pivoting, for
symmetric matrices with a positive diagonal), on Darcy P1 systems of several sizes.

Both factorize and solve the same free-dof system, interleaved, ``--reps`` times; prints
the median [min - max] of each, their ratio, the fill (nnz of L + U) and the largest
relative difference of the two solutions.

    OMP_NUM_THREADS=1 python benchmarks/direct_ordering.py [--reps 5]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

CASES = (("unit_square", 0.02), ("l_shape", 0.01), ("unit_square", 0.005),
         ("unit_square", 0.004), ("unit_square", 0.0025))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    import scipy.sparse.linalg as spla

    from gnnops.meshing import make_geometry
    from gnnops.problems import get
    from gnnops.problems._fem import fem_mesh
    from gnnops.problems._linear import factorize

    darcy = get("darcy")
    print(f"{'mesh':22s} {'nodes':>7s} {'COLAMD ms':>22s} {'symmetric ms':>22s} {'ratio':>6s} "
          f"{'fill COLAMD':>12s} {'fill sym':>10s} {'max rel diff':>12s}")
    for geo, h in CASES:
        fm = fem_mesh(make_geometry(geo, h))
        inputs = darcy.evaluate_inputs(darcy.sample_inputs(np.random.default_rng(0)), fm)
        a, b = darcy.system(fm, **inputs).reduced()
        a = a.tocsc()
        times: dict[str, list[float]] = {"colamd": [], "sym": []}
        sols, fill = {}, {}
        for _ in range(args.reps):
            for key in times:
                t = time.perf_counter()
                lu = spla.splu(a) if key == "colamd" else factorize(a, check=False)
                sols[key] = lu.solve(b)
                times[key].append(time.perf_counter() - t)
                f = lu if key == "colamd" else lu.lu
                fill[key] = f.L.nnz + f.U.nnz
        med = {k: 1e3 * float(np.median(v)) for k, v in times.items()}
        span = {k: f"{med[k]:.1f} [{1e3 * min(v):.1f}-{1e3 * max(v):.1f}]"
                for k, v in times.items()}
        diff = float(np.abs(sols["sym"] - sols["colamd"]).max() / np.abs(sols["colamd"]).max())
        print(f"{geo + ' h=' + str(h):22s} {fm.n_nodes:7d} {span['colamd']:>22s} "
              f"{span['sym']:>22s} {med['sym'] / med['colamd']:6.2f} {fill['colamd']:12d} "
              f"{fill['sym']:10d} {diff:12.1e}", flush=True)


if __name__ == "__main__":
    main()

"""Data-generation speed for Darcy (FNO inputs) on unit-square gmsh meshes.

Prints, per mesh size: nodes, samples, workers, samples per second (end to end,
meshing included, and excluding meshing) and the share of time spent in meshing,
input drawing + evaluation, assembly + solve, and writing the VTU files (shares
of the summed per-stage time; with 2 workers the per-sample stages run in
parallel so their sum exceeds the wall time), then the meshing seconds and the
assembly + solve seconds per sample.

    python benchmarks/generate.py                 # ~1k, ~10k, ~100k nodes
    python benchmarks/generate.py --quick         # ~1k only
"""

from __future__ import annotations

import argparse
import tempfile

from gnnops import problems
from gnnops.data import GenerateSpec, run_generation

# (h, samples, workers): unit_square(h) has about 1.15 / h^2 nodes
CASES = [(0.035, 60, 1), (0.035, 60, 2), (0.0108, 12, 2), (0.0034, 4, 2)]


def bench(h: float, n: int, workers: int) -> dict:
    spec = GenerateSpec.from_dict({"problem": "darcy", "problem_options": {"kind": "fno"},
                                   "resolutions": [h], "n_train": n, "n_val": 0, "n_test": 0})
    with tempfile.TemporaryDirectory(prefix="gnnops-bench-") as tmp:
        res = run_generation(spec, tmp, workers=workers, progress=False)
    t = res.timings
    wall = t["wall"]  # from the first mesh to the manifest (imports excluded)
    stages = {"mesh": t["meshing"], "inputs": t["inputs"], "solve": t["solve"],
              "write": t["write"]}
    total = sum(stages.values())
    return {"nodes": res.nodes_per_resolution[0], "n": n, "workers": workers,
            "rate": n / wall, "rate_nomesh": n / max(wall - t["meshing"], 1e-9),
            "solve_s": t["solve"] / n, "mesh_s": t["meshing"],
            **{k: v / total for k, v in stages.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the ~1k-node cases")
    args = parser.parse_args()
    cases = CASES[:2] if args.quick else CASES
    problems.get("darcy")  # imports (scikit-fem, ...) outside the timings
    head = (f"{'nodes':>7} {'samples':>7} {'workers':>7} {'samples/s':>9} {'w/o mesh':>9} "
            f"{'mesh':>6} {'inputs':>6} {'solve':>6} {'write':>6} {'mesh s':>7} {'solve s':>8}")
    print(head)
    print("-" * len(head))
    for h, n, w in cases:
        r = bench(h, n, w)
        print(f"{r['nodes']:>7} {r['n']:>7} {r['workers']:>7} {r['rate']:>9.1f} "
              f"{r['rate_nomesh']:>9.1f} {r['mesh']:>6.0%} {r['inputs']:>6.0%} "
              f"{r['solve']:>6.0%} {r['write']:>6.0%} {r['mesh_s']:>7.2f} {r['solve_s']:>8.3f}",
              flush=True)


if __name__ == "__main__":
    main()

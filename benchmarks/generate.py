"""Data-generation speed for Darcy (FNO inputs) on unit-square gmsh meshes.

Prints, per mesh size: nodes, samples, workers, samples per second (end to end,
meshing included, and excluding meshing) and the share of time spent in meshing,
input drawing + evaluation, assembly + solve, and writing the VTU files (shares
of the summed per-stage time; with 2 workers the per-sample stages run in
parallel so their sum exceeds the wall time), then the meshing seconds and the
assembly + solve seconds per sample.

    python benchmarks/generate.py                 # ~1k, ~10k, ~100k nodes
    python benchmarks/generate.py --quick         # ~1k only
    python benchmarks/generate.py --scale         # ~10k, ~100k: 1 worker, 2 workers, 2 shards

``--scale`` compares, at ~10k and ~100k nodes, one process with 1 and 2 workers and two
concurrent ``--shard I/2`` processes writing one folder (what array jobs do). Shard
samples/s uses the slower shard's own wall time (meshing included, interpreter start and
imports excluded); ``e2e`` adds the processes' start-up (launch to the merged manifest).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time

from gnnops import problems
from gnnops.data import GenerateSpec, run_generation

# (h, samples, workers): unit_square(h) has about 1.15 / h^2 nodes
CASES = [(0.035, 60, 1), (0.035, 60, 2), (0.0108, 12, 2), (0.0034, 4, 2)]
SCALE = [(0.0108, 8), (0.0034, 4)]  # ~10k and ~100k nodes
_SHARD = ("import json, sys; from gnnops.data import run_generation; "
          "r = run_generation(json.loads(sys.argv[1]), sys.argv[2], shard=sys.argv[3], "
          "progress=False); print(json.dumps({'wall': r.timings['wall'], 'new': r.new, "
          "'nodes': r.nodes_per_resolution[0], 'complete': r.complete}))")


def _spec(h: float, n: int) -> dict:
    return {"problem": "darcy", "problem_options": {"kind": "fno"}, "resolutions": [h],
            "n_train": n, "n_val": 0, "n_test": 0}


def bench_shards(h: float, n: int, shards: int = 2) -> dict:
    """``shards`` concurrent shard processes into one folder: samples/s of the slower one."""
    with tempfile.TemporaryDirectory(prefix="gnnops-bench-") as tmp:
        t0 = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, "-c", _SHARD, json.dumps(_spec(h, n)), tmp,
                                   f"{i}/{shards}"], stdout=subprocess.PIPE, text=True)
                 for i in range(shards)]
        outs = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
        e2e = time.perf_counter() - t0
    assert sum(o["new"] for o in outs) == n and any(o["complete"] for o in outs)
    wall = max(o["wall"] for o in outs)
    return {"nodes": outs[0]["nodes"], "n": n, "rate": n / wall, "e2e": n / e2e}


def scale() -> None:
    """The ``--scale`` table: 1 worker, 2 workers, 2 shards at ~10k and ~100k nodes."""
    head = f"{'nodes':>7} {'samples':>7} {'mode':>10} {'samples/s':>9} {'e2e /s':>7}"
    print(head)
    print("-" * len(head))
    for h, n in SCALE:
        for mode in ("1 worker", "2 workers", "2 shards"):
            if mode == "2 shards":
                r = bench_shards(h, n)
                e2e = f"{r['e2e']:>7.2f}"
            else:
                r = bench(h, n, int(mode[0]))
                e2e = f"{'':>7}"
            print(f"{r['nodes']:>7} {r['n']:>7} {mode:>10} {r['rate']:>9.2f} {e2e}", flush=True)


def bench(h: float, n: int, workers: int) -> dict:
    spec = GenerateSpec.from_dict(_spec(h, n))
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
    parser.add_argument("--scale", action="store_true",
                        help="~10k / ~100k nodes: 1 worker vs 2 workers vs 2 shard processes")
    args = parser.parse_args()
    if args.scale:
        problems.get("darcy")
        return scale()
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

"""Inference throughput and memory: nodes per second and peak memory per node, 1k -> 1M nodes.

Structured triangle meshes of the unit square (numpy-built ``meshio.Mesh``, n x n points)
with a smooth input field; a MeshGraphNet artifact (random weights: speed does not depend
on training). Each size runs in a fresh subprocess so its peak RSS is its own; the table
gives the wall time of ``Predictor.predict`` split into graph building (mesh -> Data) and
model (partitioned forward), nodes per second, and peak memory per node (peak RSS during
prediction minus RSS before it, over N). ``--whole-max`` also runs the model on the whole
graph (no partitions) up to that size, for comparison. The log-log slope of time vs nodes
is fitted over all sizes, over the sizes >= 16k, and over the partitioned regime (more
nodes than one part), where the per-part cost and the halo overhead are constant, so
time is linear in N (target <= 1.05).

    python benchmarks/inference.py                 # 1k .. 1M nodes
    python benchmarks/inference.py --sides 100 178 316 562 1000   # 10k .. 1M, log-spaced
    python benchmarks/inference.py --sides 32 64 128 --latent 64 --depth 15
    python benchmarks/inference.py --model default --sides 124 --whole-max 0 --repeats 3
    python benchmarks/inference.py --model gno --sides 124 --whole-max 0 --repeats 1

``--model default`` uses the model of configs/default.yaml (the Transolver, with the wall
distance feature and the Dirichlet factor of the default recipe). ``--model gno`` uses the
GNO that was the default before it (radius 0.25: whole balls at inference, ~0.15 N^2 edges
per layer; its forward bounds memory itself, so "part" and "whole" are the same run).
The table's peak MB is the peak RSS increment over the RSS before predicting (torch and
the artifact already loaded); the process's total peak RSS is printed under it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# libgomp threads spin-wait by default; on a shared, oversubscribed machine a spinning
# thread holds a core the other threads need, and a 2-thread train step ran 3.7x SLOWER
# than 1 thread (7.7 s vs 2.1 s, load ~10 on 2 cores). PASSIVE waiting removes that.
# torch is imported lazily (here and in the per-size subprocesses, which inherit it), so
# setting it at import time is early enough; run with OMP_WAIT_POLICY=ACTIVE to override.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

def square_mesh(n: int):
    import meshio

    t = np.linspace(0.0, 1.0, n)
    X, Y = np.meshgrid(t, t, indexing="xy")
    pts = np.column_stack([X.ravel(), Y.ravel()])
    idx = np.arange(n * n).reshape(n, n)
    v0, v1, v2, v3 = (idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel(), idx[1:, 1:].ravel(),
                      idx[1:, :-1].ravel())
    tri = np.concatenate([np.column_stack([v0, v1, v2]), np.column_stack([v0, v2, v3])])
    a = 7.5 + 4.5 * np.sin(2 * np.pi * pts[:, 0]) * np.cos(np.pi * pts[:, 1])
    return meshio.Mesh(pts, [("triangle", tri)], point_data={"a": a})


#: the GNO of the default run before it became the Transolver (issue 11's measurement)
GNO_KWARGS = {"width": 32, "depth": 4, "radius": 0.25, "kernel": "lowrank", "rank": 4,
              "kernel_hidden": 64, "train_neighbors": 32}


def default_model() -> tuple[str, dict]:
    """``model.name`` and ``model.kwargs`` of configs/default.yaml (the default Darcy run)."""
    import yaml

    cfg = yaml.safe_load((Path(__file__).resolve().parents[1] / "configs" / "default.yaml")
                         .read_text())
    return cfg["model"]["name"], dict(cfg["model"]["kwargs"])


def model_kwargs(model: str) -> tuple[str, dict]:
    """Registry name and kwargs of ``--model`` (``default``: configs/default.yaml's)."""
    return default_model() if model == "default" else (model, dict(GNO_KWARGS))


def make_artifact(path: Path, latent: int, depth: int, model: str = "meshgraphnet") -> Path:
    import torch

    from gnnops.graphs import from_meshio
    from gnnops.models import build
    from gnnops.surrogate.artifact import save_artifact
    from gnnops.surrogate.recipe import make_recipe
    from gnnops.surrogate.surrogate import Surrogate

    torch.manual_seed(0)
    g = from_meshio(square_mesh(33), inputs=["a"])
    features = ["pos"] if model == "meshgraphnet" else []  # the GNO lifts pos itself
    name, kwargs = ("meshgraphnet", {}) if model == "meshgraphnet" else model_kwargs(model)
    extra = {}
    if model == "default":  # what the default run's recipe adds: wall distance, Dirichlet
        features = ["wall_distance"]
        extra = {"hard_dirichlet": True, "dirichlet_length": 0.1 * 2 ** 0.5}
    recipe = make_recipe([g], inputs=["a"], input_dims=[1], targets=["u"], target_dims=[1],
                         features=features, problem=None, **extra)
    f_in = 1 + (2 if "pos" in features else 0) + ("wall_distance" in features)
    if model == "meshgraphnet":
        net = build("meshgraphnet", in_channels=f_in, out_channels=1, edge_dim=3, pos_dim=2,
                    latent=latent, depth=depth)
    else:
        net = build(name, in_channels=f_in, out_channels=1, edge_dim=0, pos_dim=2, **kwargs)
    norms = {"x.mean": torch.zeros(f_in), "x.std": torch.ones(f_in),
             "y.mean": torch.zeros(1), "y.std": torch.ones(1)}
    sur = Surrogate(net, model_name=name, model_kwargs=net.config(), recipe=recipe,
                    normalizers=norms)
    return save_artifact(path, sur.to_artifact(problem=None, config={}, metrics={}))


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize()


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS counter (VmHWM) of this process; False if not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _peak_bytes() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def one(artifact: str, side: int, max_nodes: int, repeats: int, threads: int) -> dict:
    """Runs in the subprocess: predict on a side x side mesh."""
    import torch

    import gnnops

    if threads > 0:
        torch.set_num_threads(threads)
    model = gnnops.load(artifact, max_nodes=max_nodes)
    model.predict(square_mesh(8))  # warm-up
    mesh = square_mesh(side)
    before = _rss_bytes()
    _reset_peak()
    best = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        pred = model.predict(mesh)
        wall = time.perf_counter() - t0
        if best is None or wall < best[0]:
            best = (wall, pred.timings)
    peak = _peak_bytes()
    n = side * side
    return {"nodes": n, "seconds": best[0], "graph": best[1]["graph"],
            "model": best[1]["model"], "peak_bytes": peak - before,
            "threads": torch.get_num_threads(), "total_peak_bytes": peak}


def matmul_gflops(threads: int) -> float:
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    a @ b
    t0 = time.perf_counter()
    for _ in range(3):
        a @ b
    return 3 * 2 * 2048**3 / (time.perf_counter() - t0) / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sides", type=int, nargs="+", default=[32, 64, 128, 256, 512, 1024])
    ap.add_argument("--latent", type=int, default=32)
    ap.add_argument("--depth", type=int, default=8)
    ap.add_argument("--max-nodes", type=int, default=16_384, help="partition size")
    ap.add_argument("--whole-max", type=int, default=300_000,
                    help="also run unpartitioned up to this many nodes (0: never)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    ap.add_argument("--repeats", type=int, default=2, help="best of this many runs per size")
    ap.add_argument("--model", choices=["meshgraphnet", "gno", "default"],
                    default="meshgraphnet",
                    help="default: the model of configs/default.yaml; gno: the earlier "
                         "default GNO (--latent/--depth unused for both)")
    ap.add_argument("--one", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        art, side, max_nodes, repeats, threads = args.one
        print(json.dumps(one(art, int(side), int(max_nodes), int(repeats), int(threads))))
        return
    import torch

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        art = make_artifact(Path(tmp) / "bench.pt", args.latent, args.depth, args.model)
        what = (f"MeshGraphNet latent {args.latent}, depth {args.depth}; partitions of "
                f"<= {args.max_nodes} core nodes" if args.model == "meshgraphnet" else
                f"GNO {GNO_KWARGS} (the default run's model before the Transolver); whole "
                f"balls at inference, layer by layer over blocks of targets"
                if args.model == "gno" else
                f"{' '.join(map(str, default_model()))} (configs/default.yaml), wall "
                f"distance feature and Dirichlet factor")
        print(f"{what}; torch threads {torch.get_num_threads()}; "
              f"fp32 matmul 2048^2: {matmul_gflops(torch.get_num_threads()):.0f} GFLOP/s")
        results = run_sizes(art, args)
        print_slopes(results, args.max_nodes)


def run_sizes(art: Path, args: argparse.Namespace) -> dict[str, list[dict]]:
    """Each mesh size in a fresh subprocess (partitioned, and whole up to ``--whole-max``);
    prints one table row per run and returns the rows by mode."""
    head = (f"{'mode':>6} {'nodes':>9} {'total s':>8} {'graph s':>8} {'model s':>8} "
            f"{'nodes/s':>10} {'peak MB':>8} {'B/node':>7}")
    print(head)
    print("-" * len(head))
    results: dict[str, list[dict]] = {"part": [], "whole": []}
    for side in args.sides:
        n = side * side
        modes = [("part", args.max_nodes)]
        if n <= args.whole_max:
            modes.append(("whole", 10**12))
        for mode, mx in modes:
            # the same number of repeats at every size: best-of-3 at small sizes and
            # a single run at large ones biased the slope upward on a noisy machine
            reps = args.repeats
            out = subprocess.run([sys.executable, __file__, "--one", str(art), str(side),
                                  str(mx), str(reps), str(args.threads)],
                                 capture_output=True, text=True,
                                 check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            results[mode].append(r)
            print(f"{mode:>6} {r['nodes']:>9} {r['seconds']:>8.3f} {r['graph']:>8.3f} "
                  f"{r['model']:>8.3f} {r['nodes'] / r['seconds']:>10.0f} "
                  f"{r['peak_bytes'] / 2**20:>8.1f} {r['peak_bytes'] / r['nodes']:>7.0f}",
                  flush=True)
            print(f"{'':>6} (process peak RSS {r['total_peak_bytes'] / 2**20:.0f} MB)")
    return results


def print_slopes(results: dict[str, list[dict]], max_nodes: int) -> None:
    """Log-log slopes of time against nodes over several size ranges."""
    fits = [("all sizes", results["part"]),
            ("10k .. 1M nodes (the target range)",
             [r for r in results["part"] if 10_000 <= r["nodes"] <= 1_000_000]),
            ("sizes >= 16k", [r for r in results["part"] if r["nodes"] >= 16_000]),
            (f"partitioned regime, > {max_nodes} nodes",
             [r for r in results["part"] if r["nodes"] > max_nodes])]
    for label, rows in fits:
        if len(rows) < 2:
            continue
        n = np.log([r["nodes"] for r in rows])
        slopes = [np.polyfit(n, np.log([r[k] for r in rows]), 1)[0]
                  for k in ("seconds", "graph", "model")]
        print(f"log-log slope vs nodes ({label}): total {slopes[0]:.3f}, graph "
              f"{slopes[1]:.3f}, model {slopes[2]:.3f}")


if __name__ == "__main__":
    main()

"""Peak memory of ``gnnops predict --jobs 2`` against the number of input files.

Writes N small meshes (50, 200, 500 by default), runs ``gnnops predict ARTIFACT DIR --out
OUT --jobs 2`` in a fresh subprocess for each N and reports the subprocess's peak resident
memory (``ru_maxrss`` of the finished child, via ``resource.getrusage(RUSAGE_CHILDREN)``
read in a one-shot wrapper process so each N is measured alone). Batch prediction streams:
at most ``2 * jobs`` files are in memory, so the peak must stay flat (within 20 %).

    python benchmarks/batch.py [--counts 50 200 500] [--side 12]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

WRAPPER = """
import resource, subprocess, sys
rc = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
print(rc, peak)
"""


def _artifact(path: Path) -> Path:
    import torch

    from gnnops.graphs import from_meshio
    from gnnops.models import build
    from gnnops.surrogate.artifact import save_artifact
    from gnnops.surrogate.recipe import make_recipe
    from gnnops.surrogate.surrogate import Surrogate

    torch.manual_seed(0)
    m = _mesh(9, 0)
    g = from_meshio(m, inputs=["a"], targets=["a"])
    recipe = make_recipe([g], inputs=["a"], input_dims=[1], targets=["u"], target_dims=[1],
                         features=["pos"], problem=None)
    net = build("meshgraphnet", in_channels=3, out_channels=1, edge_dim=3, pos_dim=2,
                latent=16, depth=3)
    norms = {"x.mean": torch.tensor([7.5, 0.5, 0.5]), "x.std": torch.tensor([3.0, 0.3, 0.3]),
             "y.mean": torch.tensor([0.0]), "y.std": torch.tensor([1.0])}
    sur = Surrogate(net, model_name="meshgraphnet", model_kwargs=net.config(), recipe=recipe,
                    normalizers=norms)
    return save_artifact(path, sur.to_artifact(problem=None, config={}, metrics={}))


def _mesh(n: int, seed: int):
    import meshio

    t = np.linspace(0.0, 1.0, n)
    X, Y = np.meshgrid(t, t, indexing="xy")
    pts = np.column_stack([X.ravel(), Y.ravel(), np.zeros(n * n)])
    idx = np.arange(n * n).reshape(n, n)
    v0, v1, v2, v3 = (idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel(), idx[1:, 1:].ravel(),
                      idx[1:, :-1].ravel())
    tri = np.concatenate([np.column_stack([v0, v1, v2]), np.column_stack([v0, v2, v3])])
    a = 7.5 + 4.5 * np.sin(2 * np.pi * (pts[:, 0] + 0.01 * seed)) * np.cos(np.pi * pts[:, 1])
    return meshio.Mesh(pts, [("triangle", tri)], point_data={"a": a})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[50, 200, 500])
    parser.add_argument("--side", type=int, default=12, help="points per side of each mesh")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()

    from gnnops.graphs import write_mesh

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        art = _artifact(root / "model.pt")
        src = root / "all"
        src.mkdir()
        for i in range(max(args.counts)):
            write_mesh(_mesh(args.side, i), src / f"m{i:04d}.vtu")
        rows = []
        for n in args.counts:
            inp = root / f"in{n}"
            inp.mkdir()
            for i in range(n):
                (inp / f"m{i:04d}.vtu").symlink_to(src / f"m{i:04d}.vtu")
            cmd = [sys.executable, "-c", WRAPPER, sys.executable, "-m", "gnnops.cli",
                   "predict", str(art), str(inp), "--out", str(root / f"out{n}"),
                   "--jobs", str(args.jobs), "--no-progress"]
            t0 = time.perf_counter()
            rc, peak_kib = subprocess.run(cmd, capture_output=True, text=True,
                                          check=True).stdout.split()
            secs = time.perf_counter() - t0
            written = len(list((root / f"out{n}").glob("m*.vtu")))
            rows.append((n, int(rc), written, int(peak_kib) / 1024, secs))
        base = rows[0][3]
        print(f"gnnops predict --jobs {args.jobs}, meshes of {args.side}x{args.side} points "
              f"({2 * (args.side - 1) ** 2} triangles)")
        print(f"{'files':>6} {'exit':>4} {'written':>7} {'peak RSS MiB':>12} "
              f"{'vs first':>8} {'seconds':>8}")
        for n, rc, written, mib, secs in rows:
            print(f"{n:>6} {rc:>4} {written:>7} {mib:>12.1f} {mib / base:>8.3f} {secs:>8.1f}")
        spread = max(r[3] for r in rows) / min(r[3] for r in rows) - 1
        verdict = "flat" if spread <= 0.20 else "NOT flat"
        print(f"peak memory spread: {100 * spread:.1f} % ({verdict}; limit 20 %)")


if __name__ == "__main__":
    main()

"""Peak memory per rank of distributed prediction (one mesh across ranks) vs one rank.

Builds an n x n unit-square triangle mesh and an untrained MeshGraphNet (``--model
meshgraphnet``, halo'd parts) or Transolver (``--model transolver``, the default config's
64 x 4 with 32 slices: parts without halo, slice sums all-reduced) artifact (weights do not
change memory or time), then runs ``torchrun --nproc_per_node=R -m
gnnops.inference.distributed_predict`` for R = 1 and 2, with one pass per rank part
(``--max-nodes 0``) and with the default bounded pieces, and prints each rank's peak RSS
(``ru_maxrss``), the ratio of the largest rank's peak to the one-rank peak, and the wall
time. Every rank imports torch (~0.3-0.4 GB of the RSS before any mesh).

    python benchmarks/distributed_predict.py --side 450 --latent 64 --depth 4
    python benchmarks/distributed_predict.py --model transolver --side 3163 --max-nodes 0
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


def _worker(argv: list[str], report: str) -> int:
    from gnnops.inference.distributed_predict import main

    code = main(argv)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    with open(f"{report}.rank{os.environ.get('RANK', '0')}", "w") as fh:
        json.dump({"peak_gib": peak}, fh)
    return code


def _setup(tmp: Path, side: int, latent: int, depth: int, model: str = "meshgraphnet"
           ) -> tuple[Path, Path]:
    import meshio
    import numpy as np
    import torch

    from gnnops.graphs import from_meshio
    from gnnops.models import build
    from gnnops.surrogate.artifact import save_artifact
    from gnnops.surrogate.recipe import make_recipe
    from gnnops.surrogate.surrogate import Surrogate

    def square(n: int) -> meshio.Mesh:
        t = np.linspace(0.0, 1.0, n)
        X, Y = np.meshgrid(t, t, indexing="xy")
        idx = np.arange(n * n).reshape(n, n)
        v0, v1, v2, v3 = (idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel(), idx[1:, 1:].ravel(),
                          idx[1:, :-1].ravel())
        tri = np.concatenate([np.column_stack([v0, v1, v2]), np.column_stack([v0, v2, v3])])
        pts = np.column_stack([X.ravel(), Y.ravel(), np.zeros(n * n)])
        x, y = pts[:, 0], pts[:, 1]
        a = 7.5 + 4.5 * np.sin(2 * np.pi * x) * np.cos(np.pi * y)
        return meshio.Mesh(pts, [("triangle", tri)], point_data={"a": a, "u": x * (1 - x)})

    torch.manual_seed(0)
    g = from_meshio(square(9), inputs=["a"], targets=["u"])
    recipe = make_recipe([g], inputs=["a"], input_dims=[1], targets=["u"], target_dims=[1],
                         features=["pos"], problem=None)
    if model == "transolver":
        net = build("transolver", in_channels=3, out_channels=1, edge_dim=3, pos_dim=2,
                    width=latent, depth=depth, heads=4, slices=32, fourier=16)
    else:
        net = build("meshgraphnet", in_channels=3, out_channels=1, edge_dim=3, pos_dim=2,
                    latent=latent, depth=depth, hidden_layers=1)
    norms = {"x.mean": torch.tensor([7.5, 0.5, 0.5]), "x.std": torch.tensor([3.0, 0.3, 0.3]),
             "y.mean": torch.tensor([0.1]), "y.std": torch.tensor([0.05])}
    sur = Surrogate(net, model_name=model, model_kwargs=net.config(), recipe=recipe,
                    normalizers=norms)
    art = save_artifact(tmp / "model.pt", sur.to_artifact(problem=None, config={}, metrics={}))
    mesh = tmp / "big.vtu"
    meshio.write(mesh, square(side))
    return art, mesh


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=450, help="mesh side (side^2 nodes)")
    parser.add_argument("--model", default="meshgraphnet",
                        choices=["meshgraphnet", "transolver"])
    parser.add_argument("--latent", type=int, default=64, help="latent / width")
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--max-nodes", nargs="+", default=["0", "16384"],
                        help="--max-nodes values to run (0: one pass per rank part)")
    parser.add_argument("--root-share", nargs="+", default=["none"],
                        help="rank 0's node fractions to run with several ranks (none: equal "
                             "parts)")
    parser.add_argument("--worker", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        sys.exit(_worker(args.worker[1:], args.worker[0]))
    with tempfile.TemporaryDirectory(prefix="gnnops-dist-") as tmp_s:
        tmp = Path(tmp_s)
        t0 = time.perf_counter()
        art, mesh = _setup(tmp, args.side, args.latent, args.depth, args.model)
        print(f"mesh {args.side}x{args.side} = {args.side**2} nodes (written in "
              f"{time.perf_counter() - t0:.0f} s); {args.model} latent "
              f"{args.latent}, depth {args.depth}; OMP_NUM_THREADS=1 per rank")
        print(f"{'max-nodes':>10} {'ranks':>5} {'root share':>10} {'peak GiB per rank':>24} "
              f"{'max/1-rank':>10} {'wall s':>7}")
        runs = [(m, r, sh) for m in args.max_nodes for r in args.ranks
                for sh in (["none"] if r == 1 else args.root_share)]
        one: dict[str, float] = {}
        for max_nodes, ranks, share in runs:
            rep = tmp / f"rep-{max_nodes}-{ranks}-{share}"
            extra = [] if share == "none" else ["--root-share", share]
            t0 = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-m", "torch.distributed.run", "--standalone",
                 f"--nproc_per_node={ranks}", __file__, "--worker", str(rep), str(art),
                 str(mesh), "--out", str(tmp / f"out-{max_nodes}-{ranks}-{share}"),
                 "--max-nodes", max_nodes, "--quiet", "--overwrite", *extra],
                env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True)
            wall = time.perf_counter() - t0
            if proc.returncode != 0:
                sys.exit(proc.stderr[-3000:])
            peaks = [json.loads(Path(f"{rep}.rank{r}").read_text())["peak_gib"]
                     for r in range(ranks)]
            one.setdefault(max_nodes, max(peaks))  # the first run of each: one rank
            shown = " ".join(f"{p:.2f}" for p in peaks)
            print(f"{max_nodes:>10} {ranks:>5} {share:>10} {shown:>24} "
                  f"{max(peaks) / one[max_nodes]:>10.2f} {wall:>7.1f}", flush=True)


if __name__ == "__main__":
    main()

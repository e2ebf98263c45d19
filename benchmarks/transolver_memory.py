"""Peak memory and time of Transolver inference on a large point set (chunked streaming).

Usage: ``python benchmarks/transolver_memory.py [--nodes 1000000] [--chunk 65536]``

Runs the default-size model (width 64, depth 4, 4 heads, 32 slices, 16 Fourier features)
in inference mode on ``--nodes`` random points of the unit square with uniform volumes,
in a fresh subprocess per setting, and prints the peak resident memory above the
process's baseline (model built, inputs allocated) per node.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time, torch
from torch_geometric.data import Data
from gnnops.models import build
n, chunk = int(sys.argv[1]), int(sys.argv[2])
torch.manual_seed(0)
m = build("transolver", in_channels=2, out_channels=1, pos_dim=2, width=64, depth=4,
          heads=4, slices=32, fourier=16, chunk=chunk).eval()
pos = torch.rand(n, 2)
d = Data(x=torch.rand(n, 2), pos=pos, node_volume=torch.full((n,), 1.0 / n),
         edge_index=torch.zeros(2, 0, dtype=torch.long))
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
with torch.inference_mode():
    y = m(d)
dt = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"nodes": n, "chunk": chunk, "seconds": dt, "base_kb": base,
                  "peak_kb": peak, "finite": bool(torch.isfinite(y).all())}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--chunk", type=int, default=65536)
    args = ap.parse_args()
    print(f"{'nodes':>10} {'chunk':>7} {'seconds':>8} {'extra peak MB':>14} {'bytes/node':>11}")
    for n in args.nodes:
        out = subprocess.run([sys.executable, "-c", CHILD, str(n), str(args.chunk)],
                             capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        extra = (r["peak_kb"] - r["base_kb"]) * 1024
        print(f"{n:>10} {args.chunk:>7} {r['seconds']:>8.2f} {extra / 2**20:>14.1f} "
              f"{extra / n:>11.0f}{'' if r['finite'] else '  (non-finite output!)'}")


if __name__ == "__main__":
    main()

"""Where one MeshGraphNet train step spends its time, op by op (CPU).

Times every aten op of one AdamW train step (MeshGraphNet 15 x 128, the 12,100-node mesh of
``benchmarks/models.py``) under a ``TorchDispatchMode`` and sums them per op and per class:
matrix products (``mm``, ``addmm``, the CSR sums' ``_sparse_addmm``) against everything
else (norms, activations, adds, casts, gathers). The matrix products' share bounds what
fusing the rest could give: a step cannot be faster than its GEMMs at their measured speed.

    OMP_WAIT_POLICY=PASSIVE python benchmarks/step_breakdown.py [--bf16] [--threads 2]
        [--peer-seconds 3.93]

``--peer-seconds``: a peer's step time (e.g. PhysicsNeMo's median from
``benchmarks/peers.py``) to print the GEMMs' time as a fraction of it.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine  # noqa: E402
from models import square_mesh, train_step_fn  # noqa: E402

GEMMS = ("mm", "addmm", "addmm_", "_sparse_addmm", "bmm", "_linear_pointwise", "linear")


class _OpTimer(TorchDispatchMode):
    """Wall time of every aten op, keyed by op name and large input shapes."""

    def __init__(self) -> None:
        super().__init__()
        self.rec: dict = collections.defaultdict(lambda: [0, 0.0])

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        t = time.perf_counter()
        out = func(*args, **(kwargs or {}))
        dt = time.perf_counter() - t
        shapes = tuple((tuple(a.shape), str(a.dtype).removeprefix("torch."))
                       for a in args if isinstance(a, torch.Tensor)
                       and a.layout == torch.strided and a.numel() > 100_000)
        key = (func.overloadpacket.__name__, shapes)
        self.rec[key][0] += 1
        self.rec[key][1] += dt
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--side", type=int, default=110, help="mesh side (110: 12,100 nodes)")
    ap.add_argument("--peer-seconds", type=float, default=None)
    ap.add_argument("--top", type=int, default=15)
    args = ap.parse_args()
    from gnnops._malloc import reuse_freed_memory
    from gnnops.models import build

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    reuse_freed_memory()
    data = square_mesh(args.side)
    model = build("meshgraphnet", in_channels=2, out_channels=1, edge_dim=3, pos_dim=2,
                  latent=128, depth=15)
    step = train_step_fn(model, data, bf16=args.bf16)
    step()
    step()
    plain = []
    for _ in range(3):
        t = time.perf_counter()
        step()
        plain.append(time.perf_counter() - t)
    timer = _OpTimer()
    with timer:
        t = time.perf_counter()
        step()
        timed = time.perf_counter() - t
    per_op: dict[str, float] = collections.defaultdict(float)
    for (name, _), (_, secs) in timer.rec.items():
        per_op[name] += secs
    total = sum(per_op.values())
    gemm = sum(v for k, v in per_op.items() if k in GEMMS)
    print(f"{machine()}; torch {torch.__version__}")
    print(f"{data.num_nodes} nodes, {data.edge_index.shape[1]} edges, "
          f"{'bf16 autocast' if args.bf16 else 'fp32'}, {args.threads} threads; step "
          f"{sorted(plain)[1]:.3f} s (median of 3), {timed:.3f} s under the op timer, "
          f"ops sum {total:.3f} s")
    print(f"matrix products {gemm:.3f} s ({100 * gemm / total:.0f} % of the ops), "
          f"everything else {total - gemm:.3f} s")
    if args.peer_seconds:
        print(f"matrix products alone = {gemm / args.peer_seconds:.2f} x the peer's "
              f"{args.peer_seconds:.3f} s step")
    print("\nper op (s): " + ", ".join(f"{k} {v:.3f}" for k, v in
                                       sorted(per_op.items(), key=lambda kv: -kv[1])[:12]))
    print(f"\n{'ms':>8s} {'calls':>5s}  op, inputs over 100k elements")
    for (name, shapes), (calls, secs) in sorted(timer.rec.items(),
                                                 key=lambda kv: -kv[1][1])[:args.top]:
        print(f"{1e3 * secs:8.1f} {calls:5d}  {name} {list(shapes)}")


if __name__ == "__main__":
    main()

"""Model speed benchmark: MeshGraphNet 15x128 (split vs plain), GNO, multiscale.

Runs on a triangle mesh of the unit square (~12k nodes, ~72k directed edges; ``--quick``:
~1.6k nodes) and reports, measured in the same run:

- the machine's matrix-multiply peak (torch 4096^2 matmul, fp32 and bf16, ``--threads``);
- MeshGraphNet train step (forward + backward + AdamW step) and inference, with the split
  first edge layer and with a plain reference (gather -> MLP(cat[e, x_j, x_i]) ->
  index_add -> MLP), matmul FLOPs counted analytically (2 rows in out per Linear, x3 for
  a train step; checked against torch's FlopCounterMode), GFLOP/s and fraction of peak;
- the split train step under ``torch.autocast("cpu", dtype=torch.bfloat16)``;
- GNO and multiscale prepare / inference / train-step timings on the same mesh.

Usage: ``python benchmarks/models.py [--quick] [--threads 2] [--reps 2]``.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode
from torch_geometric.data import Data

from gnnops.models import build


def square_mesh(s: int) -> Data:
    """s x s vertex structured triangle mesh of (0,1)^2, interior nodes jittered."""
    from skfem import MeshTri

    m = MeshTri.init_tensor(np.linspace(0, 1, s), np.linspace(0, 1, s))
    p, t = m.p.T.copy(), m.t.T
    inner = np.all((p > 1e-9) & (p < 1 - 1e-9), axis=1)
    p[inner] += np.random.default_rng(0).uniform(-0.2, 0.2, (inner.sum(), 2)) / (s - 1)
    e = np.unique(np.sort(np.concatenate([t[:, [0, 1]], t[:, [1, 2]], t[:, [2, 0]]]), 1), axis=0)
    ei = torch.tensor(np.concatenate([e, e[:, ::-1]]).T)
    a, b = p[t[:, 1]] - p[t[:, 0]], p[t[:, 2]] - p[t[:, 0]]
    area = 0.5 * np.abs(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0])
    vol = np.zeros(len(p))
    np.add.at(vol, t.ravel(), np.repeat(area / 3, 3))
    pos = torch.tensor(p, dtype=torch.float32)
    rel = pos[ei[1]] - pos[ei[0]]
    x = torch.stack([torch.sin(np.pi * pos[:, 0]) * torch.sin(np.pi * pos[:, 1]), pos[:, 0]], 1)
    return Data(x=x, pos=pos, edge_index=ei, y=torch.randn(len(p), 1),
                edge_attr=torch.cat([rel, rel.norm(dim=1, keepdim=True)], 1),
                node_volume=torch.tensor(vol, dtype=torch.float32))


def best_time(fn: Callable[[], object], reps: int, warmup: int = 1) -> float:
    """Best wall time of ``reps`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def matmul_peak(dtype: torch.dtype, n: int = 4096, reps: int = 3) -> float:
    """GFLOP/s of an n x n matmul in ``dtype``."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    t = best_time(lambda: a @ b, reps)
    return 2 * n**3 / t / 1e9


def mgn_flops(n: int, e: int, f_in: int, f_e: int, out: int, lat: int, depth: int,
              split: bool) -> float:
    """Forward matmul FLOPs of MeshGraphNet (2 rows in out per Linear, 2 hidden layers)."""
    def mlp(rows: int, i: int, o: int) -> float:
        return 2.0 * rows * (i * lat + lat * lat + lat * o)
    total = mlp(n, f_in, lat) + mlp(e, f_e, lat) + mlp(n, lat, out)
    edge = (2.0 * e * lat * lat + 2.0 * n * (2 * lat) * lat + 2.0 * e * 2 * lat * lat
            if split else mlp(e, 3 * lat, lat))
    return total + depth * (edge + mlp(n, 2 * lat, lat))


def counted_flops(fn: Callable[[], object]) -> float:
    """Matmul FLOPs torch counts for one call of ``fn``."""
    with FlopCounterMode(display=False) as fc:
        fn()
    return float(fc.get_total_flops())


def train_step_fn(model: torch.nn.Module, data: Data, bf16: bool = False
                  ) -> Callable[[], None]:
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        ctx = (torch.autocast("cpu", dtype=torch.bfloat16) if bf16
               else contextlib.nullcontext())
        with ctx:
            pred = model(data)
        loss = (pred.float() - data.y).square().mean()
        loss.backward()
        opt.step()
    return step


def infer_fn(model: torch.nn.Module, data: Data) -> Callable[[], None]:
    def run() -> None:
        with torch.no_grad():
            model(data)
    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="~1.6k-node mesh instead of ~12k")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    data = square_mesh(40 if args.quick else 110)
    n, e = data.num_nodes, data.edge_index.shape[1]
    print(f"mesh: {n} nodes, {e} directed edges; torch {torch.__version__}, "
          f"{args.threads} threads, best of {args.reps} (interleaved) after 1 warm-up")
    peak32 = matmul_peak(torch.float32)
    peak16 = matmul_peak(torch.bfloat16)
    print(f"matmul 4096^2 peak: fp32 {peak32:.0f} GFLOP/s, bf16 {peak16:.0f} GFLOP/s")

    rows: list[tuple] = []
    lat, depth = 128, 15
    kw = dict(in_channels=2, out_channels=1, edge_dim=3, pos_dim=2, latent=lat, depth=depth)
    split = build("meshgraphnet", **kw)
    plain = build("meshgraphnet", split_first_layer=False, **kw)
    plain.load_state_dict(split.state_dict())
    with torch.no_grad():
        diff = (split(data) - plain(data)).abs().max().item()
    fns = {
        "split infer": infer_fn(split, data), "plain infer": infer_fn(plain, data),
        "split train": train_step_fn(split, data), "plain train": train_step_fn(plain, data),
        "split train bf16": train_step_fn(split, data, bf16=True),
    }
    # interleave the cases rep by rep so that load drift on a shared machine hits all alike
    best = {k: float("inf") for k in fns}
    for fn in fns.values():  # warm-up
        fn()
    for _ in range(args.reps):
        for k, fn in fns.items():
            best[k] = min(best[k], best_time(fn, 1, warmup=0))
    fl = {True: mgn_flops(n, e, 2, 3, 1, lat, depth, True),
          False: mgn_flops(n, e, 2, 3, 1, lat, depth, False)}
    fc = {True: counted_flops(fns["split infer"]), False: counted_flops(fns["plain infer"])}
    for name, is_split in (("split", True), ("plain", False)):
        rows.append((f"MGN {depth}x{lat} {name} infer", best[f"{name} infer"], fl[is_split],
                     peak32, fc[is_split]))
        rows.append((f"MGN {depth}x{lat} {name} train", best[f"{name} train"],
                     3 * fl[is_split], peak32, None))
    rows.append((f"MGN {depth}x{lat} split train bf16", best["split train bf16"],
                 3 * fl[True], peak16, None))
    times = {"split": (best["split infer"], best["split train"]),
             "plain": (best["plain infer"], best["plain train"])}
    t_bf = best["split train bf16"]

    others = {
        "GNO w32 T4 r0.05 k16 lowrank": ("gno", dict(width=32, depth=4, radius=0.05,
                                                     max_num_neighbors=16, kernel="lowrank",
                                                     kernel_hidden=64)),
        "multiscale 64 L3 b2": ("multiscale", dict(latent=64, levels=3, base_cell=1 / 16,
                                                   blocks_per_level=2)),
    }
    prep_times = {}
    for label, (name, mkw) in others.items():
        model = build(name, in_channels=2, out_channels=1, edge_dim=3, pos_dim=2, **mkw)
        t0 = time.perf_counter()
        prepared = model.prepare(data)
        prep_times[label] = time.perf_counter() - t0
        fl = counted_flops(infer_fn(model, prepared))
        rows.append((f"{label} infer", best_time(infer_fn(model, prepared), args.reps), fl,
                     peak32, None))
        rows.append((f"{label} train", best_time(train_step_fn(model, prepared), args.reps),
                     3 * fl, peak32, None))

    peak32_end = matmul_peak(torch.float32)
    print(f"fp32 matmul peak re-measured at the end: {peak32_end:.0f} GFLOP/s")
    print(f"\n{'case':40s} {'time s':>8s} {'GFLOP':>8s} {'GFLOP/s':>8s} {'% peak':>7s}")
    for label, t, fl, peak, fc in rows:
        rate = fl / t / 1e9
        extra = f"  (FlopCounter {fc / 1e9:.1f})" if fc is not None else ""
        print(f"{label:40s} {t:8.3f} {fl / 1e9:8.1f} {rate:8.1f} {100 * rate / peak:6.1f}%"
              + extra)
    print("\n% peak: of the fp32 matmul peak, bf16 rows of the bf16 peak; GFLOP = matmul "
          "FLOPs only (train = 3 x forward)")
    print(f"split == plain outputs: max |diff| = {diff:.2e}")
    print(f"split / plain speed-up: inference {times['plain'][0] / times['split'][0]:.2f}x, "
          f"train step {times['plain'][1] / times['split'][1]:.2f}x")
    print(f"bf16 autocast / fp32 split train step: {times['split'][1] / t_bf:.2f}x faster")
    for label, t in prep_times.items():
        print(f"prepare ({label}): {t:.2f} s once per sample")


if __name__ == "__main__":
    main()

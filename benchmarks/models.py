"""Model speed benchmark: MeshGraphNet 15x128 (split vs plain), GNO, multiscale, Transolver.

Runs on a triangle mesh of the unit square (~12k nodes, ~72k directed edges; ``--quick``:
~1.6k nodes) and reports, measured in the same run:

- the machine's matrix-multiply peak (torch 4096^2 matmul, fp32 and bf16, ``--threads``);
- MeshGraphNet train step (forward + backward + AdamW step) and inference, with the split
  first edge layer and with a plain reference (gather -> MLP(cat[e, x_j, x_i]) ->
  index_add -> MLP), matmul FLOPs counted analytically (2 rows in out per Linear, x3 for
  a train step; checked against torch's FlopCounterMode), GFLOP/s and fraction of peak;
- the split train step under ``torch.autocast("cpu", dtype=torch.bfloat16)``;
- GNO, multiscale and Transolver (the default run's) prepare / inference / train-step
  timings on the same mesh.

MeshGraphNet cases (same weights, interleaved rep by rep): ``plain`` (this file: gather ->
MLP(cat[e, x_j, x_i]) -> index_add -> MLP(cat[x, agg])), ``split v0`` (this file: the
previous library code, first edge layer split per node, index_add), ``split`` (the
library: split + bias on nodes + W_e e fused into the GEMM (addmm) + node-MLP first layer
split + in-place ReLU, ``index_add_``), ``split csr`` (the library default: + edges sorted
by target and a segmented sum), ``+ bf16`` (autocast) and, with ``--compile``, ``+ compile``
(``MeshGraphNet.compile_processor``). Then training throughput at 1 and 2 threads, and the
GNO and the multiscale model (fp32 and bf16) on the same mesh.

Usage: ``python benchmarks/models.py [--quick] [--threads 2] [--reps 5] [--compile]`` (medians of
``--reps`` interleaved rounds with their min - max).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from _machine import machine
from bench_flops import counted_flops, mgn_flops
from torch_geometric.data import Data

from gnnops._malloc import reuse_freed_memory
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


def _sync(device: str) -> None:
    """Wait for the device's queued work (CUDA runs asynchronously; a no-op on the CPU)."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def matmul_peak(dtype: torch.dtype, n: int = 4096, reps: int = 3, device: str = "cpu"
                ) -> float:
    """GFLOP/s of an n x n matmul in ``dtype`` on ``device`` (on CUDA: n = 8192, 10 reps)."""
    if device.startswith("cuda"):
        n, reps = max(n, 8192), max(reps, 10)
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)

    def mm() -> None:
        a @ b
        _sync(device)
    t = best_time(mm, reps)
    return 2 * n**3 / t / 1e9


def train_step_fn(model: torch.nn.Module, data: Data, bf16: bool = False,
                  device: str = "cpu") -> Callable[[], None]:
    """One AdamW train step of ``model`` on ``data`` (both already on ``device``), synced."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    kind = torch.device(device).type

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        ctx = (torch.autocast(kind, dtype=torch.bfloat16) if bf16
               else contextlib.nullcontext())
        with ctx:
            pred = model(data)
        loss = (pred.float() - data.y).square().mean()
        loss.backward()
        opt.step()
        _sync(device)
    return step


def infer_fn(model: torch.nn.Module, data: Data, bf16: bool = False, device: str = "cpu"
             ) -> Callable[[], None]:
    """One inference forward of ``model`` on ``data`` (both already on ``device``), synced."""
    kind = torch.device(device).type

    def run() -> None:
        ctx = (torch.autocast(kind, dtype=torch.bfloat16) if bf16
               else contextlib.nullcontext())
        with torch.no_grad(), ctx:
            model(data)
        _sync(device)
    return run


def _mlp(mlp: torch.nn.Sequential, h: torch.Tensor, start: int = 0) -> torch.Tensor:
    """Apply ``mlp[start:]`` out of place (reference code: no in-place ReLU)."""
    for layer in list(mlp)[start:]:
        if isinstance(layer, torch.nn.ReLU):
            h = F.relu(h)
        elif isinstance(layer, torch.nn.LayerNorm):
            h = F.layer_norm(h, layer.normalized_shape, layer.weight, layer.bias, layer.eps)
        else:
            h = layer(h)
    return h


class ReferenceMGN(torch.nn.Module):
    """Straightforward MeshGraphNet on the parameters of a library ``MeshGraphNet``.

    ``mode="plain"``: gather -> MLP(cat[e, x_j, x_i]) -> index_add -> MLP(cat[x, agg]).
    ``mode="split_v0"``: the previous library code (first edge layer split per node,
    bias on edges, index_add in mesh order, concatenated node-MLP input).
    """

    def __init__(self, model: torch.nn.Module, mode: str) -> None:
        super().__init__()
        self.m, self.mode = model, mode

    def forward(self, data: Data) -> torch.Tensor:
        m = self.m
        src, dst = data.edge_index
        x = _mlp(m.node_encoder, data.x)
        e = _mlp(m.edge_encoder, data.edge_attr)
        n = x.shape[0]
        for blk in m.blocks:
            if self.mode == "plain":
                msg = _mlp(blk.edge_mlp, torch.cat([e, x[src], x[dst]], dim=1))
            else:
                w, lat = blk.edge_mlp[0].weight, blk.latent
                hid = w.shape[0]
                p = x @ torch.cat([w[:, lat:2 * lat], w[:, 2 * lat:]], dim=0).t()
                h = F.linear(e, w[:, :lat], blk.edge_mlp[0].bias)
                h = h + p[:, :hid].index_select(0, src) + p[:, hid:].index_select(0, dst)
                msg = _mlp(blk.edge_mlp, h, start=1)
            agg = x.new_zeros(n, msg.shape[1]).index_add_(0, dst, msg)
            x = x + _mlp(blk.node_mlp, torch.cat([x, agg], dim=1))
            e = e + msg
        return _mlp(m.decoder, x)


def run_interleaved(fns: dict[str, Callable[[], object]], reps: int) -> dict[str, list[float]]:
    """Wall times per case: one warm-up each, then the cases interleaved rep by rep so that
    load drift on a shared machine hits all alike."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for fn in fns.values():
        fn()
    for _ in range(reps):
        for k, fn in fns.items():
            times[k].append(best_time(fn, 1, warmup=0))
    return times


def medians(times: dict[str, list[float]]) -> dict[str, float]:
    """Median per case of :func:`run_interleaved`'s times."""
    return {k: statistics.median(v) for k, v in times.items()}


def row(label: str, times: list[float], flops: float, peak: float) -> str:
    """One table row: median time (min - max), GFLOP, GFLOP/s and % of ``peak`` at the
    median."""
    t = statistics.median(times)
    rate = flops / t / 1e9
    spread = f"{min(times):.3f}-{max(times):.3f}"
    return (f"{label:38s} {t:8.3f} {spread:>13s} {flops / 1e9:8.1f} {rate:8.1f} "
            f"{100 * rate / peak:6.1f}%")


def parse_args() -> argparse.Namespace:
    """The command line; re-executes itself with ``OMP_WAIT_POLICY=PASSIVE`` unless set."""
    if "OMP_WAIT_POLICY" not in os.environ:
        # libgomp threads spin-wait by default; on a shared, oversubscribed machine a
        # spinning thread holds a core the others need: a 2-thread train step ran 3.7x
        # SLOWER than 1 thread (7.7 s vs 2.1 s, load ~10 on 2 cores). PASSIVE waiting
        # removes that; libgomp reads it when torch loads, so re-exec with it set
        # (run with OMP_WAIT_POLICY=ACTIVE to measure the default).
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
        os.execv(sys.executable, [sys.executable, *sys.argv])
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="~1.6k-node mesh instead of ~12k")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--compile", action="store_true", help="also time compile_processor()")
    ap.add_argument("--skip-others", action="store_true", help="MeshGraphNet only")
    ap.add_argument("--side", type=int, default=0, help="mesh side (smoke tests)")
    ap.add_argument("--malloc", choices=("reuse", "system"), default="reuse",
                    help="reuse: glibc keeps freed memory (gnnops._malloc, as training does "
                         "with train.reuse_memory); system: the C library's default")
    return ap.parse_args()


def mgn_cases(data: Data, kw: dict, compile_: bool
              ) -> tuple[dict[str, Callable[[], object]], dict[str, float], float | None,
                         torch.nn.Module]:
    """The MeshGraphNet variants' inference / train-step closures, their max deviation from
    the plain reference, the compile time (``None`` unless ``compile_``) and the split
    (CSR-sorted) model."""
    split = build("meshgraphnet", **kw)
    unsorted = build("meshgraphnet", **kw)
    unsorted.load_state_dict(split.state_dict())
    unsorted.sorted_aggregation = False
    plain = ReferenceMGN(split, "plain")
    v0 = ReferenceMGN(split, "split_v0")
    models = {"plain": plain, "split v0": v0, "split": unsorted, "split csr": split}
    with torch.no_grad():
        ref = plain(data)
        diffs = {k: (mod(data) - ref).abs().max().item() for k, mod in models.items()}
    fns: dict[str, Callable[[], object]] = {}
    for k, mod in models.items():
        fns[f"{k} infer"] = infer_fn(mod, data)
        fns[f"{k} train"] = train_step_fn(mod, data)
    fns["split csr bf16 infer"] = infer_fn(split, data, bf16=True)
    fns["split csr bf16 train"] = train_step_fn(split, data, bf16=True)
    compile_s = None
    if compile_:
        comp = build("meshgraphnet", **kw)
        comp.load_state_dict(split.state_dict())
        comp.compile_processor()
        t0 = time.perf_counter()
        train_step_fn(comp, data)()
        infer_fn(comp, data)()
        compile_s = time.perf_counter() - t0
        fns["split csr compile infer"] = infer_fn(comp, data)
        fns["split csr compile train"] = train_step_fn(comp, data)
    return fns, diffs, compile_s, split


def other_models(data: Data, reps: int) -> tuple[list[tuple], dict[str, float]]:
    """``(label, times, flops, bf16)`` of the GNO, multiscale and Transolver models (fp32 /
    bf16, infer / train) and their one-off ``prepare`` times."""
    others = {
        "GNO w32 T4 r0.05 k16 lowrank": ("gno", dict(
            width=32, depth=4, radius=0.05, train_neighbors=16, kernel="lowrank",
            kernel_hidden=64)),
        "multiscale 64 L3 b2": ("multiscale", dict(
            latent=64, levels=3, base_cell=1 / 16, blocks_per_level=2)),
        "Transolver w64 d4 h4 m32 (default)": ("transolver", dict(
            width=64, depth=4, heads=4, slices=32, fourier=16, fourier_scale=2.0)),
    }
    other_rows, prep_times = [], {}
    for label, (name, mkw) in others.items():
        model = build(name, in_channels=2, out_channels=1, edge_dim=3, pos_dim=2, **mkw)
        t0 = time.perf_counter()
        prepared = model.prepare(data)
        prep_times[label] = time.perf_counter() - t0
        flo = counted_flops(infer_fn(model, prepared))
        ofns = {f"{b} {k}": f(model, prepared, bf16=b == "bf16")
                for b in ("fp32", "bf16") for k, f in (("infer", infer_fn),
                                                        ("train", train_step_fn))}
        for k, t in run_interleaved(ofns, reps).items():
            prec, kind = k.split()
            other_rows.append((f"{label} {kind} {prec}", t,
                               flo * (3 if kind == "train" else 1), prec == "bf16"))
    return other_rows, prep_times


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    reuse = args.malloc == "reuse" and reuse_freed_memory()
    data = square_mesh(args.side or (40 if args.quick else 110))
    n, e = data.num_nodes, data.edge_index.shape[1]
    print(f"{machine()}; mesh: {n} nodes, {e} directed edges; torch {torch.__version__}, "
          f"{args.threads} threads, median of {args.reps} interleaved rounds after 1 "
          f"warm-up, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, allocator: "
          f"{'freed memory reused' if reuse else 'system default'}")
    peak32 = matmul_peak(torch.float32)
    peak16 = matmul_peak(torch.bfloat16)
    print(f"matmul 4096^2 peak: fp32 {peak32:.0f} GFLOP/s, bf16 {peak16:.0f} GFLOP/s")

    lat, depth = 128, 15
    kw = dict(in_channels=2, out_channels=1, edge_dim=3, pos_dim=2, latent=lat, depth=depth)
    fns, diffs, compile_s, split = mgn_cases(data, kw, args.compile)
    times = run_interleaved(fns, args.reps)
    med = medians(times)
    fl = {s: mgn_flops(n, e, 2, 3, 1, lat, depth, s) for s in (True, False)}
    fc = {"plain": counted_flops(fns["plain infer"]),
          "split": counted_flops(fns["split csr infer"])}

    # training throughput per core: 1 and 2 threads (library default, fp32)
    thr = {}
    for nt in (1, 2):
        torch.set_num_threads(nt)
        step = train_step_fn(split, data)
        step()  # warm-up at this thread count
        thr[nt] = statistics.median(best_time(step, 1, warmup=0)
                                    for _ in range(max(1, args.reps - 1)))
    torch.set_num_threads(args.threads)
    others, prep_times = ([], {}) if args.skip_others else other_models(data, args.reps)

    peak32_end = matmul_peak(torch.float32)
    print(f"fp32 matmul peak re-measured at the end: {peak32_end:.0f} GFLOP/s; % of the "
          f"fp32 peak below: of the higher of the two")
    peak32 = max(peak32, peak32_end)  # the stricter reference on a machine that drifts
    rows = []
    for key in [k for k in fns if k.endswith(" infer")]:
        case = key[:-6]
        is_plain = case == "plain"
        peak = peak16 if "bf16" in case else peak32
        for kind, mult in (("infer", 1), ("train", 3)):
            rows.append(row(f"MGN {depth}x{lat} {case} {kind}", times[f"{case} {kind}"],
                            mult * fl[not is_plain], peak))
    other_rows = [row(label, t, flo, peak16 if bf16 else peak32)
                  for label, t, flo, bf16 in others]
    print(f"\n{'case':38s} {'median s':>8s} {'min-max':>13s} {'GFLOP':>8s} {'GFLOP/s':>8s} "
          f"{'% peak':>7s}")
    print("\n".join(rows + other_rows))
    print_summary(fns, med, fc, fl, diffs, compile_s, thr, n, prep_times)


def print_summary(fns: dict, med: dict[str, float], fc: dict[str, float],
                  fl: dict[bool, float], diffs: dict[str, float], compile_s: float | None,
                  thr: dict[int, float], n: int, prep_times: dict[str, float]) -> None:
    """The notes under the table: FLOP check, accuracy, speed-ups, throughput, prepare."""
    print("\n% peak: of the fp32 matmul peak, bf16 rows of the bf16 peak; GFLOP = matmul "
          "FLOPs only (train = 3 x forward; GNO/multiscale: FlopCounterMode)")
    print(f"FLOP check (FlopCounterMode, inference): plain {fc['plain'] / 1e9:.1f}, split "
          f"{fc['split'] / 1e9:.1f} GFLOP (analytic {fl[False] / 1e9:.1f}, {fl[True] / 1e9:.1f})")
    print("max |output - plain|: " + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items()))
    for kind in ("train", "infer"):
        base = med[f"plain {kind}"]
        print(f"{kind} speed-up vs plain: " + ", ".join(
            f"{k[:-6]} {base / med[k[:-6] + ' ' + kind]:.2f}x"
            for k in fns if k.endswith(" infer") and not k.startswith("plain")))
    if compile_s is not None:
        print(f"compile_processor(): first train step + inference took {compile_s:.1f} s")
    print(f"training throughput (split csr, fp32): 1 thread {n / thr[1]:.0f} nodes/s "
          f"({thr[1]:.2f} s/step), 2 threads {n / thr[2]:.0f} nodes/s ({thr[2]:.2f} s/step); "
          f"2-thread speed-up {thr[1] / thr[2]:.2f}x, per core {n / thr[2] / 2:.0f} nodes/s")
    for label, t in prep_times.items():
        print(f"prepare ({label}): {t:.2f} s once per sample (cached across epochs by the "
              f"trainer)")


if __name__ == "__main__":
    main()

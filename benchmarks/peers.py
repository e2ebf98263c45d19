"""gnnops MeshGraphNet side by side with its peers: same graph, same process, interleaved.

Cases (all MeshGraphNet-shaped: encoder, ``--depth`` x (edge MLP on [e_ij, x_j, x_i] ->
sum to targets -> node MLP on [x_i, agg_i], residuals on nodes and edges, LayerNorm after
every MLP but the decoder), ``--latent`` wide, 3-layer MLPs):

- ``gnnops``: ``gnnops.models.build("meshgraphnet")`` (the library default);
- ``pyg``: the same block written with PyTorch Geometric's own layers
  (``torch_geometric.nn.MessagePassing`` with ``aggr="sum"`` and ``torch_geometric.nn.MLP``
  with a trailing LayerNorm) -- PyG ships no MeshGraphNet, so this is its closest
  equivalent built from its layers, the same parameter count;
- ``physicsnemo``: ``physicsnemo.models.meshgraphnet.MeshGraphNet`` (``pip install
  gnnops[peers]``; needs torch-scatter, which builds from source): skipped with a message
  when it does not import.

Each case runs a train step (forward + backward + AdamW) and an inference forward; one
warm-up each, then ``--reps`` rounds in which every case runs once in turn (interleaved, so
load drift on a shared machine hits all alike). Printed: median seconds, the spread
(min - max), the ratio of medians to gnnops, and the matmul peak (4096^2 on a CPU) measured at
the start and the end of the same run with the GFLOP/s of gnnops' train step.

    python benchmarks/peers.py                    # ~12k nodes, 15 x 128, 5 reps
    python benchmarks/peers.py --side 40 --depth 4 --reps 5   # small, for a loaded machine
    python benchmarks/peers.py --device cuda --side 300        # on a GPU (90k nodes)
    python benchmarks/peers.py --malloc system   # without gnnops._malloc (all peers)

On CUDA every timed call ends with ``torch.cuda.synchronize()``, the peak is an 8192^2
matmul (TF32 off, PyTorch's default for fp32 matmuls), and ``--threads`` only sets the CPU
threads of the host side.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch_geometric.data import Data

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import machine  # noqa: E402
from models import infer_fn, matmul_peak, mgn_flops, square_mesh, train_step_fn  # noqa: E402

from gnnops._malloc import reuse_freed_memory  # noqa: E402
from gnnops.models import build  # noqa: E402


def pyg_mlp(i: int, lat: int, o: int, norm: bool) -> nn.Module:
    from torch_geometric.nn import MLP

    mlp = MLP([i, lat, lat, o], act="relu", norm=None, plain_last=True)
    return nn.Sequential(mlp, nn.LayerNorm(o)) if norm else mlp


class PygBlock(nn.Module):
    """One MeshGraphNet block from PyG layers: MessagePassing(aggr="sum") + PyG MLPs."""

    def __init__(self, lat: int) -> None:
        from torch_geometric.nn import MessagePassing

        super().__init__()
        block = self

        class Edge(MessagePassing):
            def __init__(self) -> None:
                super().__init__(aggr="sum", flow="source_to_target")

            def forward(self, ei: Tensor, x: Tensor, e: Tensor) -> Tensor:
                return self.propagate(ei, x=x, e=e)

            def message(self, x_i: Tensor, x_j: Tensor, e: Tensor) -> Tensor:
                block.new_e = block.edge_mlp(torch.cat([e, x_j, x_i], dim=1))
                return block.new_e

        self.edge_mlp = pyg_mlp(3 * lat, lat, lat, True)
        self.node_mlp = pyg_mlp(2 * lat, lat, lat, True)
        self.conv = Edge()
        self.new_e: Tensor | None = None

    def forward(self, x: Tensor, e: Tensor, ei: Tensor) -> tuple[Tensor, Tensor]:
        agg = self.conv(ei, x, e)
        new_e = self.new_e
        self.new_e = None
        return x + self.node_mlp(torch.cat([x, agg], dim=1)), e + new_e


class PygMGN(nn.Module):
    """MeshGraphNet from PyG layers (encoders, ``depth`` PygBlocks, decoder)."""

    def __init__(self, f_in: int, f_e: int, out: int, lat: int, depth: int) -> None:
        super().__init__()
        self.enc_x = pyg_mlp(f_in, lat, lat, True)
        self.enc_e = pyg_mlp(f_e, lat, lat, True)
        self.blocks = nn.ModuleList(PygBlock(lat) for _ in range(depth))
        self.dec = pyg_mlp(lat, lat, out, False)

    def forward(self, data: Data) -> Tensor:
        x, e = self.enc_x(data.x), self.enc_e(data.edge_attr)
        for b in self.blocks:
            x, e = b(x, e, data.edge_index)
        return self.dec(x)


def physicsnemo_model(f_in: int, f_e: int, out: int, lat: int, depth: int
                      ) -> tuple[Callable[[Data], Tensor] | None, nn.Module | None, str]:
    """PhysicsNeMo's MeshGraphNet as ``(forward on Data, module, note)``; ``None`` when absent."""
    try:
        import torch_scatter  # noqa: F401 -- physicsnemo 2.x imports without it, fails at run
        from physicsnemo.models.meshgraphnet import MeshGraphNet
    except Exception as exc:  # noqa: BLE001 -- any import failure means: skip the peer
        return None, None, (f"physicsnemo skipped: {type(exc).__name__}: {exc} (pip install "
                            "'gnnops[peers]'; torch-scatter builds from source)")
    model = MeshGraphNet(f_in, f_e, out, processor_size=depth, hidden_dim_processor=lat,
                         hidden_dim_node_encoder=lat, hidden_dim_edge_encoder=lat,
                         hidden_dim_node_decoder=lat, do_concat_trick=True)

    def fwd(data: Data) -> Tensor:  # physicsnemo 2.x takes a PyG graph (edge_index)
        return model(data.x, data.edge_attr, Data(edge_index=data.edge_index,
                                                  num_nodes=data.num_nodes))
    return fwd, model, "physicsnemo MeshGraphNet(do_concat_trick=True)"


class Wrap(nn.Module):
    def __init__(self, fwd: Callable[[Data], Tensor], module: nn.Module) -> None:
        super().__init__()
        self.inner, self.fwd = module, fwd

    def forward(self, data: Data) -> Tensor:
        return self.fwd(data)


def interleaved(fns: dict[str, Callable[[], object]], reps: int) -> dict[str, list[float]]:
    """Seconds of every case in each of ``reps`` rounds (one warm-up call each first)."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(reps):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return times


def parse_args() -> argparse.Namespace:
    """The command line (checked)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--side", type=int, default=110, help="mesh side (~side^2 nodes)")
    ap.add_argument("--latent", type=int, default=128)
    ap.add_argument("--depth", type=int, default=15)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bf16", action="store_true",
                    help="every case under torch.autocast(bfloat16); the peak in bf16")
    ap.add_argument("--device", default="cpu", help="cpu (default) or cuda[:i]")
    ap.add_argument("--malloc", choices=("reuse", "system"), default="reuse",
                    help="reuse: glibc keeps freed memory, as `train.reuse_memory` does in "
                         "training (gnnops._malloc; process-wide, so every peer runs with it); "
                         "system: the C library's default")
    args = ap.parse_args()
    if args.reps < 5:
        ap.error("expected --reps >= 5 (medians of fewer interleaved repeats mislead)")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        ap.error(f"expected a CUDA device for --device {args.device}; torch sees none")
    return args


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    reuse = args.malloc == "reuse" and reuse_freed_memory()
    dev = args.device
    data = square_mesh(args.side).to(dev)
    n, e = data.num_nodes, data.edge_index.shape[1]
    lat, depth = args.latent, args.depth
    print(f"{datetime.date.today()} {platform.node()} {machine()}"
          f", load {os.getloadavg()[0]:.1f}; torch {torch.__version__}, "
          f"{args.threads} threads; mesh {n} nodes, {e} directed edges; {depth} x {lat}; "
          f"allocator: {'freed memory reused' if reuse else 'system default'}")
    if dev.startswith("cuda"):
        print(f"device {dev}: {torch.cuda.get_device_name(dev)}")
    dtype = torch.bfloat16 if args.bf16 else torch.float32
    prec = "bf16" if args.bf16 else "fp32"
    peak0 = matmul_peak(dtype, device=dev)
    models: dict[str, nn.Module] = {
        "gnnops": build("meshgraphnet", in_channels=2, out_channels=1, edge_dim=3, pos_dim=2,
                        latent=lat, depth=depth),
        "pyg": PygMGN(2, 3, 1, lat, depth)}
    fwd, mod, note = physicsnemo_model(2, 3, 1, lat, depth)
    if fwd is not None:
        models["physicsnemo"] = Wrap(fwd, mod)
    print(note)
    models = {k: m.to(dev) for k, m in models.items()}
    for k, m in models.items():
        print(f"{k:12s} {sum(p.numel() for p in m.parameters()):>10,} parameters")
    fns: dict[str, Callable[[], object]] = {}
    for k, m in models.items():
        fns[f"{k} train"] = train_step_fn(m, data, bf16=args.bf16, device=dev)
        fns[f"{k} infer"] = infer_fn(m, data, bf16=args.bf16, device=dev)
    times = interleaved(fns, args.reps)
    peak1 = matmul_peak(dtype, device=dev)
    side = 8192 if dev.startswith("cuda") else 4096
    print(f"{prec} matmul {side}^2 peak: {peak0:.0f} GFLOP/s at the start, {peak1:.0f} at the end")
    print(f"\n{'case':18s} {'median s':>9s} {'min':>8s} {'max':>8s} {'/ gnnops':>9s}")
    for k, ts in times.items():
        med = statistics.median(ts)
        ref = statistics.median(times[f"gnnops {k.split()[1]}"])
        print(f"{k:18s} {med:9.3f} {min(ts):8.3f} {max(ts):8.3f} {med / ref:9.2f}")
    fl = 3 * mgn_flops(n, e, 2, 3, 1, lat, depth, True)
    rate = fl / statistics.median(times["gnnops train"]) / 1e9
    print(f"\ngnnops train step: {rate:.1f} GFLOP/s (analytic matmul FLOPs x3) = "
          f"{100 * rate / max(peak0, peak1):.1f} % of the {prec} matmul peak (the higher of the "
          f"two)")


if __name__ == "__main__":
    main()

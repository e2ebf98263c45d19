"""One large mesh predicted across ranks (``torchrun``), rank 0 writing the output.

    torchrun --standalone --nproc_per_node=N -m gnnops.inference.distributed_predict \\
        MODEL.pt big.vtu --out DIR [any ``gnnops predict`` option]
    torchrun ... $(which gnnops) predict --distributed MODEL.pt big.vtu --out DIR  # the same

Scheme (exact, one communication round per mesh): rank 0 reads the mesh and builds the
raw graph once, splits its nodes into one part per rank by weighted recursive coordinate
bisection (:func:`gnnops.inference.partition.partition_weighted`: ``N / N_ranks`` core
nodes each, or ``--root-share`` of them for rank 0 and equal shares of the rest), each part
inflated by the model's receptive field (``hops`` x the longest edge projection per axis,
the same halo as single-process partitioned prediction). The halo'd subgraph of every part
(its node, edge and cell fields, :class:`~gnnops.inference.partition.Partitioner`) is sent
to the part's rank with ``torch.distributed`` point-to-point tensors (gloo on CPU; no
pickled tensors); each rank runs the model on its parts (``forward_graph``: further split
into ``max_nodes`` pieces only when ``--max-nodes`` asks for it) and sends the rows of its
core nodes back; rank 0 stitches them, computes flags / residual and writes the file and
summary exactly as ``gnnops predict``. A core node's output depends only on nodes within
``hops`` edges, all inside its part, so the result equals the one-rank prediction up to
floating-point summation order. The halo is computed redundantly instead of exchanged
layer by layer: one round of messages per mesh, at the price of ``hops`` rings of nodes.

Models whose only global steps are sums over nodes (Transolver: slice tokens; a
``dist_reduce`` attribute) take the other scheme: the parts have no halo, every rank runs
the model on its part at the same time, and the sums are all-reduced (``gloo``) once per
block, so each rank holds only its part's activations; the result again equals one rank's
up to summation order. All ranks must reach every all-reduce: rank 0 checks the graph
before it sends the parts, and a rank that fails mid-forward leaves the others waiting
until the process group's timeout.

Memory: the non-root ranks hold only their parts and those parts' activations; rank 0 also
holds the whole raw graph and the output (``--root-share`` below ``1 / N_ranks`` evens the
peaks out: README, "One mesh across ranks"). Every rank loads the artifact (a shared folder on
a cluster). Other models with an unbounded receptive field (``receptive_hops`` None) are refused.
Time-dependent (rollout) artifacts are not supported here.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import logging
import os
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor
from torch_geometric.data import Data

from gnnops.errors import ConfigError, GnnopsError, ModelError
from gnnops.inference.partition import (
    Partitioner,
    max_edge_extent,
    max_edge_length,
    partition_weighted,
    receptive_hops,
)

log = logging.getLogger(__name__)

__all__ = ["split_for_ranks", "DistributedForward", "run_distributed", "main"]

_STOP, _MESH, _GLOBAL = 0, 1, 2


def _allreduce(tensors: list[Tensor]) -> None:
    """Sum ``tensors`` in place over the ranks (the ``dist_reduce`` of a global model)."""
    for t in tensors:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)


def _global_model(model: Any) -> bool:
    """Whether ``model`` runs across ranks by all-reducing node sums (``dist_reduce``)."""
    return hasattr(model, "dist_reduce")


@contextlib.contextmanager
def _reducing(model: Any, mode: int) -> Iterator[None]:
    """In the ``_GLOBAL`` mode: the model's node sums all-reduced over the ranks while the
    block runs (``dist_reduce``), one process again after it."""
    if mode != _GLOBAL:
        yield
        return
    model.dist_reduce = _allreduce
    try:
        yield
    finally:
        model.dist_reduce = None


def split_for_ranks(data: Data, hops: int, edge_length: float, world: int,
                    root_share: float | None = None
                    ) -> list[list[tuple[np.ndarray, np.ndarray]]]:
    """``(core, nodes)`` parts of ``data`` grouped per rank (see the module docstring).

    Args:
        data: raw graph with ``pos`` [N, d] and ``edge_index``.
        hops: message-passing steps of the model.
        edge_length: longest edge of the graph the model runs on (a radius graph's radius).
        world: number of ranks.
        root_share: fraction of the nodes for rank 0, which also holds the whole raw graph,
            the mesh and the output (~400 bytes per node of the whole mesh): a smaller share
            balances the ranks' peak memory; ``None``: ``1 / world`` (equal parts).

    Raises:
        ConfigError: ``root_share`` outside (0, 1) or more ranks than nodes.
    """
    n = int(data.num_nodes)
    if world > n:
        raise ConfigError(f"expected at most one rank per node, got {world} ranks for a "
                          f"graph of {n} nodes")
    share = 1.0 / world if root_share is None else float(root_share)
    if root_share is not None and (world == 1 or not 0.0 < share < 1.0):
        raise ConfigError(f"expected --root-share in (0, 1) with two or more ranks, got "
                          f"{root_share!r} for {world} rank(s)")
    pos = data.pos.double().numpy()
    extent = max_edge_extent(data)
    bound = extent if edge_length <= max_edge_length(data) * (1 + 1e-6) \
        else np.full(pos.shape[1], edge_length)
    halo = hops * bound * (1 + 1e-6) + 1e-12
    rest = [(1.0 - share) / (world - 1)] * (world - 1) if world > 1 else []
    return [[part] for part in partition_weighted(pos, [share, *rest], halo)]


def _send_data(data: Data, dst: int) -> None:
    """``data``'s fields to rank ``dst``: a description, then one tensor per field."""
    meta, tensors = {}, []
    for key, val in data.items():
        if isinstance(val, Tensor):
            meta[key] = ("t", str(val.dtype).removeprefix("torch."), list(val.shape))
            tensors.append(val.to(torch.uint8) if val.dtype == torch.bool else val)
        else:
            meta[key] = ("v", val)
    meta["num_nodes"] = ("v", int(data.num_nodes))
    dist.send_object_list([meta], dst=dst)
    for t in tensors:
        dist.send(t.contiguous(), dst=dst)


def _recv_data(src: int = 0) -> Data:
    box: list[Any] = [None]
    dist.recv_object_list(box, src=src)
    out = Data()
    for key, (kind, *rest) in box[0].items():
        if kind == "v":
            out[key] = rest[0]
            continue
        dtype, shape = getattr(torch, rest[0]), rest[1]
        buf = torch.empty(shape, dtype=torch.uint8 if dtype == torch.bool else dtype)
        dist.recv(buf, src=src)
        out[key] = buf.bool() if dtype == torch.bool else buf
    return out


def _core_rows(predictor: Any, sub: Data, core: np.ndarray, nodes: np.ndarray) -> Tensor:
    out = predictor.forward_graph(sub)
    return out[torch.from_numpy(np.searchsorted(nodes, core))].contiguous()


class DistributedForward:
    """``forward_graph`` of rank 0: scatter the halo'd parts, run its own, gather the cores.

    Args:
        predictor: the loaded :class:`~gnnops.inference.predictor.Predictor` (rank 0's).
        world: number of ranks.
        root_share: fraction of the nodes for rank 0 (``None``: equal parts).
    """

    def __init__(self, predictor: Any, world: int, root_share: float | None = None) -> None:
        self.predictor, self.world, self.root_share = predictor, world, root_share
        self.local = copy.copy(predictor)  # the plain forward_graph, for rank 0's own parts

    def __call__(self, data: Data) -> Tensor:
        p = self.predictor
        from gnnops.surrogate.prepare import with_whole_graph_fields

        data = with_whole_graph_fields(data, p.recipe)  # sent with every part
        hops = receptive_hops(p.model)
        mode = _MESH
        if hops is None and _global_model(p.model) and getattr(data, "pos", None) is not None:
            mode, hops = _GLOBAL, 0
            # the widths / fields checks on a few nodes: fail here, before any rank waits
            self.local._run(node_part(data, np.arange(min(int(data.num_nodes), 8))))
        if hops is None or getattr(data, "pos", None) is None:
            raise ModelError("distributed prediction needs a model with a bounded receptive "
                             f"field (message-passing steps) or global node sums "
                             f"(transolver) and node positions; "
                             f"{type(p.model).__name__} reports none")
        length = 0.0 if mode == _GLOBAL else max(
            max_edge_length(data), float(getattr(p.model, "radius", 0.0) or 0.0))
        groups = split_for_ranks(data, hops, length, self.world, self.root_share)
        if mode == _GLOBAL:  # no halo: every node in exactly one part's sums
            groups = [[(core, np.sort(core)) for core, _nodes in g] for g in groups]
        # a global model reads no edges or cells: its parts carry the node fields only
        cut = (lambda nodes: node_part(data, nodes)) if mode == _GLOBAL else \
            Partitioner(data).subgraph
        dist.broadcast_object_list([mode], src=0)
        for r in range(1, self.world):
            dist.send(torch.tensor([len(groups[r])]), dst=r)
            for core, nodes in groups[r]:
                sub = cut(nodes)
                sub.dist_core_local = torch.from_numpy(np.searchsorted(nodes, core))
                _send_data(sub, r)
                del sub
        own = [(core, nodes, cut(nodes)) for core, nodes in groups[0]]
        del cut  # the splitter's node -> edge / cell indices: not needed in rank 0's forward
        results: list[tuple[np.ndarray, Tensor | str]] = []
        with _reducing(p.model, mode):
            while own:
                core, nodes, sub = own.pop(0)
                try:
                    results.append((core, _core_rows(self.local, sub, core, nodes)))
                except (GnnopsError, RuntimeError, ValueError, IndexError) as exc:  # drain
                    results.append((core, f"rank 0 failed on its part: {exc}"))
                del sub
        for r in range(1, self.world):
            results += [(core, _recv_rows(r)) for core, _nodes in groups[r]]
        return _stitch(results, int(data.num_nodes))


def node_part(data: Data, nodes: np.ndarray) -> Data:
    """The node fields of ``data`` at the sorted node ids ``nodes``, its edge fields empty
    (``[0, ...]``) and no cells: the part a global model (:func:`_global_model`) runs on."""
    n, idx = int(data.num_nodes), torch.from_numpy(nodes)
    ei = getattr(data, "edge_index", None)
    m = -1 if ei is None else int(ei.shape[1])
    out = Data(num_nodes=len(nodes))
    for key, val in data.items():
        if key in ("num_nodes", "cell_index", "mesh_cells", "boundary_edge_index"):
            continue
        if key == "edge_index":
            out[key] = val[:, :0].clone()
        elif isinstance(val, Tensor) and val.dim() > 0 and val.shape[0] == m and "edge" in key:
            out[key] = val[:0].clone()
        elif isinstance(val, Tensor) and val.dim() > 0 and val.shape[0] == n:
            out[key] = val.index_select(0, idx)
        elif isinstance(val, list) and len(val) == n:
            out[key] = [val[i] for i in nodes.tolist()]
        elif key != "cell_type":
            out[key] = val  # whole-graph values (e.g. the scaling law's input_scale)
    return out


def _stitch(results: list[tuple[np.ndarray, Tensor | str]], n: int) -> Tensor:
    errors = [r for _c, r in results if isinstance(r, str)]
    if errors:
        raise ModelError(f"distributed prediction failed: {' '.join(errors[0].split())}")
    out: Tensor | None = None
    for core, rows in results:
        if out is None:
            out = rows.new_empty((n, rows.shape[1]))
        out[torch.from_numpy(core)] = rows
    if out is None:
        raise ModelError("distributed prediction: the graph has no nodes")
    return out


def _recv_rows(src: int) -> Tensor | str:
    """Core rows of one part from rank ``src``, or its error message."""
    head = torch.empty(2, dtype=torch.int64)
    dist.recv(head, src=src)
    if int(head[0]) < 0:
        box: list[Any] = [None]
        dist.recv_object_list(box, src=src)
        return f"rank {src} failed on its part: {box[0]}"
    rows = torch.empty(int(head[0]), int(head[1]))
    dist.recv(rows, src=src)
    return rows


def serve(predictor: Any) -> None:
    """Non-root ranks: predict the parts rank 0 sends until it says stop."""
    while True:
        box: list[Any] = [None]
        dist.broadcast_object_list(box, src=0)
        if box[0] == _STOP:
            return
        count = torch.empty(1, dtype=torch.int64)
        dist.recv(count, src=0)
        subs = [_recv_data(0) for _ in range(int(count))]
        log.info("rank %d: predicting %d part(s), %d nodes with halo (%d core)",
                 dist.get_rank(), len(subs), sum(int(s.num_nodes) for s in subs),
                 sum(len(s["dist_core_local"]) for s in subs))
        with _reducing(predictor.model, box[0]):
            for sub in subs:
                core = sub["dist_core_local"]
                del sub["dist_core_local"]
                try:
                    rows = predictor.forward_graph(sub)[core].float().contiguous()
                    dist.send(torch.tensor(list(rows.shape), dtype=torch.int64), dst=0)
                    dist.send(rows, dst=0)
                except (GnnopsError, RuntimeError, ValueError, IndexError) as exc:
                    dist.send(torch.tensor([-1, -1], dtype=torch.int64), dst=0)
                    dist.send_object_list([" ".join(str(exc).split())], dst=0)


def _init_group() -> tuple[int, int, bool]:
    """``(rank, world, owns)`` of the torchrun environment (gloo: CPU tensors)."""
    if "WORLD_SIZE" not in os.environ:
        raise ConfigError("--distributed runs under torchrun (expected WORLD_SIZE, RANK, "
                          "MASTER_ADDR in the environment): torchrun --nproc_per_node=N -m "
                          "gnnops.inference.distributed_predict MODEL MESH --out DIR")
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size(), False
    dist.init_process_group(backend="gloo", init_method="env://")
    return dist.get_rank(), dist.get_world_size(), True


def run_distributed(args: argparse.Namespace, run: Any) -> int:
    """``gnnops predict --distributed``: rank 0 runs ``run(args)`` (the usual prediction,
    files and summary) with a :class:`DistributedForward`; the other ranks serve parts.

    Args:
        args: the parsed ``gnnops predict`` arguments.
        run: ``gnnops.inference.cli.run``.
    """
    rank, world, owns = _init_group()
    try:
        if rank != 0:
            from gnnops.inference import Predictor

            predictor = Predictor.from_artifact(args.artifact)
            if args.max_nodes is not None:
                predictor.max_nodes = args.max_nodes or 2**62
            serve(predictor)
            return 0
        args = copy.copy(args)
        args.distributed, args.jobs = False, 1  # one mesh at a time across the ranks
        args.distributed_world = world
        try:
            return run(args)
        finally:
            dist.broadcast_object_list([_STOP], src=0)
    finally:
        if owns:
            dist.destroy_process_group()


def attach(predictor: Any, args: argparse.Namespace) -> Any:
    """Rank 0's predictor: ``forward_graph`` across ``args.distributed_world`` ranks (the
    hook ``gnnops.inference.cli.run`` calls); other arguments: returned unchanged."""
    world = getattr(args, "distributed_world", None)
    if world is None:
        return predictor
    if getattr(predictor.recipe, "rollout", None) is not None:
        raise ConfigError("--distributed predicts steady models; this artifact is a "
                          "time-dependent (rollout) model: predict it without --distributed")
    if args.max_nodes is not None:
        predictor.max_nodes = args.max_nodes or 2**62
    predictor.forward_graph = DistributedForward(predictor, world,
                                                 getattr(args, "root_share", None))
    return predictor


def main(argv: list[str] | None = None) -> int:
    """``python -m gnnops.inference.distributed_predict`` (under torchrun): ``gnnops predict
    --distributed`` with the same arguments."""
    from gnnops._log import configure_logging, level_from_args
    from gnnops.inference import cli

    parser = argparse.ArgumentParser(prog="gnnops.inference.distributed_predict",
                                     description=__doc__.splitlines()[0])
    cli.add_arguments(parser)
    args = parser.parse_args(argv)
    args.distributed = True
    configure_logging(level_from_args(args))
    try:
        return int(cli.run(args) or 0)
    except GnnopsError as exc:
        print(f"distributed_predict: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return int(getattr(exc, "exit_code", 2))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

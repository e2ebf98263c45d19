"""One sample of data generation: draw inputs, evaluate them, solve, write files.

Runs inline (``workers=1``) or in the worker processes of
:func:`gnnops.data.generate.generate`; :func:`init_context` sets the per-process
state (problem instance, meshes) once per process, :func:`run_task` does one
sample and returns its manifest record plus timings. A sample's inputs depend
only on ``(seed, split_id, idx)``, never on the process or the order.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gnnops.data.ranges import draw_options

__all__ = ["Task", "Context", "Reference", "reference_solution", "init_context", "run_task",
           "fidelity_of", "sample_seed", "record_of", "check_done", "mesh_key", "transfer_key",
           "mesh_fields", "write_vtu_atomic", "read_vtu"]


@dataclass(frozen=True)
class Task:
    """One sample to produce.

    Attributes:
        split: split name (``train``, ``val``, ``test``, ``test_<family>``).
        split_id: integer mixed into the seed (``gnnops.data.spec.SPLIT_IDS``).
        idx: sample index within the split.
        resolution: index into the spec's resolutions.
        file: path relative to the dataset folder (``.vtu``; networks ``.graphml``).
        family: graph family (network problems) else None.
        geometry: the sample's geometry in a multi-geometry dataset (``GenerateSpec.
            geometries`` / ``test_geometries``), else None (the spec's one geometry).
        variant: the sample's mesh variant (``GenerateSpec.mesh_variants``; 0: canonical).
    """

    split: str
    split_id: int
    idx: int
    resolution: int
    file: str
    family: str | None = None
    geometry: str | None = None
    variant: int = 0


def mesh_key(task: Task) -> Any:
    """Key of a task's mesh in :attr:`Context.meshes` / ``handles``: the resolution, or
    ``(geometry, resolution)`` in a multi-geometry dataset; a mesh variant ``j >= 1``:
    ``(geometry or None, resolution, j)``."""
    if task.variant:
        return (task.geometry, task.resolution, task.variant)
    return task.resolution if task.geometry is None else (task.geometry, task.resolution)


def transfer_key(task: Task) -> int | tuple[int, int]:
    """Key of a task's mesh in :attr:`Reference.transfer`: ``resolution`` or, on a mesh
    variant, ``(resolution, variant)``."""
    return (task.resolution, task.variant) if task.variant else task.resolution


@dataclass
class Reference:
    """The reference mesh (problem handle) of one geometry and the P1 transfer matrices
    ``[N_k, N_ref]`` to its mesh of each resolution ``k`` (and ``(k, j)``: to its mesh
    variant ``j``; :func:`transfer_key`)."""

    handle: Any
    transfer: dict[Any, Any]
    nodes: int


@dataclass
class Context:
    """Per-process state: the problem, the meshes or node counts, the folder.

    ``meshes`` / ``handles`` are keyed by :func:`mesh_key`; ``reference`` is one
    :class:`Reference` (one geometry) or a dict geometry -> Reference (multi-geometry).
    """

    root: Path
    problem: Any
    seed: int
    sample_options: dict[str, Any]
    family_options: dict[str, Any]
    meshes: dict[Any, Any]
    handles: dict[Any, Any]
    node_counts: list[int]
    reference: Reference | dict[str, Reference] | None = None
    reference_train: int | None = None


def fidelity_of(ctx: Context, task: Task) -> str | None:
    """``"reference"`` / ``"mesh"``: how ``task``'s targets are solved (``None`` without a
    reference mesh: every sample is its own mesh's solve and records say nothing)."""
    if ctx.reference is None:
        return None
    low = task.split == "train" and ctx.reference_train is not None \
        and task.idx >= ctx.reference_train
    return "mesh" if low else "reference"


_CTX: Context | None = None


def init_context(ctx: Context) -> None:
    """Install ``ctx`` as this process's context (the pool initializer); forgets the
    reference solves of the previous context (another spec may reuse a split and index)."""
    global _CTX
    _CTX = ctx
    _REF_CACHE.clear()


def sample_seed(seed: int, split_id: int, idx: int) -> int:
    """The int recorded as a sample's ``seed``: first word of ``SeedSequence([seed, s, idx])``."""
    return int(np.random.SeedSequence([seed, split_id, idx]).generate_state(1)[0])


def record_of(task: Task, seed: int, nodes: int, fidelity: str | None = None
              ) -> dict[str, Any]:
    """The manifest entry of a sample (see :mod:`gnnops.data.manifest`); ``geometry`` only in
    a multi-geometry dataset, ``fidelity`` only when given (datasets with a reference),
    ``variant`` only on a mesh variant (> 0)."""
    rec = {"file": task.file, "split": task.split, "resolution": task.resolution,
           "index": task.idx, "seed": sample_seed(seed, task.split_id, task.idx),
           "rng": [seed, task.split_id, task.idx], "nodes": int(nodes)}
    if task.geometry is not None:
        rec["geometry"] = task.geometry
    if fidelity is not None:
        rec["fidelity"] = fidelity
    if task.variant:
        rec["variant"] = task.variant
    return rec


def mesh_fields(fields: dict[str, Any], n: int) -> dict[str, np.ndarray]:
    """Per-node arrays as VTU point data: ``[N]`` stays, ``[N, ...]`` becomes ``[N, cols]``."""
    out = {}
    for name, v in fields.items():
        a = np.asarray(v, dtype=np.float64)
        if a.ndim == 0 or a.shape[0] != n:
            from gnnops.errors import DataError

            raise DataError(f"field {name!r} has shape {list(a.shape)}; expected [{n}, ...] "
                            "(one row per node)")
        out[name] = np.ascontiguousarray(a if a.ndim == 1 else a.reshape(n, -1))
    return out


def write_vtu_atomic(mesh: Any, path: Path, point_data: dict[str, np.ndarray]) -> None:
    """Write ``mesh`` (points, cells, cell data) with ``point_data`` to ``path`` atomically."""
    import meshio

    out = meshio.Mesh(mesh.points, mesh.cells, point_data=point_data, cell_data=mesh.cell_data)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.vtu")
    try:
        meshio.write(tmp, out, file_format="vtu", compression=None)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_vtu(path: Path) -> Any:
    """Read a VTU file with meshio's reader directly: ``meshio.read`` prints and calls
    ``sys.exit`` on a corrupt file, the reader raises."""
    from meshio import vtu

    return vtu.read(str(path))


def _shapes(fields: dict[str, Any]) -> dict[str, list[int]]:
    return {k: list(np.shape(v)[1:]) for k, v in fields.items()}


def run_task(task: Task) -> dict[str, Any]:
    """Produce one sample with the process context.

    Returns:
        ``{"record": manifest sample entry, "shapes": name -> per-node shape,
        "times": {"inputs", "solve", "write", "graph"} seconds}``.
    """
    ctx = _CTX
    if ctx is None:  # pragma: no cover - programming error
        raise RuntimeError("init_context was not called in this process")
    rng = np.random.default_rng([ctx.seed, task.split_id, task.idx])
    t0 = time.perf_counter()
    sample = ctx.problem.sample_inputs(rng, **draw_options(ctx.sample_options, rng))
    path = ctx.root / task.file
    path.parent.mkdir(parents=True, exist_ok=True)
    times = {"graph": 0.0}
    if task.family is None:
        target = ctx.handles[mesh_key(task)]
        mesh = ctx.meshes[mesh_key(task)]
        inputs = ctx.problem.evaluate_inputs(sample, target)
        t1 = time.perf_counter()
        if fidelity_of(ctx, task) != "reference":
            outputs = ctx.problem.solve(target, **inputs)
        else:
            outputs = reference_solution(ctx, task, sample, target=transfer_key(task))
        t2 = time.perf_counter()
        n = len(mesh.points)
        write_vtu_atomic(mesh, path, mesh_fields({**inputs, **outputs}, n))
    else:
        from gnnops.data._network import draw_graph, write_network_sample

        g = draw_graph(task, ctx)
        t0b = time.perf_counter()
        times["graph"] = t0b - t0
        inputs = ctx.problem.evaluate_inputs(sample, g)
        t1 = time.perf_counter()
        outputs = ctx.problem.solve(g, **inputs)
        t2 = time.perf_counter()
        n = g.number_of_nodes()
        write_network_sample(g, path, inputs, outputs, ctx.problem)
        t0 = t0b
    t3 = time.perf_counter()
    times.update(inputs=t1 - t0, solve=t2 - t1, write=t3 - t2)
    return {"record": record_of(task, ctx.seed, n, fidelity_of(ctx, task)),
            "shapes": _shapes({**inputs, **outputs}), "times": times}


_REF_CACHE: dict[tuple[str | None, int, int], dict[str, np.ndarray]] = {}


def reference_solution(ctx: Context, task: Task, sample: Any, *, target: Any
                       ) -> dict[str, np.ndarray]:
    """The sample solved on the reference mesh, transferred to the mesh ``target`` (a
    :attr:`Reference.transfer` key: resolution ``k``, or ``(k, j)`` for mesh variant ``j``).

    The reference solve of a sample is kept (up to 256 samples per process) for the
    sample's other resolutions. In a multi-geometry dataset the reference of the task's
    geometry is used (the same inputs on another geometry are another solve).
    """
    ref = ctx.reference
    if isinstance(ref, dict):
        ref = ref[task.geometry]
    key = (task.geometry, task.split_id, task.idx)
    if key not in _REF_CACHE:
        if len(_REF_CACHE) >= 256:  # ~100 kB each at 12k nodes
            _REF_CACHE.pop(next(iter(_REF_CACHE)))
        inputs = ctx.problem.evaluate_inputs(sample, ref.handle)
        _REF_CACHE[key] = ctx.problem.solve(ref.handle, **inputs)
    p = ref.transfer[target]
    return {k: (p @ np.asarray(v).reshape(ref.nodes, -1)).reshape((p.shape[0],)
                                                                  + np.shape(v)[1:])
            for k, v in _REF_CACHE[key].items()}


def check_done(root: Path, task: Task, nodes: int | None) -> dict[str, list[int]] | None:
    """Whether ``task``'s files exist and read back; returns their field shapes or None.

    ``nodes``: the expected node count (mesh problems), or None to skip that check.
    """
    path = root / task.file
    if not path.is_file():
        return None
    if task.family is not None:
        from gnnops.data._network import check_network_sample

        return check_network_sample(path)
    try:
        m = read_vtu(path)
    except Exception:  # any parse failure means: produce it again
        return None
    if nodes is not None and len(m.points) != nodes:
        return None
    return {k: list(np.shape(v)[1:]) for k, v in m.point_data.items()}

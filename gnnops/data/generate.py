"""Generate a dataset folder from a :class:`~gnnops.data.spec.GenerateSpec`.

Mesh problems: each resolution ``h`` is meshed once (``gnnops.meshing.<geometry>(h)``)
and stored as ``meshes/res<k>.vtu``; train/val samples live at
``train_resolution``; every test sample is evaluated at EVERY resolution with
the same drawn inputs. With several geometries (spec ``geometries``), sample ``idx``
of train / val / test lives on ``geometries[idx % len(geometries)]`` and every
(geometry, resolution) is meshed once as ``meshes/<geometry>_res<k>.vtu``; each held-out
``test_geometries`` entry ``g`` gets a split ``test_<g>``: the inputs of ``test`` on
``g`` at every resolution. With ``mesh_variants`` K > 1 each training geometry also gets
K - 1 moved copies of its training-resolution mesh (:mod:`gnnops.data.variants`,
``meshes/[<geometry>_]res<k>_v<j>.vtu``), which train / val samples cycle through.
Sample ``idx`` of split ``s`` draws its inputs from
``numpy.random.default_rng([seed, split_id(s), idx])``, so it does not depend on
the worker count or the order. Each sample is written atomically (temporary
name in the same folder, then ``os.replace``); a rerun skips the samples whose
files exist and read back, and ``manifest.json`` is (re)written atomically at
the end -- identical for identical specs. ``shard=(I, N)`` (``gnnops generate --shard
I/N``) solves only every N-th planned sample from I and writes a shard record; the last
shard merges them into the same manifest (:mod:`gnnops.data.shards`). See
:mod:`gnnops.data.manifest` for the layout and :mod:`gnnops.data._network` for network samples.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gnnops._atomic import atomic_open, folder_lock
from gnnops.data import _worker as W
from gnnops.data import shards as S
from gnnops.data._pool import execute_tasks
from gnnops.data.manifest import build_manifest, mesh_file, read_manifest, write_manifest
from gnnops.data.spec import SPLIT_IDS, GenerateSpec, load_spec
from gnnops.errors import DataError

log = logging.getLogger(__name__)

__all__ = ["generate", "run_generation", "GenerateResult", "plan_tasks"]


@dataclass
class GenerateResult:
    """What a generation run did.

    Attributes:
        path: the dataset folder.
        new: samples produced by this run.
        skipped: samples found finished on disk and kept.
        timings: seconds spent in ``meshing``, ``inputs`` (draw + evaluate),
            ``solve`` (assembly + solve), ``write``, ``graph`` (network graphs),
            summed over workers, and ``wall`` (elapsed).
        nodes_per_resolution: node count of each resolution.
        complete: ``manifest.json`` was written (always, unsharded; for a shard: this
            shard completed the set and merged it).
    """

    path: Path
    new: int = 0
    skipped: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    nodes_per_resolution: list[int] = field(default_factory=list)
    complete: bool = True


def plan_tasks(spec: GenerateSpec, kind: str) -> list[W.Task]:
    """Every sample of ``spec`` in manifest order (split, resolution, index)."""
    ext = ".vtu" if kind == "mesh" else ".graphml"
    fam = spec.family if kind == "network" else None
    tr = spec.train_resolution
    all_res = range(len(spec.resolutions))
    groups: list[tuple[str, int, int, list[int], str | None]] = [
        ("train", SPLIT_IDS["train"], spec.n_train, [tr], fam),
        ("val", SPLIT_IDS["val"], spec.n_val, [tr], fam),
        ("test", SPLIT_IDS["test"], spec.n_test, list(all_res), fam),
    ]
    if kind == "network":
        groups += [(f"test_{f}", SPLIT_IDS["test"], spec.n_test, list(all_res), f)
                   for f in spec.test_families]
    multi = kind == "mesh" and spec.multi_geometry()
    if multi:
        groups += [(f"test_{g}", SPLIT_IDS["test"], spec.n_test, list(all_res), None)
                   for g in spec.test_geometries]
    return [W.Task(split, sid, i, k, f"{split}/res{k}/{i:05d}{ext}", f,
                   spec.geometry_of(split, i) if multi else None,
                   spec.variant_of(split, i) if kind == "mesh" else 0)
            for split, sid, count, res, f in groups for k in res for i in range(count)]


def _make_mesh(geometry: str, h: float) -> Any:
    """``gnnops.meshing.make_geometry(geometry, h)`` as a ``meshio.Mesh``."""
    try:
        import gnnops.meshing as meshing
    except ModuleNotFoundError as exc:
        raise DataError("mesh generation needs gnnops.meshing, which this build lacks") from exc
    return meshing.make_geometry(geometry, h)


def _mesh_geometries(spec: GenerateSpec) -> list[str | None]:
    """The geometries meshed at every resolution: None (the one ``geometry``, old layout)
    or the training and held-out geometries of a multi-geometry spec."""
    if not spec.multi_geometry():
        return [None]
    return spec.train_geometries() + list(spec.test_geometries)


def _mesh_handle(problem: Any, mesh: Any) -> Any:
    """What the problem's ``evaluate_inputs``/``solve`` get for a resolution.

    The built-in mesh problems accept a cached ``FemMesh`` (:mod:`gnnops.problems._fem`),
    which keeps the assembly structures of the mesh, so a sample costs a sparse mat-vec
    and a solve instead of re-hashing and re-assembling; others get the ``meshio.Mesh``.
    """
    if type(problem).__module__.startswith("gnnops.problems."):
        from gnnops.problems._fem import fem_mesh

        return fem_mesh(mesh)
    return mesh


def _meshes(spec: GenerateSpec, root: Path, timings: dict[str, float]) -> dict[Any, Any]:
    """Every (geometry, resolution) meshed once, and the mesh variants of the training
    geometries at the training resolution, written (or checked against the file); keyed
    like :func:`gnnops.data._worker.mesh_key`."""
    from gnnops.data.variants import mesh_variant

    (root / "meshes").mkdir(exist_ok=True)
    meshes: dict[Any, Any] = {}
    train = set(spec.train_geometries())
    for geo in _mesh_geometries(spec):
        name = spec.geometry if geo is None else geo
        for k, h in enumerate(spec.resolutions):
            t0 = time.perf_counter()
            mesh = _make_mesh(name, float(h))
            timings["meshing"] += time.perf_counter() - t0
            _write_or_check(mesh, root / mesh_file(k, geo), f"resolution {k} (h = {h})")
            meshes[k if geo is None else (geo, k)] = mesh
            if k != spec.train_resolution or name not in train:
                continue
            for j in range(1, spec.mesh_variants):
                t0 = time.perf_counter()
                var = mesh_variant(mesh, spec.seed, name, j)
                timings["meshing"] += time.perf_counter() - t0
                _write_or_check(var, root / mesh_file(k, geo, j),
                                f"variant {j} of resolution {k} (h = {h})")
                meshes[(geo, k, j)] = var
    return meshes


def _write_or_check(mesh: Any, path: Path, what: str) -> None:
    """Write ``mesh`` to ``path``, or check that the file there holds the same points."""
    if path.is_file():
        old = W.read_vtu(path)
        if old.points.shape != mesh.points.shape or not np.allclose(old.points, mesh.points):
            raise DataError(f"the mesh of {what} differs from '{path}' ({len(mesh.points)} "
                            f"vs {len(old.points)} nodes); remove the folder or write to "
                            "another one")
    else:
        W.write_vtu_atomic(mesh, path, {})


def _reference(spec: GenerateSpec, problem: Any, meshes: dict[Any, Any],
               timings: dict[str, float], geometry: str | None = None) -> W.Reference:
    """The reference mesh of ``spec.reference_resolution`` (of ``geometry``; None: the
    spec's one geometry) and its transfer to each resolution's mesh of that geometry and
    to its mesh variants (keyed like :func:`gnnops.data._worker.transfer_key`)."""
    from gnnops.problems.transfer import P1Transfer

    name = spec.geometry if geometry is None else geometry
    t0 = time.perf_counter()
    ref = _make_mesh(name, float(spec.reference_resolution))
    simplex = [c.data for c in ref.cells if c.type in ("triangle", "tetra")]
    if not simplex:
        raise DataError(f"reference_resolution needs a triangle / tetra mesh (geometry "
                        f"{name!r} gave {[c.type for c in ref.cells]})")
    d = simplex[-1].shape[1] - 1
    tr = P1Transfer(ref.points[:, :d], simplex[-1])
    own = {tk: m for key, m in meshes.items() for g, tk in [_split_key(key)] if g == geometry}
    mats = {k: tr.matrix(m.points[:, :d]) for k, m in own.items()}
    timings["meshing"] += time.perf_counter() - t0
    return W.Reference(handle=_mesh_handle(problem, ref), transfer=mats,
                       nodes=len(ref.points))


def _split_key(key: Any) -> tuple[str | None, Any]:
    """A mesh key (:func:`gnnops.data._worker.mesh_key`) as ``(geometry or None, transfer
    key)``: ``k`` -> ``(None, k)``, ``(g, k)`` -> ``(g, k)``, ``(g, k, j)`` ->
    ``(g, (k, j))``."""
    if not isinstance(key, tuple):
        return None, key
    return (key[0], key[1]) if len(key) == 2 else (key[0], (key[1], key[2]))


def _check_existing(root: Path, spec: GenerateSpec) -> dict[str, Any] | None:
    """Refuse a folder holding another spec's samples: the manifest's ``spec``, or (for a
    run interrupted before its manifest) ``.gnnops-spec.json``, written when a run starts."""
    import json

    man = read_manifest(root) if (root / "manifest.json").exists() else None
    marker = root / ".gnnops-spec.json"
    if man is not None:
        other = man.get("spec")
    elif marker.is_file():
        try:
            other = json.loads(marker.read_text())
        except (OSError, ValueError):
            other = None
    else:
        other = spec.to_dict()
    if other != spec.to_dict():
        problem = other.get("problem") if isinstance(other, dict) else None
        raise DataError(f"'{root}' holds a dataset of another spec (problem {problem!r}); "
                        "write to another folder or remove it")
    if not marker.is_file():
        with atomic_open(marker) as fh:
            fh.write(json.dumps(spec.to_dict(), sort_keys=True) + "\n")
    return man


def _as_spec(spec: GenerateSpec | dict | str | os.PathLike) -> GenerateSpec:
    if isinstance(spec, GenerateSpec):  # built in Python: the checks a loaded spec had
        spec.validate()
        spec.check_problem()  # unknown problem_options -> ConfigError before anything is written
        return spec
    if isinstance(spec, dict):
        return GenerateSpec.from_dict(spec)
    if isinstance(spec, (str, os.PathLike)):
        return load_spec(spec)
    raise DataError(f"expected a GenerateSpec, dict or YAML path (got {type(spec).__name__})")


def _context(spec: GenerateSpec, problem: Any, root: Path,
             timings: dict[str, float]) -> W.Context:
    """The workers' context: meshes (written once) and their problem handles, or the node
    counts of a network problem, and the reference mesh when the spec asks for one.

    Raises:
        DataError: non-integer node counts of a network problem, or a reference resolution
            for a network problem.
    """
    kind = problem.kind
    if kind == "mesh":
        meshes = _meshes(spec, root, timings)
        nodes = _node_counts(spec, meshes)
        handles = {k: _mesh_handle(problem, m) for k, m in meshes.items()}
    else:
        bad = [r for r in spec.resolutions if not float(r).is_integer()]
        if bad:
            raise DataError(f"expected node counts (integers) as resolutions of network problem "
                            f"{spec.problem!r} (got {bad})")
        meshes, handles, nodes = {}, {}, [int(r) for r in spec.resolutions]
    reference = None
    if spec.reference_resolution is not None:
        if kind != "mesh":
            raise DataError(f"reference_resolution needs a mesh problem (got {spec.problem!r}, "
                            f"a {kind} problem)")
        if spec.multi_geometry():
            reference = {g: _reference(spec, problem, meshes, timings, g)
                         for g in _mesh_geometries(spec)}
        else:
            reference = _reference(spec, problem, meshes, timings)
    return W.Context(root=root, problem=problem, seed=spec.seed,
                     sample_options=dict(spec.problem_options),
                     family_options=dict(spec.family_options), meshes=meshes, handles=handles,
                     node_counts=nodes, reference=reference,
                     reference_train=spec.reference_train)


def _node_counts(spec: GenerateSpec, meshes: dict[Any, Any]) -> list[int]:
    """Nodes per resolution: of the one geometry, or the rounded mean over the training
    geometries of a multi-geometry spec (each sample records its own count)."""
    if not spec.multi_geometry():
        return [len(meshes[k].points) for k in range(len(spec.resolutions))]
    train = spec.train_geometries()
    return [int(round(np.mean([len(meshes[(g, k)].points) for g in train])))
            for k in range(len(spec.resolutions))]


def _finished(ctx: W.Context, tasks: list[W.Task], kind: str, shapes: dict[str, list[int]]
              ) -> tuple[list[W.Task], dict[str, dict[str, Any]]]:
    """``(tasks still to do, manifest records of the samples already on disk)``; the field
    shapes of finished samples are added to ``shapes``."""
    records: dict[str, dict[str, Any]] = {}
    todo = []
    for t in tasks:
        n = len(ctx.meshes[W.mesh_key(t)].points) if kind == "mesh" else \
            ctx.node_counts[t.resolution]
        found = W.check_done(ctx.root, t, n if kind == "mesh" else None)
        if found is None:
            todo.append(t)
            continue
        for name, shp in found.items():
            shapes.setdefault(name, shp)
        records[t.file] = W.record_of(t, ctx.seed, n, W.fidelity_of(ctx, t))
    return todo, records


def run_generation(spec: GenerateSpec | dict | str | os.PathLike,
                   out_dir: str | os.PathLike | None = None, *, workers: int = 1,
                   progress: bool = True, shard: tuple[int, int] | str | None = None,
                   merge: bool = True) -> GenerateResult:
    """Generate (or complete) a dataset; like :func:`generate` but returns counts and timings
    (``merge``: a shard tries to merge the shard records; False leaves it to
    ``gnnops generate --merge``)."""
    from gnnops import problems

    spec = _as_spec(spec)
    shard = S.parse_shard(shard)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise DataError(f"expected workers an integer >= 1 (got {workers!r})")
    problem = problems.get(spec.problem, **spec.solver_options)
    kind = problem.kind
    root = Path(out_dir) if out_dir is not None else spec.default_dir()
    root.mkdir(parents=True, exist_ok=True)
    with folder_lock(root, name=".spec.lock", wait=60.0, what=f"the spec check of '{root}'"):
        old = _check_existing(root, spec)  # shards starting at once: one writes the marker
    timings = dict.fromkeys(("meshing", "inputs", "solve", "write", "graph"), 0.0)
    wall0 = time.perf_counter()
    ctx = _context(spec, problem, root, timings)
    nodes = ctx.node_counts
    tasks = S.shard_tasks(plan_tasks(spec, kind), shard)
    shapes: dict[str, list[int]] = dict((old or {}).get("field_shapes", {}))
    todo, records = _finished(ctx, tasks, kind, shapes)
    result = GenerateResult(path=root, skipped=len(tasks) - len(todo), nodes_per_resolution=nodes)
    if todo:
        log.info("generating %d of %d %s samples into %s (%d worker(s))", len(todo), len(tasks),
                 problem.name, root, workers)
    for out in execute_tasks(ctx, todo, workers=workers, progress=progress, total=len(tasks)):
        records[out["record"]["file"]] = out["record"]
        shapes.update(out["shapes"])
        for k, v in out["times"].items():
            timings[k] += v
        result.new += 1
    per_geo = None
    if kind == "mesh" and spec.multi_geometry():
        per_geo = {g: [len(ctx.meshes[(g, k)].points) for k in range(len(spec.resolutions))]
                   for g in _mesh_geometries(spec)}
    samples = [records[t.file] for t in tasks]
    if shard is None:
        write_manifest(root, build_manifest(spec, problem, kind, nodes, shapes, samples,
                                            per_geo))
    else:
        S.write_shard_record(root, shard, spec.to_dict(), kind, nodes, shapes, samples, per_geo)
        result.complete = merge and S.merge_shards(root, shard[1]) is not None
    timings["wall"] = time.perf_counter() - wall0
    result.timings = timings
    return result


def generate(spec: GenerateSpec | dict | str | os.PathLike,
             out_dir: str | os.PathLike | None = None, *, workers: int = 1,
             progress: bool = True, shard: tuple[int, int] | str | None = None) -> Path:
    """Generate a dataset folder (or complete an interrupted one), or one shard of it.

    Args:
        spec: a :class:`GenerateSpec`, its dict, or a YAML file.
        out_dir: target folder; default ``datasets/<problem>-<spec digest>``.
        workers: processes solving samples in parallel (1: inline).
        progress: show a tqdm progress bar on stderr (only when it is a terminal).
        shard: ``(I, N)`` or ``"I/N"``: only every N-th planned sample from I, for N
            processes or array jobs writing one folder (:mod:`gnnops.data.shards`); the
            last shard to finish writes ``manifest.json``.

    Returns:
        The dataset folder (holding ``manifest.json`` once complete).

    Raises:
        ConfigError: invalid spec.
        ProblemError: unknown problem or invalid problem options.
        DataError: the folder holds another spec's dataset, a mesh changed, bad workers.
    """
    return run_generation(spec, out_dir, workers=workers, progress=progress, shard=shard).path

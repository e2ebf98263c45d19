"""``manifest.json`` of a generated dataset: build, write atomically, read and check.

Layout of a generated folder::

    manifest.json
    manifest.d/shard-I-of-N.json          records of shard I of N (sharded generation only)
    .gnnops-spec.json                     the spec, written first (guards interrupted runs)
    meshes/res<k>.vtu                     the mesh of resolution k (mesh problems)
    meshes/<geometry>_res<k>.vtu          ... per geometry, in a multi-geometry dataset
    meshes/res<k>_v<j>.vtu                mesh variant j >= 1 of resolution k (mesh_variants;
                                          meshes/<geometry>_res<k>_v<j>.vtu per geometry)
    <split>/res<k>/<idx:05d>.vtu          one mesh sample: inputs + outputs as point data
    <split>/res<k>/<idx:05d>.graphml      one network sample: structure, node ids, pos_0/pos_1
    <split>/res<k>/<idx:05d>.npz          ... and its fields: x0 [N], x [N, T], times [T]

Manifest keys: ``format`` (``"gnnops-dataset"``), ``version`` (1), ``problem``,
``kind`` (``"mesh"`` | ``"network"``), ``input_fields``, ``output_fields``,
``field_dims`` (name -> number of columns once stacked), ``field_shapes`` (name ->
per-node shape, e.g. ``[]``, ``[2]``, ``[T]``), ``resolutions``,
``nodes_per_resolution``, ``splits`` (name -> ``{"resolution": k | None,
"resolutions": [k, ...], "count": n, "family": ...}``), ``samples`` (list of
``{"file", "split", "resolution", "index", "seed", "rng", "nodes"}``; ``rng`` is the
entropy ``[seed, split_id, idx]`` of ``numpy.random.default_rng`` that drew the
inputs, ``seed`` an int derived from it), ``times`` (network problems), ``spec`` and
``gnnops_version``. No timestamps: regenerating gives the identical file.

A multi-geometry dataset (spec ``geometries`` / ``test_geometries``) also has
``geometries`` (the training geometries, cycled by sample index), ``test_geometries``,
``nodes_per_geometry`` (geometry -> node count per resolution; ``nodes_per_resolution``
is then the rounded mean over the training geometries), a ``geometry`` in every sample
and ``geometries`` (geometry -> sample count) in every split.

A dataset of spec ``mesh_variants`` K > 1 stores K - 1 moved copies of each training
geometry's mesh at the training resolution (:mod:`gnnops.data.variants`); a train / val
sample on variant ``j >= 1`` records ``"variant": j`` (no key: the canonical mesh) and its
points are those of ``meshes/[<geometry>_]res<k>_v<j>.vtu``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from gnnops._atomic import atomic_open
from gnnops.errors import DataError

__all__ = ["FORMAT", "VERSION", "build_manifest", "write_manifest", "read_manifest",
           "check_sample_file", "mesh_file"]

FORMAT = "gnnops-dataset"
VERSION = 1
_REQUIRED = ("problem", "input_fields", "output_fields", "resolutions", "splits", "samples")


def write_manifest(folder: str | os.PathLike, manifest: dict[str, Any]) -> Path:
    """Write ``folder/manifest.json`` atomically (temporary file, then ``os.replace``).

    Returns:
        The manifest path.
    """
    folder = Path(folder)
    path = folder / "manifest.json"
    text = json.dumps(manifest, indent=1, sort_keys=True) + "\n"
    with atomic_open(path) as fh:
        fh.write(text)
    return path


def read_manifest(folder: str | os.PathLike) -> dict[str, Any]:
    """Read and check ``folder/manifest.json``.

    Raises:
        DataError: unreadable JSON, another format or version, missing keys.
    """
    path = Path(folder) / "manifest.json"
    try:
        man = json.loads(path.read_text())
    except FileNotFoundError as exc:
        from gnnops.data.shards import missing_shards_message

        raise DataError(missing_shards_message(folder)
                        or f"no manifest.json in '{folder}'") from exc
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read '{path}' as JSON: {exc}") from exc
    if not isinstance(man, dict) or man.get("format") != FORMAT:
        got = man.get("format") if isinstance(man, dict) else type(man).__name__
        raise DataError(f"'{path}' is not a gnnops dataset manifest: expected format "
                        f"{FORMAT!r} (got {got!r})")
    if man.get("version") != VERSION:
        raise DataError(f"'{path}' has dataset version {man.get('version')!r}; this gnnops "
                        f"reads version {VERSION} (regenerate it with `gnnops generate`)")
    missing = [k for k in _REQUIRED if k not in man]
    if missing:
        raise DataError(f"'{path}' lacks the key(s) {missing}; expected all of {list(_REQUIRED)}")
    _check_samples(path, man["samples"])
    return man


def mesh_file(k: int, geometry: str | None = None, variant: int = 0) -> str:
    """The shared mesh of resolution ``k`` (of ``geometry`` in a multi-geometry dataset;
    its mesh variant ``variant`` when > 0), relative to the dataset folder."""
    stem = f"res{k}" if geometry is None else f"{geometry}_res{k}"
    return f"meshes/{stem}.vtu" if not variant else f"meshes/{stem}_v{variant}.vtu"


def check_sample_file(path: Path, name: Any) -> str:
    """``name`` if it is a relative path inside the dataset folder, else DataError.

    A manifest from someone else must not make ``gnnops evaluate`` read files elsewhere:
    absolute paths, ``..`` components, empty names and NUL bytes are refused.
    """
    if not isinstance(name, str) or not name or "\0" in name:
        raise DataError(f"'{path}': expected each sample 'file' to be a relative path inside "
                        f"the dataset folder (got {name!r:.120})")
    pure = PurePosixPath(name)
    if pure.is_absolute() or PureWindowsPath(name).is_absolute() or ".." in pure.parts \
            or ".." in PureWindowsPath(name).parts:
        raise DataError(f"'{path}': sample file {name!r:.120} lies outside the dataset folder; "
                        f"expected a relative path without '..'")
    return name


def _check_samples(path: Path, samples: Any) -> None:
    if not isinstance(samples, list):
        raise DataError(f"'{path}': expected 'samples' to be a list (got "
                        f"{type(samples).__name__})")
    for s in samples:
        if not isinstance(s, dict):
            raise DataError(f"'{path}': expected each sample to be a mapping (got {s!r:.80})")
        check_sample_file(path, s.get("file"))
        res = s.get("resolution")
        if isinstance(res, bool) or not isinstance(res, int) or res < 0:
            raise DataError(f"'{path}': expected sample {s.get('file')!r} to have an integer "
                            f"'resolution' >= 0 (got {res!r:.40})")
        geom = s.get("geometry")  # names a shared mesh file: a plain name, no path
        if geom is not None and (not isinstance(geom, str) or not geom or geom in (".", "..")
                                 or any(c in geom for c in "/\\\0")):
            raise DataError(f"'{path}': expected sample {s.get('file')!r} to have a plain "
                            f"'geometry' name (got {geom!r:.40})")
        var = s.get("variant", 1)
        if isinstance(var, bool) or not isinstance(var, int) or var < 1:
            raise DataError(f"'{path}': expected sample {s.get('file')!r} to have an integer "
                            f"mesh 'variant' >= 1 or none (got {s.get('variant')!r:.40})")


def build_manifest(spec: Any, problem: Any, kind: str, nodes: list[int],
                   shapes: dict[str, list[int]], samples: list[dict[str, Any]],
                   nodes_per_geometry: dict[str, list[int]] | None = None) -> dict[str, Any]:
    """The manifest of ``samples`` (records in plan order) of ``spec`` solved by ``problem``
    (``nodes_per_geometry``: of a multi-geometry spec); no timestamps, so the same samples
    give the identical manifest however (in one process, in shards) they were made."""
    import numpy as np

    from gnnops import __version__

    splits: dict[str, dict[str, Any]] = {}
    for s in samples:
        info = splits.setdefault(s["split"], {"resolutions": [], "indices": set()})
        if s["resolution"] not in info["resolutions"]:
            info["resolutions"].append(s["resolution"])
        info["indices"].add(s["index"])
    for name, info in splits.items():
        res = sorted(info.pop("resolutions"))
        info.update(resolutions=res, resolution=res[0] if len(res) == 1 else None,
                    count=len(info.pop("indices")))
        if kind == "network":
            info["family"] = name[5:] if name.startswith("test_") else spec.family
    if kind == "mesh" and spec.multi_geometry():
        for s in samples:
            geos = splits[s["split"]].setdefault("geometries", {})
            if s["resolution"] == splits[s["split"]]["resolutions"][0]:
                geos[s["geometry"]] = geos.get(s["geometry"], 0) + 1
    man = {
        "format": FORMAT, "version": VERSION, "problem": spec.problem, "kind": kind,
        "input_fields": list(problem.input_fields), "output_fields": list(problem.output_fields),
        "field_shapes": {k: list(v) for k, v in sorted(shapes.items())},
        "field_dims": {k: int(np.prod(v)) if v else 1 for k, v in sorted(shapes.items())},
        "resolutions": list(spec.resolutions), "nodes_per_resolution": list(nodes),
        "train_resolution": spec.train_resolution, "splits": splits, "samples": samples,
        "spec": spec.to_dict(), "gnnops_version": __version__,
    }
    if callable(getattr(problem, "times", None)):
        man["times"] = [float(t) for t in problem.times()]
    if kind == "mesh" and spec.multi_geometry():
        man.update(geometries=spec.train_geometries(),
                   test_geometries=list(spec.test_geometries))
    if nodes_per_geometry is not None:
        man["nodes_per_geometry"] = nodes_per_geometry
    return man

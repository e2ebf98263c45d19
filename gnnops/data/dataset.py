"""Open datasets: generated folders (with ``manifest.json``) and users' own mesh files.

``open_dataset(path_or_glob)`` accepts

* a folder written by :func:`gnnops.data.generate` (its ``manifest.json`` lists the
  splits, resolutions, fields and samples);
* a folder, a glob (``"runs/*.vtu"``) or a single file of meshes in any format
  meshio reads, with named point data and no manifest -- a user's own solver
  outputs (:mod:`gnnops.data.user`): splits ``train`` / ``test`` (held-out files of
  ``test_path``, or a seeded ``test_fraction``), else one split ``"all"``; the
  resolutions are the distinct node counts (ascending), each file's ``resolution``
  the index of its count; a sample's ``seed`` is its index.

Loading a generated mesh split builds the graph topology once per resolution
(from ``meshes/res<k>.vtu``, which every sample of that resolution shares; in a
multi-geometry dataset once per geometry and resolution, from
``meshes/<geometry>_res<k>.vtu``, the sample's ``geometry`` in the manifest; a sample
on mesh variant ``j`` -- its ``variant`` in the manifest, spec ``mesh_variants`` -- from
``meshes/[<geometry>_]res<k>_v<j>.vtu``) and only reads each sample's point data; the result equals
``gnnops.graphs.from_meshio(sample_file, inputs=..., targets=...)``, and the samples
of one resolution SHARE their topology tensors (``pos``, ``edge_index``, ...) --
copy before modifying them in place.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import numpy as np

from gnnops.data.manifest import check_sample_file, mesh_file, read_manifest
from gnnops.errors import DataError, GnnopsError

__all__ = ["Dataset", "open_dataset"]

class Dataset:
    """A dataset on disk.

    Attributes:
        root: the dataset folder (user globs: their common folder).
        manifest: the manifest dict (synthesized for user files).
        kind: ``"mesh"`` or ``"network"``.
    """

    def __init__(self, root: Path, manifest: dict[str, Any], *, generated: bool) -> None:
        self.root = root
        self.manifest = manifest
        self.generated = generated
        self.kind = manifest.get("kind", "mesh")
        self._templates: dict[tuple[str | None, int, int], Any] = {}

    # ------------------------------------------------------------------ description
    @property
    def problem(self) -> str | None:
        """Problem name (user files: the one named when opening them, else None)."""
        return self.manifest.get("problem")

    @property
    def splits(self) -> list[str]:
        """Split names in sample order (``train``, ``val``, ``test``, ``test_<family>``,
        ``test_<geometry>``; user files: ``train`` and ``test``, or ``all``)."""
        order = dict.fromkeys(s["split"] for s in self.manifest["samples"])
        return list(order) + [k for k in self.manifest["splits"] if k not in order]

    @property
    def resolutions(self) -> list[float]:
        """Mesh sizes ``h`` / node counts, indexed by a sample's ``resolution``."""
        return list(self.manifest["resolutions"])

    @property
    def input_fields(self) -> list[str]:
        """The problem's input fields (user files: empty, name them in :meth:`load`)."""
        return list(self.manifest.get("input_fields", []))

    @property
    def output_fields(self) -> list[str]:
        """The problem's output fields (user files: empty)."""
        return list(self.manifest.get("output_fields", []))

    @property
    def fields(self) -> list[str]:
        """Every per-node field stored with the samples."""
        return list(self.manifest.get("field_dims", {}))

    def __repr__(self) -> str:
        counts = {k: v["count"] for k, v in self.manifest["splits"].items()}
        return f"Dataset('{self.root}', problem={self.problem!r}, splits={counts})"

    def samples(self, split: str, resolution: int | None = None) -> list[dict[str, Any]]:
        """Manifest entries of ``split`` (at ``resolution``; None: every resolution).

        Raises:
            DataError: unknown split, or a resolution the split does not have.
        """
        if split not in self.manifest["splits"]:
            raise DataError(f"unknown split {split!r} in '{self.root}'; expected one of: "
                            f"{', '.join(self.splits)}")
        res = self.manifest["splits"][split]["resolutions"]
        if resolution is not None and resolution not in res:
            raise DataError(f"split {split!r} has no resolution {resolution!r}; expected one "
                            f"of: {res}")
        return [s for s in self.manifest["samples"] if s["split"] == split
                and (resolution is None or s["resolution"] == resolution)]

    def path(self, sample: dict[str, Any]) -> Path:
        """Path of a sample's file, which lies inside :attr:`root`.

        Raises:
            DataError: a generated dataset's sample that resolves (through ``..`` or a
                symbolic link) to a file outside the dataset folder.
        """
        path = self.root / check_sample_file(self.root / "manifest.json", sample.get("file"))
        if self.generated:
            root = os.path.realpath(self.root)
            real = os.path.realpath(path)
            if os.path.commonpath([root, real]) != root:
                raise DataError(f"sample file '{path}' resolves to '{real}', outside the "
                                f"dataset folder '{self.root}'; expected files inside it")
        return path

    # ------------------------------------------------------------------ loading
    def load(self, split: str, resolution: int | None = None, *,
             inputs: Any = None, targets: Any = None) -> list[Any]:
        """Load a split as graphs.

        Args:
            split: split name (see :attr:`splits`).
            resolution: index into :attr:`resolutions`; None: every resolution of the split.
            inputs: fields stacked into ``x`` [N, F_in] (default :attr:`input_fields`).
            targets: fields stacked into ``y`` [N, F_out] (default :attr:`output_fields`).

        Returns:
            One ``torch_geometric.data.Data`` per sample (graph schema of
            :mod:`gnnops.graphs`), with ``resolution`` (int) and ``source`` (str path).

        Raises:
            DataError: unknown split/resolution/field, a listed sample file missing or
                unreadable.
        """
        inputs = _names(self.input_fields if inputs is None else inputs)
        targets = _names(self.output_fields if targets is None else targets)
        if not inputs and not targets:
            raise DataError(f"name the fields to load (inputs=..., targets=...); the samples "
                            f"of '{self.root}' hold: {', '.join(self.fields) or 'none'}")
        out = []
        for s in self.samples(split, resolution):
            path = self.path(s)
            if not path.is_file():
                raise DataError(f"sample file listed in the manifest is missing: '{path}' "
                                "(rerun `gnnops generate` to complete the dataset)")
            if self.kind == "network":
                data = self._load_network(path, inputs, targets)
            elif self.generated:
                data = self._load_generated_mesh(path, s["resolution"], inputs, targets,
                                                 s.get("geometry"), s.get("variant", 0))
            else:
                data = self._load_user_mesh(path, inputs, targets)
            data.resolution = int(s["resolution"])
            data.source = str(path)
            if "fidelity" in s:  # multi-fidelity data (GenerateSpec.reference_train)
                data.fidelity = 0.0 if s["fidelity"] == "mesh" else 1.0
            out.append(data)
        return out

    def _template(self, k: int, geometry: str | None = None, variant: int = 0) -> Any:
        """The graph of the shared mesh of resolution ``k`` (of ``geometry``; its mesh
        variant ``variant`` when > 0)."""
        if (geometry, k, variant) not in self._templates:
            from gnnops.graphs.mesh import from_meshio

            if geometry is not None and not isinstance(geometry, str):
                raise DataError(f"'{self.root / 'manifest.json'}': expected a sample "
                                f"'geometry' name, got {geometry!r:.80}")
            name = check_sample_file(self.root / "manifest.json",
                                     mesh_file(k, geometry, variant))
            path = self.root / name
            if not path.is_file():
                what = f" of geometry {geometry!r}" if geometry is not None else ""
                what += f" (mesh variant {variant})" if variant else ""
                raise DataError(f"mesh of resolution {k}{what} listed in the manifest is "
                                f"missing: '{path}'")
            self._templates[(geometry, k, variant)] = _wrap(lambda: from_meshio(path), path)
        return self._templates[(geometry, k, variant)]

    def _load_generated_mesh(self, path: Path, k: int, inputs: list[str],
                             targets: list[str], geometry: str | None = None,
                             variant: int = 0) -> Any:
        from gnnops.data._worker import read_vtu

        tpl = self._template(k, geometry, variant)
        m = _wrap(lambda: read_vtu(path), path)
        n = tpl.num_nodes
        if len(m.points) != n:
            raise DataError(f"'{path}' has {len(m.points)} nodes; its resolution's mesh has {n}")
        data = copy.copy(tpl)  # topology tensors shared by the samples of a resolution
        dim = tpl.pos.shape[1]
        if inputs:
            data.x = _stack(m.point_data, inputs, n, dim, path, "input")
        if targets:
            data.y = _stack(m.point_data, targets, n, dim, path, "target")
        return data

    def _load_user_mesh(self, path: Path, inputs: list[str], targets: list[str]) -> Any:
        from gnnops.graphs.mesh import from_meshio

        return _wrap(lambda: from_meshio(path, inputs=inputs, targets=targets), path)

    def _load_network(self, path: Path, inputs: list[str], targets: list[str]) -> Any:
        from gnnops.data._network import read_network_sample
        from gnnops.graphs.network import from_networkx

        g, arrays = read_network_sample(path)
        weighted = any("weight" in d for _, _, d in g.edges(data=True))
        data = _wrap(lambda: from_networkx(g, edge_weight="weight" if weighted else None), path)
        n = data.num_nodes
        if inputs:
            data.x = _stack(arrays, inputs, n, 0, path, "input")
        if targets:
            data.y = _stack(arrays, targets, n, 0, path, "target")
        return data


def _names(v: Any) -> list[str]:
    if isinstance(v, str):
        return [v]
    return [str(x) for x in v]


def _wrap(fn: Any, path: Path) -> Any:
    """Run ``fn``; non-gnnops failures become a DataError naming ``path``."""
    try:
        return fn()
    except DataError:
        raise
    except GnnopsError as exc:
        raise DataError(f"cannot load '{path}': {exc}") from exc
    except (Exception, SystemExit) as exc:  # parsers raise many kinds; meshio.read exits
        raise DataError(f"cannot read '{path}': {type(exc).__name__}: {exc}") from exc


def _stack(fields: Any, names: list[str], n: int, dim: int, path: Path, role: str) -> Any:
    """Fields stacked as float32 ``[N, F]`` (same rules as ``from_meshio``: a 3-column
    vector with a zero z on a 2D mesh keeps 2 columns)."""
    import torch

    cols = []
    for name in names:
        if name not in fields:
            have = ", ".join(sorted(k for k in fields if k != "times")) or "none"
            raise DataError(f"{role} field '{name}' is not stored in '{path}'; fields: {have}")
        v = np.asarray(fields[name], dtype=np.float64)
        if v.shape[0] != n:
            raise DataError(f"field '{name}' of '{path}' has {v.shape[0]} rows, expected {n}")
        v = v.reshape(n, -1)
        if dim == 2 and v.shape[1] == 3 and not np.any(v[:, 2]):
            v = v[:, :2]
        if not np.all(np.isfinite(v)):
            raise DataError(f"field '{name}' of '{path}' has NaN or inf values")
        cols.append(v)
    return torch.from_numpy(np.hstack(cols).astype(np.float32))


def open_dataset(path_or_glob: str | os.PathLike, *,
                 test_path: str | os.PathLike | None = None, test_fraction: float = 0.0,
                 seed: int = 0, problem: str | None = None) -> Dataset:
    """Open a generated dataset folder or a user's mesh files.

    Args:
        path_or_glob: a folder with ``manifest.json``; a folder of mesh files (searched
            recursively, hidden entries skipped); a glob pattern; or one mesh file.
        test_path: user files only: held-out test files (split ``test``; the others are
            ``train``).
        test_fraction: user files only: share of the files held out as ``test``, drawn by
            ``seed`` (0 and no ``test_path``: one split ``all``). A generated dataset has
            its own test splits and ignores it.
        seed: draws the held-out user files.
        problem: user files: the registered problem they solve; a generated dataset
            names its own (a different name is refused).

    Raises:
        DataError: missing path, a glob matching nothing, a folder without mesh files, a
            manifest of another format/version, unreadable files, ``test_path`` or another
            problem for a generated dataset.
    """
    from gnnops.data.user import open_user_dataset

    text = os.fspath(path_or_glob)
    p = Path(text)
    if p.is_file() and p.name == "manifest.json":
        p = p.parent
    if p.is_dir() and ((p / "manifest.json").exists() or (p / "manifest.d").is_dir()):
        ds = Dataset(p, read_manifest(p), generated=True)
        if test_path is not None:
            raise DataError(f"'{p}' is a generated dataset with its own test splits "
                            f"({', '.join(ds.splits)}); a test path is for your own mesh files")
        if problem is not None and problem != ds.problem:
            raise DataError(f"'{p}' holds {ds.problem!r} samples; expected problem "
                            f"{problem!r}")
        return ds
    return open_user_dataset(text, test_path=test_path, test_fraction=test_fraction,
                             seed=seed, problem=problem)

"""A user's own solver outputs as a dataset: mesh files with named point data, no manifest.

:func:`open_user_dataset` takes a folder (searched recursively, hidden entries skipped), a
glob or one mesh file, and optionally a second one of held-out test files, and
synthesizes the manifest of a :class:`~gnnops.data.dataset.Dataset`:

* splits: ``train`` and ``test`` -- the files of ``test_path``, or else a share
  ``test_fraction`` of the files drawn by ``seed`` (``numpy.random.default_rng(seed)``,
  so the same files for the same seed and folder); neither: one split ``all`` (nothing
  held out);
* resolutions: the distinct node counts (ascending), each file's ``resolution`` the
  index of its count; ``h`` of a user mesh is not a spec value -- evaluation reports the
  mean edge length of the meshes instead;
* ``problem``: the registered problem the files solve (``data.problem`` of a run), so
  residual checks run; ``None`` when not named.
"""

from __future__ import annotations

import glob as _glob
import os
from pathlib import Path
from typing import Any

import numpy as np

from gnnops.errors import DataError, GnnopsError

__all__ = ["user_files", "open_user_dataset", "split_files"]

_GLOB_CHARS = set("*?[")


def user_files(path_or_glob: str | os.PathLike) -> tuple[list[Path], Path]:
    """``(mesh files, their folder)`` of a folder, a glob or one file (files sorted; the
    folder: the given one, the common folder of a glob's files, a file's folder).

    Raises:
        DataError: a glob matching nothing, a missing path, a folder without mesh files.
    """
    text = os.fspath(path_or_glob)
    if any(c in text for c in _GLOB_CHARS) and not Path(text).exists():
        files = sorted(Path(p) for p in _glob.glob(text, recursive=True) if Path(p).is_file())
        if not files:
            raise DataError(f"no files match the pattern '{text}'")
        return files, Path(os.path.commonpath([str(f.parent) for f in files]))
    p = Path(text)
    if not p.exists():
        raise DataError(f"dataset not found: '{p}' (expected a folder with manifest.json, a "
                        "folder of mesh files, a glob or a mesh file)")
    if p.is_file():
        return [p], p.parent
    files = _mesh_files(p)
    if not files:
        raise DataError(f"'{p}' has no manifest.json and no mesh files meshio can read")
    return files, p


def _mesh_files(folder: Path) -> list[Path]:
    from gnnops.graphs.io import mesh_format

    out = []
    for p in sorted(folder.rglob("*")):
        if not p.is_file() or any(part.startswith(".") for part in p.relative_to(folder).parts):
            continue
        try:
            mesh_format(p)
        except GnnopsError:
            continue
        out.append(p)
    return out


def split_files(n: int, test_fraction: float, seed: int) -> list[str]:
    """``"train"`` / ``"test"`` for each of ``n`` files (sorted order): ``round(test_fraction
    * n)`` test files (at least 1 and at most ``n - 1`` when ``test_fraction > 0`` and
    ``n >= 2``) at the first positions of ``default_rng(seed).permutation(n)``.

    Raises:
        DataError: ``test_fraction`` outside [0, 1).
    """
    if not 0.0 <= test_fraction < 1.0:
        raise DataError(f"expected a test fraction in [0, 1) (got {test_fraction!r})")
    if test_fraction == 0.0 or n < 2:
        return ["train"] * n
    n_test = min(max(1, int(round(test_fraction * n))), n - 1)
    held = set(np.random.default_rng(seed).permutation(n)[:n_test].tolist())
    return ["test" if i in held else "train" for i in range(n)]


def open_user_dataset(path_or_glob: str | os.PathLike, *,
                      test_path: str | os.PathLike | None = None, test_fraction: float = 0.0,
                      seed: int = 0, problem: str | None = None) -> Any:
    """A :class:`~gnnops.data.dataset.Dataset` of user mesh files (see the module doc).

    Args:
        path_or_glob: the (training) files: folder, glob or one file.
        test_path: held-out test files (folder, glob or file); then ``test_fraction`` is
            not used.
        test_fraction: share of ``path_or_glob``'s files held out as ``test`` (0: none).
        seed: draws the held-out files.
        problem: the registered problem the files solve (recorded in the manifest).

    Raises:
        DataError: no files, unreadable files, a file both in ``path_or_glob`` and in
            ``test_path``, a bad fraction.
    """
    files, root = user_files(path_or_glob)
    if test_path is not None:
        tests, test_root = user_files(test_path)
        both = {os.path.realpath(f) for f in files} & {os.path.realpath(f) for f in tests}
        if both:
            raise DataError(f"expected held-out test files (data.test_path) apart from the "
                            f"training files, got {len(both)} in both, e.g. "
                            f"'{sorted(both)[0]}'")
        splits = ["train"] * len(files) + ["test"] * len(tests)
        files = files + tests
        root = Path(os.path.commonpath([os.path.abspath(root), os.path.abspath(test_root)]))
        what = f"{os.fspath(path_or_glob)} + test {os.fspath(test_path)}"
    else:
        splits = split_files(len(files), test_fraction, seed) if test_fraction else \
            ["all"] * len(files)
        what = os.fspath(path_or_glob)
    order = [i for i, s in enumerate(splits) if s != "test"] + \
        [i for i, s in enumerate(splits) if s == "test"]  # training files first
    files, splits = [files[i] for i in order], [splits[i] for i in order]
    return _user_dataset(files, splits, root, what, problem)


def _user_dataset(files: list[Path], splits: list[str], root: Path, what: str,
                  problem: str | None) -> Any:
    import meshio

    from gnnops.data.dataset import Dataset, _wrap
    from gnnops.graphs.io import read_mesh

    counts, names = [], None
    for f in files:
        m: meshio.Mesh = _wrap(lambda f=f: read_mesh(f), f)
        counts.append(len(m.points))
        keys = set(m.point_data)
        names = keys if names is None else names & keys
    buckets = sorted(set(counts))
    samples = [{"file": os.path.relpath(f, root), "split": s,
                "resolution": buckets.index(c), "index": i, "seed": i, "nodes": c}
               for i, (f, s, c) in enumerate(zip(files, splits, counts, strict=True))]
    info: dict[str, dict[str, Any]] = {}
    for s in samples:
        d = info.setdefault(s["split"], {"resolution": None, "resolutions": [], "count": 0})
        d["count"] += 1
        if s["resolution"] not in d["resolutions"]:
            d["resolutions"] = sorted(d["resolutions"] + [s["resolution"]])
    manifest = {
        "format": "user-meshes", "source": what, "kind": "mesh", "problem": problem,
        "input_fields": [], "output_fields": [],
        "field_dims": dict.fromkeys(sorted(names or ()), None),
        "resolutions": buckets, "nodes_per_resolution": buckets,
        "splits": info, "samples": samples,
    }
    return Dataset(root, manifest, generated=False)

"""Reading and writing mesh files through meshio, with gnnops errors.

``read_mesh`` turns every failure (missing file, unknown extension, truncated or
corrupt content -- meshio's, h5py's and the parsers' exceptions) into a
:class:`~gnnops.errors.MeshError` naming the file and the format.
``write_mesh`` writes atomically: into a temporary folder beside the target,
then ``os.replace`` of every file written (an XDMF file's ``.h5`` companion
first, the main file last), so a crash never leaves a half-written mesh.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import meshio
import numpy as np

from gnnops.errors import MeshError

__all__ = ["read_mesh", "write_mesh", "mesh_format"]


def _extensions() -> dict[str, list[str]]:
    from meshio._helpers import extension_to_filetypes

    return extension_to_filetypes


def _formats(path: str | os.PathLike) -> list[str]:
    """meshio formats that the extension of ``path`` allows, gmsh before ansys for .msh."""
    name = Path(path).name.lower()
    table = _extensions()
    for ext in sorted(table, key=len, reverse=True):  # ".vol.gz" before ".gz"
        if name.endswith(ext):
            return sorted(table[ext], key=lambda f: f != "gmsh")
    known = ", ".join(sorted(table))
    raise MeshError(
        f"cannot tell the mesh format of '{path}' from its extension "
        f"'{Path(path).suffix}'; expected one of: {known}"
    )


def mesh_format(path: str | os.PathLike, file_format: str | None = None) -> str:
    """The meshio format name of ``path`` (from its extension unless given).

    Raises:
        MeshError: the extension is not one meshio knows.
    """
    return file_format if file_format is not None else _formats(path)[0]


def _check_gmsh_end(p: Path) -> None:
    """ValueError unless the file's last line is a gmsh ``$End...`` section marker.

    meshio's gmsh 2.2 reader accepts a file cut inside a section (it returns the
    part read, e.g. a mesh without elements); a complete file ends with ``$End...``.
    """
    with open(p, "rb") as f:
        f.seek(max(p.stat().st_size - 256, 0))
        tail = f.read().rstrip().rsplit(b"\n", 1)[-1].strip()
    if not tail.startswith(b"$End"):
        raise ValueError(f"the file does not end with a $End... section line "
                         f"(last bytes {tail[-40:]!r})")


def read_mesh(path: str | os.PathLike, *, file_format: str | None = None) -> meshio.Mesh:
    """Read a mesh file with meshio.

    meshio's own ``read`` prints and calls ``sys.exit`` when every candidate
    reader fails, so the readers are called directly here.

    Args:
        path: file in any format meshio reads (.msh, .vtu, .vtk, .xdmf, .mesh, ...).
        file_format: meshio format name, when the extension does not tell it.

    Returns:
        The ``meshio.Mesh``.

    Raises:
        MeshError: the file is missing, its format unknown, or it cannot be parsed.
    """
    from meshio._helpers import reader_map

    p = Path(path)
    if not p.exists():
        raise MeshError(f"mesh file not found: '{p}'")
    if p.is_dir():
        raise MeshError(f"expected a mesh file, got the folder '{p}'")
    formats = [file_format] if file_format is not None else _formats(p)
    unknown = [f for f in formats if f not in reader_map]
    if unknown:
        raise MeshError(
            f"unknown mesh format '{unknown[0]}' for '{p}'; expected one of: "
            f"{', '.join(sorted(reader_map))}"
        )
    problems: list[tuple[str, Exception]] = []
    for fmt in formats:
        try:
            mesh = reader_map[fmt](str(p))
            if fmt.startswith("gmsh"):
                _check_gmsh_end(p)
            return mesh
        except Exception as exc:  # meshio, h5py, xml and number parsers raise many kinds
            problems.append((fmt, exc))
    fmt, exc = problems[0]
    raise MeshError(
        f"cannot read '{p}' as a {' or '.join(f for f, _ in problems)} mesh "
        f"(truncated or corrupt?): {type(exc).__name__}: {exc}"
    ) from exc


_NO_SETS = ("vtu", "vtk", "xdmf")


def _copy_for(mesh: meshio.Mesh, fmt: str) -> meshio.Mesh:
    """Shallow copy to write (meshio's writers mutate their input).

    Gmsh node data allows 1, 3 or 9 components: 2-column fields get a zero column.
    VTU / VTK / XDMF get no point or cell sets: meshio would turn them into data
    (failing on gmsh's per-block sets); gmsh physical groups travel as
    ``cell_data['gmsh:physical']`` and ``field_data`` anyway.
    """
    pd = {}
    for k, v in mesh.point_data.items():
        v = np.asarray(v)
        if fmt.startswith("gmsh") and not k.startswith("gmsh:") and v.ndim == 2 and v.shape[1] == 2:
            v = np.hstack([v, np.zeros((len(v), 1), dtype=v.dtype)])
        pd[k] = v
    keep_sets = not fmt.startswith(_NO_SETS)
    return meshio.Mesh(
        mesh.points, mesh.cells, point_data=pd,
        cell_data={k: list(v) for k, v in mesh.cell_data.items()},
        field_data=dict(mesh.field_data),
        point_sets=dict(mesh.point_sets) if keep_sets else None,
        cell_sets=dict(mesh.cell_sets) if keep_sets else None,
    )


def write_mesh(
    mesh: meshio.Mesh, path: str | os.PathLike, *, file_format: str | None = None
) -> Path:
    """Write ``mesh`` to ``path`` atomically (temporary name, then ``os.replace``).

    Args:
        mesh: the mesh to write.
        path: target file; its extension picks the format unless ``file_format``.
            ``.msh`` is written as gmsh 2.2 (``"gmsh22"``): meshio 5.3.5's gmsh 4.1
            writer refuses meshes of several cell blocks without ``gmsh:dim_tags``
            (e.g. boundary lines + triangles read from a VTU), and gmsh 2.2 keeps
            point data, ``gmsh:physical`` and ``gmsh:geometrical`` tags alike. Pass
            ``file_format="gmsh"`` for 4.1.
        file_format: meshio format name (e.g. ``"gmsh22"``, ``"vtk"``).

    Returns:
        The written path.

    Raises:
        MeshError: unknown format or meshio cannot write this mesh there.
    """
    p = Path(path)
    fmt = mesh_format(p, file_format)
    if file_format is None and fmt == "gmsh":
        fmt = "gmsh22"  # see the docstring
    if not p.parent.exists():
        raise MeshError(f"cannot write '{p}': folder '{p.parent}' does not exist")
    mesh = _copy_for(mesh, fmt)
    tmpdir = Path(tempfile.mkdtemp(prefix=".tmp-", dir=p.parent))
    try:
        target = tmpdir / p.name
        try:
            meshio.write(target, mesh, file_format=fmt)
        except Exception as exc:  # meshio.WriteError, KeyError, ValueError...
            raise MeshError(
                f"cannot write the mesh as {fmt} to '{p}': {type(exc).__name__}: {exc}"
            ) from exc
        for f in sorted(tmpdir.iterdir(), key=lambda f: f.name == p.name):
            os.replace(f, p.parent / f.name)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return p

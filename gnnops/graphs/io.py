"""Reading and writing mesh files through meshio, with gnnops errors.

``read_mesh`` turns every failure (missing file, unknown extension, truncated or
corrupt content -- meshio's, h5py's and the parsers' exceptions) into a
:class:`~gnnops.errors.MeshError` naming the file and the format. It treats every file
as untrusted (:mod:`gnnops.graphs.safety`): the format comes from the content when the
content names one (:func:`sniff_mesh_format`), declared sizes are checked against the
limits before meshio allocates (:mod:`gnnops.graphs.prescan`), XDMF data items are read
only from regular files in the XDMF file's own folder (:mod:`gnnops.graphs.xdmf_reader`),
and a missing optional reader package is a
:class:`~gnnops.errors.MissingDependencyError` naming the install extra.
``write_mesh`` writes atomically: into a temporary folder beside the target,
then ``os.replace`` of every file written (an XDMF file's ``.h5`` companion
first, the main file last), so a crash never leaves a half-written mesh.
"""

from __future__ import annotations

import mmap
import os
import re
import shutil
from pathlib import Path

import meshio
import numpy as np

from gnnops._atomic import make_temp_dir
from gnnops.errors import GnnopsError, MeshError, MissingDependencyError

__all__ = ["read_mesh", "write_mesh", "mesh_format", "sniff_mesh_format"]


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


#: (leading bytes, meshio format): content that names its format, whatever the extension.
_SIGNATURES = (
    (b"# vtk DataFile", "vtk"), (b"$MeshFormat", "gmsh"), (b"MeshVersionFormatted", "medit"),
    (b"CDF\x01", "exodus"), (b"CDF\x02", "exodus"), (b"ply\n", "ply"), (b"ply\r\n", "ply"),
    (b"OFF", "off"),
)
_XML_ROOTS = ((b"<VTKFile", "vtu"), (b"<Xdmf", "xdmf"), (b"<dolfin", "dolfin-xml"))
#: import name of an optional package -> (what needs it, gnnops install extra)
_OPTIONAL = {"netCDF4": ("reading Exodus files", "exodus")}


def sniff_mesh_format(path: str | os.PathLike) -> str | None:
    """The meshio format the first bytes of ``path`` name (None when they name none).

    Recognised: VTU / XDMF / dolfin XML (root element), legacy VTK, gmsh, medit, netCDF
    (Exodus), PLY, OFF.
    """
    with open(path, "rb") as fh:
        head = fh.read(4096)
    body = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    for sig, fmt in _SIGNATURES:
        if body.startswith(sig):
            return fmt
    if body.startswith(b"<"):
        for tag, fmt in _XML_ROOTS:
            if tag in head:
                return fmt
    return None


def _candidates(p: Path, file_format: str | None) -> list[str]:
    """Formats to try: the given one, else the sniffed one, then the extension's."""
    if file_format is not None:
        return [file_format]
    sniffed = sniff_mesh_format(p)
    try:
        by_ext = _formats(p)
    except MeshError:
        if sniffed is None:
            raise
        by_ext = []
    return [sniffed] + [f for f in by_ext if f != sniffed] if sniffed else by_ext


def _read_one(p: Path, fmt: str, src: str) -> meshio.Mesh:
    """One meshio reader on ``p`` with the declared sizes checked first."""
    from meshio._helpers import reader_map

    from gnnops.graphs.prescan import install_guards, prescan
    from gnnops.graphs.safety import ByteBudget, byte_budget, check_xml_prolog
    from gnnops.graphs.xdmf_reader import read_xdmf

    if fmt == "xdmf":
        return read_xdmf(p, src)
    if fmt in ("vtu", "dolfin-xml"):
        check_xml_prolog(p, src)
    install_guards()
    prescan(p, fmt, src)
    with byte_budget(ByteBudget(src)):
        mesh = reader_map[fmt](str(p))
    if fmt.startswith("gmsh"):
        _check_gmsh_end(p)
    return mesh


def _missing_dependency(exc: ImportError, fmt: str) -> GnnopsError:
    name = (exc.name or str(exc)).split(".")[0]
    if name in _OPTIONAL:
        feature, extra = _OPTIONAL[name]
        return MissingDependencyError(feature, name, extra)
    return MeshError(f"reading {fmt} files needs the Python package '{name}', which is not "
                     f"installed; install it with: pip install {name}")


def _check_size(mesh: meshio.Mesh, src: str) -> None:
    from gnnops.graphs.safety import check_count

    check_count(len(mesh.points), "max_nodes", src)
    check_count(sum(len(b.data) for b in mesh.cells), "max_cells", src)


def read_mesh(path: str | os.PathLike, *, file_format: str | None = None) -> meshio.Mesh:
    """Read a mesh file with meshio, treating it as untrusted input.

    meshio's own ``read`` prints and calls ``sys.exit`` when every candidate
    reader fails, so the readers are called directly here. The format is the one the
    file's first bytes name (:func:`sniff_mesh_format`), else the extension's. Sizes are
    checked against :func:`gnnops.graphs.safety.get_limits` before allocation, files named
    inside the mesh (XDMF data items) are read only from the mesh's own folder, and XML
    with a DTD is refused (see :mod:`gnnops.graphs.safety`).

    Args:
        path: file in any format meshio reads (.msh, .vtu, .vtk, .xdmf, .mesh, ...).
        file_format: meshio format name, when neither content nor extension tells it.

    Returns:
        The ``meshio.Mesh``.

    Raises:
        MeshError: the file is missing or not a regular file, its format unknown, it
            cannot be parsed, it exceeds a size limit or refers to files it may not.
        MissingDependencyError: the format needs an optional package (Exodus: netCDF4).
    """
    from meshio._helpers import reader_map

    from gnnops.graphs.safety import check_regular_file

    p = Path(path)
    if not p.exists():
        raise MeshError(f"mesh file not found: '{p}'")
    if p.is_dir():
        raise MeshError(f"expected a mesh file, got the folder '{p}'")
    src = f"'{p}'"
    check_regular_file(p, src)
    formats = _candidates(p, file_format)
    unknown = [f for f in formats if f not in reader_map]
    if unknown:
        raise MeshError(
            f"unknown mesh format '{unknown[0]}' for '{p}'; expected one of: "
            f"{', '.join(sorted(reader_map))}"
        )
    problems: list[tuple[str, Exception]] = []
    for fmt in formats:
        try:
            mesh = _read_one(p, fmt, src)
        except GnnopsError:
            raise
        except Exception as exc:  # meshio, h5py, xml and number parsers raise many kinds
            problems.append((fmt, exc))
            continue
        _check_size(mesh, src)
        _compact_cells(mesh)
        return mesh
    fmt, exc = problems[0]
    if isinstance(exc, ImportError):
        raise _missing_dependency(exc, fmt) from exc
    raise MeshError(
        f"cannot read '{p}' as a {' or '.join(f for f, _ in problems)} mesh "
        f"(truncated or corrupt?): {type(exc).__name__}: {exc}"
    ) from exc


def _compact_cells(mesh: meshio.Mesh) -> None:
    """int32 connectivity in place of meshio's int64 when the point count allows: half the
    memory of the cells while the mesh is held (e.g. for writing the prediction back, which
    then writes Int32 connectivity)."""
    if len(mesh.points) >= 2**31:
        return
    for block in mesh.cells:
        data = getattr(block, "data", None)
        if isinstance(data, np.ndarray) and data.dtype == np.int64:
            block.data = data.astype(np.int32)


_NO_SETS = ("vtu", "vtk", "xdmf")


_VTU_TAGS = re.compile(rb"<(/?)(PointData|DataArray|AppendedData)\b([^>]*)>")
_VTU_NAME = re.compile(rb'\bName\s*=\s*"([^"]*)"')


def vtu_point_data_names(path: str | os.PathLike) -> list[str] | None:
    """Names of the point-data arrays of a VTU file's first piece, from its tags alone (a
    regex over the mapped file: nothing decoded); ``None`` when no ``PointData`` is found
    before any appended data (ask the reader instead)."""
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        inside, names = False, []
        for m in _VTU_TAGS.finditer(mm):
            close, tag, attrs = m.groups()
            if tag == b"AppendedData":
                return None
            if tag == b"PointData":
                if close or attrs.rstrip().endswith(b"/"):
                    return names
                inside = True
            elif inside and not close:
                name = _VTU_NAME.search(attrs)
                if name:
                    names.append(name.group(1).decode(errors="replace"))
    return None


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
    tmpdir = make_temp_dir(p.parent)  # owned: a killed writer's folder is cleaned later
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

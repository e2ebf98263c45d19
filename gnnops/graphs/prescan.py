"""Declared sizes of mesh files, checked before meshio allocates or decompresses anything.

:func:`prescan` reads only headers: VTU ``Piece`` counts and the block headers of every
``DataArray`` (declared decompressed sizes, summed, so two arrays that share appended data
count twice), ``.msh`` ``$Nodes`` / ``$Elements`` counts, legacy VTK ``POINTS`` /
``CELLS`` / ``DIMENSIONS``, and every dataset of an HDF5 file (MED, CGNS, H5M, HMF):
external links, external raw storage and virtual datasets are refused (they name other
files), and a dataset that stores far fewer bytes than it declares (unallocated chunks of
a sparse file) is refused before it is read as gigabytes of fill values.

:func:`install_guards` adds what headers cannot promise: meshio's VTU decompression is
bounded by the input's :class:`~gnnops.graphs.safety.ByteBudget` (a header that under-states
a block cannot expand it past the limit), gmsh node tags, which meshio turns into a
lookup table as long as the largest tag, are checked against ``max_nodes``, and readers
that loop on ``readline()`` past the end of a truncated file are stopped.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import io
import lzma
import math
import mmap
import os
import re
import zlib
from typing import Any

import numpy as np

from gnnops.errors import MeshError
from gnnops.graphs.safety import ByteBudget, check_count, current_budget

__all__ = ["prescan", "check_hdf5_dataset", "install_guards"]

#: A dataset storing less than 1/SPARSE_RATIO of its declared bytes is refused (deflate
#: cannot compress beyond ~1032:1, so such a dataset has chunks that were never written).
SPARSE_RATIO = 2000
_SPARSE_MIN = 16 << 20  # datasets smaller than this are never refused as sparse
_HDF5_FORMATS = ("med", "cgns", "h5m", "hmf")
_VTU_TYPES = {"Int8": 1, "UInt8": 1, "Int16": 2, "UInt16": 2, "Int32": 4, "UInt32": 4,
              "Int64": 8, "UInt64": 8, "Float32": 4, "Float64": 8}


def prescan(path: str | os.PathLike, fmt: str, src: str) -> ByteBudget:
    """Check the declared sizes of ``path`` (meshio format ``fmt``) against the limits.

    Returns:
        The input's byte budget with the declared array bytes taken.

    Raises:
        MeshError: a declared size over a limit, a reference to another file, a sparse
            HDF5 dataset.
    """
    budget = ByteBudget(src)
    if os.path.getsize(path) == 0:
        return budget
    if fmt == "vtu":
        _scan_vtu(path, src, budget)
    elif fmt.startswith("gmsh"):
        _scan_gmsh(path, src)
    elif fmt == "vtk":
        _scan_vtk(path, src)
    elif fmt in _HDF5_FORMATS:
        _scan_hdf5(path, src, budget)
    return budget


def check_hdf5_dataset(dset: Any, where: str, budget: ByteBudget) -> int:
    """Refuse an HDF5 dataset that names other files or is sparse; take its bytes.

    Returns:
        The dataset's declared size in bytes.
    """
    if dset.is_virtual:
        raise MeshError(f"{where} is a virtual dataset (its data lives in other files); "
                        f"refused")
    if dset.external:
        names = ", ".join(str(e[0]) for e in dset.external)
        raise MeshError(f"{where} keeps its data in the external file(s) {names}; refused")
    nbytes = int(math.prod(int(s) for s in dset.shape or ())) * int(dset.dtype.itemsize)
    budget.take(nbytes, where)
    stored = int(dset.id.get_storage_size())
    if nbytes > _SPARSE_MIN and stored * SPARSE_RATIO < nbytes:
        raise MeshError(f"{where} declares shape {list(dset.shape)} ({nbytes:,} bytes) but "
                        f"stores only {stored:,} bytes (a sparse file whose chunks were "
                        f"never written); refused")
    return nbytes


def _scan_hdf5(path: str | os.PathLike, src: str, budget: ByteBudget) -> None:
    import h5py

    try:
        f = h5py.File(path, "r")
    except Exception:  # not HDF5 at all: meshio's reader reports it
        return
    with f:
        links: list[tuple[str, Any]] = []
        f.visititems_links(lambda name, link: links.append((name, link)))  # type: ignore
        for name, link in links:  # raising inside h5py's visitor is not clean
            if isinstance(link, h5py.ExternalLink):
                raise MeshError(f"{src}: '/{name}' is an external link to "
                                f"'{link.filename}'; refused")
            if isinstance(link, h5py.HardLink):
                obj = f.get(name)
                if isinstance(obj, h5py.Dataset):
                    check_hdf5_dataset(obj, f"{src}: dataset '/{name}'", budget)


def _b64_chars(nbytes: int) -> int:
    return 4 * ((nbytes + 2) // 3)


_TAG = re.compile(rb"<(VTKFile|Piece|DataArray|AppendedData)\b([^>]*)>")
_ATTR = re.compile(rb'([\w:]+)\s*=\s*"([^"]*)"')
_WS = b" \t\r\n"


def _attrs(raw: bytes) -> dict[str, str]:
    return {k.decode(): v.decode(errors="replace") for k, v in _ATTR.findall(raw)}


class _Appended:
    """The bytes of a VTU ``<AppendedData>`` section (raw or base64) in the mapped file."""

    def __init__(self, mm: Any, start: int, encoding: str) -> None:
        under = mm.find(b"_", start)
        self.mm, self.start = mm, (under + 1 if under >= 0 else len(mm))
        self.raw = encoding == "raw"

    def header(self, offset: int, nbytes: int) -> bytes:
        at = self.start + offset
        if self.raw:
            return self.mm[at:at + nbytes]
        return base64.b64decode(self.mm[at:at + _b64_chars(nbytes)])[:nbytes]

    def size(self, offset: int) -> int:
        rest = len(self.mm) - self.start - offset
        return rest if self.raw else rest * 3 // 4


def _vtu_header(read: Any, available: int, header_type: str, compressed: bool) -> int:
    """Declared decompressed bytes of one VTU data array from its binary header."""
    dt = np.dtype({"UInt32": "<u4", "UInt64": "<u8"}.get(header_type, "<u4"))
    first = np.frombuffer(read(dt.itemsize), dt)
    if len(first) < 1:
        return 0
    if not compressed:
        return int(first[0])
    nblocks = int(first[0])
    if nblocks * dt.itemsize > available:
        raise MeshError(f"declares {nblocks:,} compressed blocks but holds only "
                        f"{available:,} bytes")
    head = np.frombuffer(read(3 * dt.itemsize), dt)
    if nblocks == 0 or len(head) < 3:
        return 0
    block, last = int(head[1]), int(head[2])
    return (nblocks - 1) * block + (last if last else block)


def _array_bytes(mm: Any, at: int, a: dict[str, str], file: dict[str, str],
                 appended: _Appended | None) -> int | None:
    """Declared bytes of the DataArray whose text starts at ``at`` (None: not known)."""
    fmt = a.get("format", "ascii")
    header_type, compressed = file.get("header_type", "UInt32"), "compressor" in file
    if fmt == "ascii":
        stop = mm.find(b"<", at)
        length = (stop if stop >= 0 else len(mm)) - at
        return _VTU_TYPES.get(a.get("type", ""), 8) * (length // 2 + 1)
    if fmt == "binary":
        while at < len(mm) and mm[at:at + 1] in _WS:
            at += 1
        stop = mm.find(b"<", at)
        avail = ((stop if stop >= 0 else len(mm)) - at) * 3 // 4
        return _vtu_header(lambda n: base64.b64decode(mm[at:at + _b64_chars(n)])[:n], avail,
                           header_type, compressed)
    if fmt == "appended" and appended is not None:
        off = int(a.get("offset", 0))
        return _vtu_header(lambda n: appended.header(off, n), appended.size(off), header_type,
                           compressed)
    return None


def _scan_vtu(path: str | os.PathLike, src: str, budget: ByteBudget) -> None:
    """Piece counts and every DataArray's declared size, from the tags and block headers
    (a regex over the mapped file: no XML tree, no copy of the data)."""
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        tags = []
        for m in _TAG.finditer(mm):
            tags.append((m.group(1), _attrs(m.group(2)), m.end()))
            if m.group(1) == b"AppendedData":
                break  # raw appended bytes follow: no more tags to trust
        file = next((a for t, a, _ in tags if t == b"VTKFile"), {})
        app = next(((a, end) for t, a, end in tags if t == b"AppendedData"), None)
        appended = _Appended(mm, app[1], app[0].get("encoding", "raw")) if app else None
        pieces = [a for t, a, _ in tags if t == b"Piece"]
        check_count(sum(int(a.get("NumberOfPoints", 0)) for a in pieces), "max_nodes", src)
        check_count(sum(int(a.get("NumberOfCells", 0)) for a in pieces), "max_cells", src)
        for i, (tag, a, end) in enumerate(tags):
            if tag != b"DataArray":
                continue
            name = f"DataArray '{a.get('Name', i)}'"
            try:
                size = _array_bytes(mm, end, a, file, appended)
            except MeshError as exc:
                raise MeshError(f"{src}: {name} {exc}") from None
            except (ValueError, TypeError, base64.binascii.Error):
                continue  # malformed: meshio's reader reports it
            if size is not None:
                budget.take(size, name)


_GMSH_FORMAT = re.compile(rb"\$MeshFormat\r?\n\s*([\d.]+)\s+(\d+)\s+(\d+)")


def _scan_gmsh(path: str | os.PathLike, src: str) -> None:
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        m = _GMSH_FORMAT.search(mm, 0, 4096)
        if m is None:
            return
        v4 = m.group(1).startswith(b"4")
        binary = m.group(2) == b"1"
        size_t = np.dtype(f"<u{int(m.group(3))}") if m.group(3) in (b"4", b"8") else None
        for section, key in ((b"$Nodes", "max_nodes"), (b"$Elements", "max_cells")):
            s = re.compile(re.escape(section) + rb"\r?\n").search(mm)
            if s is None:
                continue
            if v4 and binary and size_t is not None:
                counts = np.frombuffer(mm[s.end():s.end() + 4 * size_t.itemsize], size_t)
                n = int(counts[1]) if len(counts) > 1 else 0
            else:
                nums = mm[s.end():s.end() + 200].split(b"\n", 1)[0].split()
                try:
                    n = int(nums[1] if v4 else nums[0])
                except (IndexError, ValueError):
                    continue
            check_count(n, key, src)


_VTK_HEAD = 1 << 16
_VTK_WORDS = (b"POINTS", b"CELLS", b"POLYGONS", b"CELL_TYPES", b"DIMENSIONS", b"POINT_DATA",
              b"CELL_DATA")


def _scan_vtk(path: str | os.PathLike, src: str) -> None:
    """First ``POINTS`` / ``DIMENSIONS`` / ... line in the first 64 KiB of a legacy VTK
    file. ``DIMENSIONS`` matters most: meshio builds a structured grid's points and cells
    from it alone; counts further in are followed by their data, which ``np.fromfile``
    reads no further than the file goes (checked after reading)."""
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        v5 = mm[:64].startswith(b"# vtk DataFile Version 5")  # CELLS counts offsets: n + 1
        for word in _VTK_WORDS:
            at = mm.find(b"\n" + word + b" ", 0, _VTK_HEAD)
            if at < 0:
                continue
            line = mm[at + 1:at + 200].split(b"\n", 1)[0].split()[1:]
            try:
                nums = [int(t) for t in line if t.isdigit()]
            except ValueError:
                continue
            if not nums:
                continue
            if word == b"DIMENSIONS":
                check_count(math.prod(nums), "max_nodes", src)
                check_count(math.prod(max(d - 1, 1) for d in nums), "max_cells", src)
            elif word in (b"POINTS", b"POINT_DATA"):
                check_count(nums[0], "max_nodes", src)
            else:
                check_count(nums[0] - (v5 and word == b"CELLS"), "max_cells", src)


class _BoundedCodec:
    """zlib / lzma with ``decompress`` bounded by the current input's byte budget."""

    def __init__(self, module: Any) -> None:
        self._module = module

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)

    def decompress(self, data: bytes, *args: Any, **kwargs: Any) -> bytes:
        budget = current_budget()
        if budget is None:
            return self._module.decompress(data, *args, **kwargs)
        cap = budget.remaining + 1
        if self._module is zlib:
            d = zlib.decompressobj()
            out = d.decompress(data, cap)
            complete = d.eof
        else:
            d = lzma.LZMADecompressor()
            out = d.decompress(data, max_length=cap)
            complete = d.eof
        if len(out) >= cap:
            budget.take(len(out), "decompressed data")  # raises
        if not complete:
            error = zlib.error if self._module is zlib else lzma.LZMAError
            raise error("incomplete or truncated compressed stream")
        budget.take(len(out), "decompressed data")
        return out


def _guard_gmsh_nodes(module: Any) -> None:
    orig = getattr(module, "_read_nodes", None)
    if orig is None or getattr(orig, "_gnnops_guard", False):
        return

    @functools.wraps(orig)
    def read_nodes(*args: Any, **kwargs: Any) -> Any:
        out = orig(*args, **kwargs)
        tags = np.asarray(out[1])
        if tags.size:
            top = tags.max()
            budget = current_budget()
            src = budget.src if budget is not None else "the gmsh file"
            if not np.isfinite(top):
                raise MeshError(f"{src} has a non-finite node tag")
            check_count(int(top), "max_nodes", src,
                        what="as its largest node tag (meshio allocates a slot per tag)")
        return out

    read_nodes._gnnops_guard = True  # type: ignore[attr-defined]
    module._read_nodes = read_nodes


#: Consecutive reads at end of file after which a reader is taken to be stuck.
EOF_READS = 10_000


class _EofGuardedReader(io.BufferedReader):
    """A buffered file that raises ``EOFError`` when read at its end ``EOF_READS`` times
    in a row: several meshio readers (OFF, PLY, medit, ...) loop on ``readline()`` until
    they see a line they expect, forever on a truncated file."""

    _empty = 0

    def _count(self, out: Any) -> Any:
        if out:
            self._empty = 0
        else:
            self._empty += 1
            if self._empty > EOF_READS:
                raise EOFError("unexpected end of file (the reader kept reading past it)")
        return out

    def read(self, *args: Any) -> bytes:
        return self._count(super().read(*args))

    def read1(self, *args: Any) -> bytes:
        return self._count(super().read1(*args))

    def readline(self, *args: Any) -> bytes:
        return self._count(super().readline(*args))


@contextlib.contextmanager
def _guarded_open_file(path_or_buf: Any, mode: str = "r") -> Any:
    """meshio's ``open_file`` for reading, with :class:`_EofGuardedReader` files."""
    if "r" not in mode or hasattr(path_or_buf, "read") or "+" in mode:
        with _ORIGINAL_OPEN_FILE[0](path_or_buf, mode) as f:
            yield f
        return
    with _EofGuardedReader(io.FileIO(os.fspath(path_or_buf), "r")) as raw:
        yield raw if "b" in mode else io.TextIOWrapper(raw)


_ORIGINAL_OPEN_FILE: list[Any] = []


def _guard_open_file() -> None:
    import sys

    from meshio import _files

    if not _ORIGINAL_OPEN_FILE:
        _ORIGINAL_OPEN_FILE.append(_files.open_file)
    for name, module in list(sys.modules.items()):
        if (name.startswith("meshio.") and module is not None
                and getattr(module, "open_file", None) is _ORIGINAL_OPEN_FILE[0]):
            module.open_file = _guarded_open_file


def install_guards() -> None:
    """Bound meshio's VTU decompression, gmsh tag tables and EOF loops (idempotent)."""
    from meshio.gmsh import _gmsh22, _gmsh41
    from meshio.vtu import _vtu

    _guard_open_file()

    if not isinstance(_vtu.zlib, _BoundedCodec):
        _vtu.zlib = _BoundedCodec(zlib)
    if getattr(_vtu, "lzma", None) is not None and not isinstance(_vtu.lzma, _BoundedCodec):
        _vtu.lzma = _BoundedCodec(lzma)
    _guard_gmsh_nodes(_gmsh22)
    _guard_gmsh_nodes(_gmsh41)

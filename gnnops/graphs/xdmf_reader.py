"""XDMF files read with their references confined and their sizes checked first.

meshio's XDMF reader opens whatever a ``DataItem`` names: a ``Binary`` item is read with
``np.fromfile`` of its text as a path (relative to the working directory, not to the
XDMF file; ``/etc/passwd`` or a FIFO alike), an ``HDF`` item with ``h5py`` (external
links, external storage and sparse datasets included), and the XML itself by a parser
that accepts a DTD. :func:`read_xdmf` parses the XML with
:func:`~gnnops.graphs.safety.parse_xml` (no DTD), checks every declared
``Dimensions`` against the limits before reading anything, and hands meshio's own
grid / topology logic a reader whose data items come only from regular files inside
the XDMF file's folder (:func:`~gnnops.graphs.safety.open_reference`).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
from meshio.xdmf.common import xdmf_to_numpy_type
from meshio.xdmf.main import XdmfReader

from gnnops.errors import MeshError
from gnnops.graphs.prescan import check_hdf5_dataset
from gnnops.graphs.safety import ByteBudget, check_count, open_reference, parse_xml

__all__ = ["read_xdmf"]


def _dims(item: Any, src: str) -> list[int]:
    text = item.get("Dimensions")
    try:
        dims = [int(d) for d in (text or "").split()]
    except ValueError:
        dims = []
    if not dims or min(dims) < 0:
        raise MeshError(f"{src}: a DataItem has Dimensions={text!r}; expected positive "
                        f"integers")
    return dims


def _dtype(item: Any, src: str) -> np.dtype:
    if "DataType" in item.attrib and "NumberType" in item.attrib:
        raise MeshError(f"{src}: a DataItem has both DataType and NumberType")
    key = (item.get("DataType", item.get("NumberType", "Float")), item.get("Precision", "4"))
    try:
        return np.dtype(xdmf_to_numpy_type[key])
    except KeyError:
        raise MeshError(f"{src}: unknown DataItem type {key[0]!r} of precision "
                        f"{key[1]!r}") from None


def _check_declared(root: Any, src: str, budget: ByteBudget) -> None:
    """Point / cell counts and the bytes of every data item, before any is read."""
    for geo in root.iter("Geometry"):
        for item in geo.iter("DataItem"):
            if "Reference" not in item.attrib:
                check_count(_dims(item, src)[0], "max_nodes", src)
    for topo in root.iter("Topology"):
        n = topo.get("NumberOfElements")
        if n is not None and n.strip().isdigit():
            check_count(int(n), "max_cells", src)
    for item in root.iter("DataItem"):
        if "Reference" in item.attrib:
            continue
        nbytes = math.prod(_dims(item, src)) * _dtype(item, src).itemsize
        budget.take(nbytes, f"DataItem of Dimensions '{item.get('Dimensions')}'")


class _ConfinedXdmfReader(XdmfReader):
    """meshio's reader over a pre-parsed tree, with confined, size-checked data items."""

    def __init__(self, filename: str, root: Any, src: str, budget: ByteBudget) -> None:
        super().__init__(filename)
        self.root, self.src, self.budget = root, src, budget
        self.folder = Path(filename).resolve().parent

    def read(self) -> Any:
        if self.root.tag != "Xdmf":
            raise MeshError(f"{self.src}: expected an <Xdmf> root element, got "
                            f"<{self.root.tag}>")
        version = self.root.get("Version", "")
        major = version.split(".")[0]
        if major == "2":
            return self.read_xdmf2(self.root)
        if major == "3":
            return self.read_xdmf3(self.root)
        raise MeshError(f"{self.src}: unknown XDMF version {version!r}; expected 2.x or 3.x")

    def read_information(self, c_data: str) -> dict:
        root = parse_xml(c_data.encode(), f"{self.src} (Information)")
        out = {}
        for child in root:
            out[child.attrib["key"]] = np.array([int(child.text), int(child.attrib["dim"])])
        return out

    def _read_data_item(self, data_item: Any, root: Any = None) -> np.ndarray:
        fmt = data_item.get("Format", "XML")
        if "Reference" in data_item.attrib or fmt == "XML":
            return super()._read_data_item(data_item, root if root is not None else self.root)
        dims = _dims(data_item, self.src)
        dtype = _dtype(data_item, self.src)
        text = (data_item.text or "").strip()
        if fmt == "Binary":
            return self._binary(text, dims, dtype)
        if fmt == "HDF":
            return self._hdf(text, dims)
        raise MeshError(f"{self.src}: unknown DataItem Format {fmt!r}; expected XML, "
                        f"Binary or HDF")

    def _binary(self, ref: str, dims: list[int], dtype: np.dtype) -> np.ndarray:
        count = math.prod(dims)
        with open_reference(ref, self.folder, self.src) as fh:
            size = os.fstat(fh.fileno()).st_size
            if size < count * dtype.itemsize:
                raise MeshError(f"{self.src}: the Binary DataItem '{ref}' declares {dims} "
                                f"values ({count * dtype.itemsize:,} bytes) but the file "
                                f"holds {size:,} bytes")
            data = np.frombuffer(fh.read(count * dtype.itemsize), dtype=dtype)
        return data.reshape(dims)

    def _hdf(self, text: str, dims: list[int]) -> np.ndarray:
        import h5py

        filename, sep, h5path = text.rpartition(":")
        if not sep or not filename:
            raise MeshError(f"{self.src}: an HDF DataItem reads {text!r}; expected "
                            f"'file.h5:/path/to/dataset'")
        where = f"{self.src}: dataset '{h5path}' of '{filename}'"
        with open_reference(filename, self.folder, self.src) as fh, h5py.File(fh, "r") as f:
            node: Any = f
            for key in (k for k in h5path.split("/") if k):
                link = node.get(key, getlink=True) if isinstance(node, h5py.Group) else None
                if link is None:
                    raise MeshError(f"{where} does not exist")
                if isinstance(link, h5py.ExternalLink):
                    raise MeshError(f"{where} is an external link to '{link.filename}'; "
                                    f"refused")
                node = node[key]
            if not isinstance(node, h5py.Dataset):
                raise MeshError(f"{where} is not a dataset")
            if node.size != math.prod(dims):
                raise MeshError(f"{where} has shape {list(node.shape)} but the XDMF file "
                                f"declares Dimensions {dims}")
            check_hdf5_dataset(node, where, ByteBudget(self.src, self.budget.limit))
            return node[()]


def read_xdmf(path: str | os.PathLike, src: str | None = None) -> Any:
    """Read an XDMF mesh (``meshio.Mesh``) with confined references and checked sizes.

    Raises:
        MeshError: a DTD, a reference outside the file's folder or to a non-regular
            file, a declared size over the limits, a sparse or external HDF5 dataset.
    """
    src = src or f"'{path}'"
    root = parse_xml(path, src)
    budget = ByteBudget(src)
    _check_declared(root, src, budget)
    return _ConfinedXdmfReader(str(path), root, src, budget).read()

"""Defences against untrusted input files: size limits, confined references, safe XML.

gnnops reads mesh and network files that its users did not make. Three rules hold for
every input (see ``SECURITY.md``):

- **Size limits, checked before allocation.** Each input may declare at most
  ``max_nodes`` points / network nodes, ``max_cells`` cells / edges and ``max_bytes``
  bytes of array data after decompression (and its own file is at most ``max_bytes``).
  Declared sizes (VTU headers, XDMF ``Dimensions``, HDF5 shapes, ``.msh`` section counts)
  are checked before anything of that size is allocated or decompressed. Defaults follow
  the machine's memory (:func:`default_limits`); raise them with the environment variables
  ``GNNOPS_MAX_NODES``, ``GNNOPS_MAX_CELLS``, ``GNNOPS_MAX_BYTES`` (integers; ``K``,
  ``M``, ``G``, ``T`` suffixes allowed) or :func:`set_limits` from Python.
- **Confined references.** A file named inside an input (an XDMF ``DataItem`` of format
  ``Binary`` or ``HDF``) is read only if it is a regular file inside the input's own
  folder: no absolute path, no ``..``, no symlink leading out, no FIFO or device
  (:func:`open_reference`, checked on the opened descriptor, so no swap in between).
- **No DTDs in XML.** A ``<!DOCTYPE`` (and with it every entity definition, the vehicle
  of "billion laughs" bombs and external entities) is refused (:func:`parse_xml`,
  :func:`check_xml_prolog`).

Imports nothing from gnnops but the errors.
"""

from __future__ import annotations

import contextvars
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import BinaryIO
from xml.etree import ElementTree as ET
from xml.parsers import expat

from gnnops.errors import ConfigError, GnnopsError, MeshError

__all__ = [
    "Limits", "default_limits", "get_limits", "set_limits", "reset_limits",
    "ENV_VARS", "ByteBudget", "byte_budget", "current_budget", "check_count",
    "check_regular_file", "open_reference", "parse_xml", "check_xml_prolog",
]

#: Limit name -> environment variable that overrides its default.
ENV_VARS = {"max_nodes": "GNNOPS_MAX_NODES", "max_cells": "GNNOPS_MAX_CELLS",
            "max_bytes": "GNNOPS_MAX_BYTES"}
_SUFFIX = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_WHAT = {"max_nodes": "points", "max_cells": "cells", "max_bytes": "bytes"}


@dataclass(frozen=True)
class Limits:
    """Per-input size limits (see the module docstring).

    Attributes:
        max_nodes: most mesh points / network nodes of one input.
        max_cells: most mesh cells / network edges of one input.
        max_bytes: most bytes of array data of one input after decompression, and the
            largest input file.
    """

    max_nodes: int
    max_cells: int
    max_bytes: int


def _ram_bytes() -> int:
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # not POSIX: assume 16 GiB
        return 16 << 30


def default_limits(ram_bytes: int | None = None) -> Limits:
    """Defaults sized to the machine: ~1 KiB of memory per node while the graph is built.

    ``max_nodes = clamp(RAM / 1 KiB, 1M, 50M)``, ``max_cells = 8 * max_nodes`` (a
    tetrahedral mesh has ~6 cells per node), ``max_bytes = max(RAM / 4, 256 MiB)``. On a
    16 GiB machine: 16.8M nodes, 134M cells, 4 GiB.
    """
    ram = _ram_bytes() if ram_bytes is None else int(ram_bytes)
    nodes = min(50_000_000, max(1_000_000, ram // 1024))
    return Limits(max_nodes=nodes, max_cells=8 * nodes, max_bytes=max(ram // 4, 256 << 20))


def _parse_size(text: str, var: str) -> int:
    m = re.fullmatch(r"\s*(\d+)\s*([KMGT]?)i?B?\s*", text, flags=re.IGNORECASE)
    if m is None or int(m.group(1)) <= 0:
        raise ConfigError(f"environment variable {var} expects a positive integer, optionally "
                          f"with a K/M/G/T suffix (e.g. 8G), got {text!r}")
    return int(m.group(1)) * _SUFFIX[m.group(2).upper()]


_OVERRIDE: dict[str, int] = {}


def get_limits() -> Limits:
    """The limits in force: :func:`set_limits` values, else environment variables, else
    :func:`default_limits`.

    Raises:
        ConfigError: an environment variable is not a positive size.
    """
    limits = default_limits()
    env = {k: _parse_size(os.environ[v], v) for k, v in ENV_VARS.items() if os.environ.get(v)}
    return replace(limits, **{**env, **_OVERRIDE})


def set_limits(*, max_nodes: int | None = None, max_cells: int | None = None,
               max_bytes: int | None = None) -> Limits:
    """Raise (or lower) the per-input size limits for this process.

    Args:
        max_nodes: most points / nodes per input (None keeps the current value).
        max_cells: most cells / edges per input.
        max_bytes: most decompressed array bytes per input (and largest input file).

    Returns:
        The limits in force before the call (hand them back with ``set_limits(**vars(old))``
        or call :func:`reset_limits`).

    Raises:
        ConfigError: a value is not a positive integer.
    """
    old = get_limits()
    new = {"max_nodes": max_nodes, "max_cells": max_cells, "max_bytes": max_bytes}
    for key, value in new.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConfigError(f"set_limits: {key} expects a positive int, got {value!r}")
        _OVERRIDE[key] = value
    return old


def reset_limits() -> None:
    """Forget :func:`set_limits` values (environment variables and defaults apply again)."""
    _OVERRIDE.clear()


def _how_to_raise(key: str) -> str:
    return f"raise it with {ENV_VARS[key]}=... or gnnops.graphs.set_limits({key}=...)"


def check_count(n: int, key: str, src: str, *, what: str | None = None,
                error: type[GnnopsError] = MeshError) -> None:
    """``error`` unless ``0 <= n <= get_limits().<key>``.

    Args:
        n: the declared count (points, cells, bytes).
        key: ``"max_nodes"``, ``"max_cells"`` or ``"max_bytes"``.
        src: the input, for the message.
        what: what is counted (default from ``key``).
        error: the error class (MeshError for meshes, GraphError for networks).
    """
    limit = getattr(get_limits(), key)
    what = what or _WHAT[key]
    if n < 0:
        raise error(f"{src} declares a negative number of {what} ({n})")
    if n > limit:
        raise error(f"{src} declares {n:,} {what}, more than the limit of {limit:,} per "
                    f"input; {_how_to_raise(key)}")


class ByteBudget:
    """Bytes of array data one input may still allocate / decompress.

    Args:
        src: the input, for messages.
        limit: the budget (default: ``get_limits().max_bytes``).
        error: the error class raised when the budget is exceeded.
    """

    def __init__(self, src: str, limit: int | None = None,
                 error: type[GnnopsError] = MeshError) -> None:
        self.src = src
        self.limit = get_limits().max_bytes if limit is None else int(limit)
        self.used = 0
        self.error = error

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)

    def take(self, n: int, what: str) -> None:
        """Account ``n`` more bytes for ``what``; ``error`` when over the budget."""
        n = int(n)
        if n < 0:
            raise self.error(f"{self.src}: {what} declares a negative size ({n})")
        if self.used + n > self.limit:
            raise self.error(
                f"{self.src}: {what} needs {n:,} bytes, {self.used + n:,} in all, more than "
                f"the limit of {self.limit:,} bytes of array data per input; "
                f"{_how_to_raise('max_bytes')}")
        self.used += n


_BUDGET: contextvars.ContextVar[ByteBudget | None] = contextvars.ContextVar(
    "gnnops_byte_budget", default=None)


@contextmanager
def byte_budget(budget: ByteBudget) -> Iterator[ByteBudget]:
    """Make ``budget`` the one :func:`current_budget` returns inside the block."""
    token = _BUDGET.set(budget)
    try:
        yield budget
    finally:
        _BUDGET.reset(token)


def current_budget() -> ByteBudget | None:
    """The budget of the input being read (None outside :func:`byte_budget`)."""
    return _BUDGET.get()


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def check_regular_file(path: str | os.PathLike, src: str | None = None, *,
                       error: type[GnnopsError] = MeshError) -> os.stat_result:
    """``os.stat`` of ``path`` (symlinks followed); ``error`` unless it is a regular file
    of at most ``max_bytes`` bytes."""
    src = src or f"'{path}'"
    try:
        st = os.stat(path)
    except OSError as exc:
        raise error(f"cannot read {src}: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(st.st_mode):
        raise error(f"expected a regular file, but {src} is {_kind(st.st_mode)}")
    check_count(st.st_size, "max_bytes", src, what="bytes of file", error=error)
    return st


def open_reference(ref: str, base_dir: str | os.PathLike, src: str) -> BinaryIO:
    """Open the file ``ref`` named inside the input ``src`` (binary, read-only).

    Only a relative path without ``..`` that stays inside ``base_dir`` (the input's own
    folder) after symlinks are resolved, and that is a regular file, is opened. The type
    is checked on the opened descriptor (opened non-blocking, so a FIFO cannot hang it).

    Raises:
        MeshError: naming ``ref`` and why it is refused.
    """
    text = ref.strip()
    base = Path(base_dir).resolve()
    if not text or "\x00" in text:
        raise MeshError(f"cannot read {src}: it refers to an empty or invalid file name "
                        f"{ref!r}")
    rel = PurePosixPath(text)
    if rel.is_absolute() or text.startswith("~") or ".." in rel.parts:
        raise MeshError(f"cannot read {src}: it refers to the file {text!r} outside its "
                        f"own folder; only files inside '{base}' (relative paths without "
                        f"'..') are read")
    target = (base / text).resolve()
    if not target.is_relative_to(base):
        raise MeshError(f"cannot read {src}: it refers to {text!r}, a link to '{target}' "
                        f"outside its own folder '{base}'; refused")
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(target, flags)
    except OSError as exc:
        raise MeshError(f"cannot read {src}: it refers to {text!r}, which cannot be "
                        f"opened: {exc.strerror or exc}") from exc
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise MeshError(f"cannot read {src}: it refers to {text!r}, which is "
                        f"{_kind(st.st_mode)}; expected a regular file")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


class _Refused(Exception):
    pass


class _Stop(Exception):
    pass


def _refuse_doctype(*_args: object) -> None:
    raise _Refused("a <!DOCTYPE> declaration")


def _refuse_entity(*_args: object) -> None:
    raise _Refused("an <!ENTITY> declaration")


def _fix(name: str) -> str:
    """expat's ``uri}local`` -> ElementTree's ``{uri}local``."""
    return "{" + name if "}" in name else name


def parse_xml(source: bytes | str | os.PathLike, src: str, *,
              error: type[GnnopsError] = MeshError) -> ET.Element:
    """Parse XML into an ElementTree element, refusing DTDs and entity declarations.

    Args:
        source: XML bytes or a file path.
        src: the input, for messages.
        error: the error class.

    Returns:
        The root element (tags and attributes namespaced like ``xml.etree``'s).

    Raises:
        error: a DOCTYPE / ENTITY.
        ValueError: malformed XML (left to the caller to name as a corrupt file).
    """
    parser = expat.ParserCreate(namespace_separator="}")
    builder = ET.TreeBuilder()
    parser.buffer_text = True
    parser.StartElementHandler = lambda tag, attrs: builder.start(
        _fix(tag), {_fix(k): v for k, v in attrs.items()})
    parser.EndElementHandler = lambda tag: builder.end(_fix(tag))
    parser.CharacterDataHandler = builder.data
    parser.StartDoctypeDeclHandler = _refuse_doctype
    parser.EntityDeclHandler = _refuse_entity
    try:
        if isinstance(source, bytes):
            parser.Parse(source, True)
        else:
            with open(source, "rb") as fh:
                parser.ParseFile(fh)
        return builder.close()
    except _Refused as exc:
        raise error(f"{src} contains {exc}; XML inputs with DTDs or entities are refused "
                    f"(they can expand without bound or read other files)") from None
    except (expat.ExpatError, AssertionError, IndexError) as exc:
        raise ValueError(f"malformed XML: {exc}") from exc


def check_xml_prolog(path: str | os.PathLike, src: str, *,
                     error: type[GnnopsError] = MeshError, chunk: int = 1 << 16) -> None:
    """``error`` if the XML file ``path`` declares a DOCTYPE before its root element.

    Only the prolog is read (a DOCTYPE can only precede the root element), so this is
    cheap for large files. Malformed XML is left to the real parser to report.
    """
    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = _refuse_doctype
    parser.EntityDeclHandler = _refuse_entity

    def stop(*_args: object) -> None:
        raise _Stop

    parser.StartElementHandler = stop
    try:
        with open(path, "rb") as fh:
            while block := fh.read(chunk):
                parser.Parse(block, False)
    except _Stop:
        return
    except _Refused as exc:
        raise error(f"{src} contains {exc}; XML inputs with DTDs or entities are refused "
                    f"(they can expand without bound or read other files)") from None
    except expat.ExpatError:
        return

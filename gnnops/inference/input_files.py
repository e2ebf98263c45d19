"""Input expansion, sharding and output naming for batch prediction."""

from __future__ import annotations

import glob
import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

from gnnops.errors import ConfigError
from gnnops.inference.sources import NETWORK_SUFFIXES, is_network_path

__all__ = ["expand_inputs", "parse_shard", "select_shard", "output_paths", "is_input_file"]


def _mesh_suffixes() -> tuple[str, ...]:
    from meshio._helpers import extension_to_filetypes

    return tuple(extension_to_filetypes)


def is_input_file(path: Path) -> bool:
    """Whether a file found in a folder is a mesh / network to predict on."""
    name = path.name.lower()
    if name.startswith("."):
        return False
    return name.endswith(_mesh_suffixes()) or name.endswith(NETWORK_SUFFIXES)


def expand_inputs(specs: Sequence[str]) -> list[Path]:
    """Files named by ``specs`` (files, folders, globs), deduplicated and sorted by path.

    A folder contributes its mesh / network files (not recursive), a glob (``*``, ``?``,
    ``[``; ``**`` recursive) the mesh / network files it matches (so an XDMF file's
    ``.h5`` companion or a README is not taken for a mesh); a plain path is kept even when it
    does not exist (the batch then reports it as failed).

    Raises:
        ConfigError: nothing at all matched.
    """
    found: dict[str, Path] = {}
    for spec in specs:
        p = Path(spec)
        if any(ch in spec for ch in "*?["):
            matches = [Path(m) for m in glob.glob(spec, recursive=True)]
            files = [m for m in matches if m.is_file() and is_input_file(m)]
        elif p.is_dir():
            files = [f for f in p.iterdir() if f.is_file() and is_input_file(f)]
        else:
            files = [p]
        for f in files:
            found.setdefault(os.path.normpath(str(f)), f)
    if not found:
        raise ConfigError(f"no input files matched {list(specs)}; expected mesh or network "
                          f"files, folders holding them, or globs")
    return [found[k] for k in sorted(found)]


def parse_shard(text: str | None) -> tuple[int, int]:
    """``"I/N"`` -> ``(I, N)`` with ``0 <= I < N``; ``None`` -> ``(0, 1)``.

    Raises:
        ConfigError: malformed.
    """
    if text is None:
        return 0, 1
    try:
        i_s, n_s = text.split("/")
        i, n = int(i_s), int(n_s)
    except ValueError:
        raise ConfigError(f"expected --shard I/N with integers 0 <= I < N (got {text!r})") from None
    if n < 1 or not 0 <= i < n:
        raise ConfigError(f"expected --shard I/N with 0 <= I < N (got {text!r})")
    return i, n


def select_shard(files: Sequence[Path], shard: tuple[int, int]) -> list[int]:
    """Indices (into the sorted ``files``) of shard ``I`` of ``N``: ``index % N == I``.

    Every job that sees the same inputs computes the same sorted list, so the N shards
    cover it exactly once.
    """
    i, n = shard
    return [k for k in range(len(files)) if k % n == i]


def output_paths(files: Sequence[Path], out_dir: Path, fmt: str) -> list[Path]:
    """One output path per input: ``out_dir/<stem>.<fmt>`` (networks: ``.graphml``).

    Inputs that would collide (same stem) keep their extension in the name
    (``a.msh`` -> ``a.msh.vtu``); if that still collides a short hash of the input path
    is appended. Depends only on the whole sorted list, so every shard agrees.
    """
    fmt = fmt.lstrip(".")

    def name(f: Path, level: int) -> str:
        ext = "graphml" if is_network_path(f) else fmt
        base = f.name if level >= 1 else f.name.split(".")[0]
        if level >= 2:
            base += "-" + hashlib.sha1(os.path.normpath(str(f)).encode()).hexdigest()[:8]
        return f"{base}.{ext}"

    levels = [0] * len(files)
    for level in (1, 2):
        names = [name(f, lv) for f, lv in zip(files, levels, strict=True)]
        counts: dict[str, int] = {}
        for nm in names:
            counts[nm] = counts.get(nm, 0) + 1
        levels = [level if counts[nm] > 1 else lv for nm, lv in zip(names, levels, strict=True)]
    return [out_dir / name(f, lv) for f, lv in zip(files, levels, strict=True)]

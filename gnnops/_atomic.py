"""Atomic file writes: a temporary file in the target's folder, then ``os.replace``.

A reader (or a process killed mid-write) never sees a half-written file: the target is
either the previous complete version or the new one. Temporary names are
``.<name>.<random>.tmp`` next to the target, so a stale one is easy to recognise.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_open"]


@contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", *, fsync: bool = False,
                **open_kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file for writing; on success it replaces ``path``.

    Args:
        path: the final file (its folder must exist).
        mode: ``"w"`` (text, UTF-8 unless ``encoding`` is given) or ``"wb"``.
        fsync: flush to disk before the rename (checkpoints, artifacts).
        **open_kwargs: passed to :func:`os.fdopen` (e.g. ``newline=""``).

    On an exception (including ``KeyboardInterrupt``) the temporary file is removed and
    ``path`` is left untouched.
    """
    path = Path(path)
    if "b" not in mode:
        open_kwargs.setdefault("encoding", "utf-8")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **open_kwargs) as fh:
            yield fh
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

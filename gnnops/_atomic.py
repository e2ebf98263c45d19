"""Atomic file writes, temporary names owned by a process, and folder locks.

Atomic writes: a temporary file in the target's folder, then ``os.replace``. A reader (or a
process killed mid-write) never sees a half-written file: the target is either the previous
complete version or the new one.

Temporary names record their owner: ``.<name>.<host>-<pid>-<random>.tmp`` for files and
``.tmp-<host>-<pid>-<random>`` for folders (``<host>``: 6 hex digits of a hash of the host
name). :func:`clean_stale_temps` removes those of processes of this host that are no
longer running (a run killed by SIGKILL or a power cut), never those of a live process or of
another host sharing the folder.

New files follow the process umask (``0o666 & ~umask``, e.g. 0644), like any file a
program creates with ``open``, so colleagues can read results in a shared folder.

A write that fails for lack of space or permission (``ENOSPC``, ``EDQUOT``, ``EROFS``,
``EACCES``, ...) raises :class:`~gnnops.errors.StorageError` (exit code 74) naming the
file; the temporary is removed and the previous version of the target is left intact.

:func:`folder_lock` is an exclusive ``fcntl.flock`` on a lock file in a folder: one run per
run folder, one summary merge at a time per output folder.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import re
import secrets
import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from gnnops.errors import ConfigError, StorageError

__all__ = ["atomic_open", "temp_path", "make_temp_dir", "clean_stale_temps", "folder_lock",
           "storage_error", "STORAGE_ERRNOS"]

HOST_TAG = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:6]
_NAME_KEEP = 100  # characters of the target's name kept in its temporary name (NAME_MAX 255)
_OWNED_FILE = re.compile(r"^\..*\.(?P<host>[0-9a-f]{6})-(?P<pid>\d+)-[0-9a-f]{8}\.tmp$")
_OWNED_DIR = re.compile(r"^\.tmp-(?P<host>[0-9a-f]{6})-(?P<pid>\d+)-[0-9a-f]{8}$")
# names of older versions (mkstemp / mkdtemp, no owner): removed once a day old
_LEGACY = re.compile(r"^(\..+\.[a-z0-9_]{8}\.tmp|\.tmp-[a-z0-9_]{8}(\.[a-z0-9]+)?)$")
LEGACY_MAX_AGE_S = 24 * 3600.0
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES,
                            errno.EPERM, errno.EIO, errno.ENAMETOOLONG})


def _owner() -> str:
    return f"{HOST_TAG}-{os.getpid()}-{secrets.token_hex(4)}"


def temp_path(target: str | os.PathLike, suffix: str = ".tmp") -> Path:
    """A fresh owned temporary name beside ``target`` (not created)."""
    target = Path(target)
    return target.parent / f".{target.name[:_NAME_KEEP]}.{_owner()}{suffix}"


def make_temp_dir(parent: str | os.PathLike) -> Path:
    """Create an owned temporary folder ``.tmp-<host>-<pid>-<random>`` in ``parent``."""
    for _ in range(100):
        path = Path(parent) / f".tmp-{_owner()}"
        try:
            os.mkdir(path)
        except FileExistsError:
            continue
        except OSError as exc:
            raise storage_error(exc, path, "create a temporary folder") from exc
        return path
    raise FileExistsError(f"no free temporary name in '{parent}'")  # pragma: no cover


def storage_error(exc: OSError, path: str | os.PathLike, action: str = "write", *,
                  atomic: bool = True) -> StorageError:
    """The one-line :class:`StorageError` for an ``OSError`` while writing ``path``, naming
    the errno and what to do (free space, write elsewhere, ...); ``atomic``: the write was
    atomic, so the message can say nothing was half-written."""
    what = exc.strerror or str(exc)
    name = errno.errorcode.get(exc.errno or 0, "")
    hint = {errno.ENOSPC: "free some disk space", errno.EDQUOT: "free space within the quota",
            errno.EROFS: "write somewhere writable", errno.ENAMETOOLONG: "use a shorter name",
            }.get(exc.errno or 0, "check the folder's permissions and free space")
    tail = " (nothing there was half-written)" if atomic else ""
    return StorageError(f"cannot {action} '{path}': {what}{f' ({name})' if name else ''}; "
                        f"{hint} and rerun{tail}")


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

    Raises:
        StorageError: the file could not be created, written, flushed or renamed for lack
            of space or permission (:data:`STORAGE_ERRNOS`).
    """
    path = Path(path)
    if "b" not in mode:
        open_kwargs.setdefault("encoding", "utf-8")
    tmp = temp_path(path)
    try:  # 0o666 & ~umask, like open(): mkstemp would make every output 0600
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0),
                     0o666)
    except OSError as exc:
        if exc.errno in STORAGE_ERRNOS:
            raise storage_error(exc, path, "create a file beside") from None
        raise
    try:
        with os.fdopen(fd, mode, **open_kwargs) as fh:
            yield fh
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno in STORAGE_ERRNOS:
            raise storage_error(exc, path) from None
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # another user's live process (or not a pid): leave it
    return True


def _stale(entry: os.DirEntry, now: float) -> bool:
    m = _OWNED_DIR.match(entry.name) or _OWNED_FILE.match(entry.name)
    if m is not None:
        return m["host"] == HOST_TAG and not _alive(int(m["pid"]))
    if _LEGACY.match(entry.name):
        try:
            return now - entry.stat(follow_symlinks=False).st_mtime > LEGACY_MAX_AGE_S
        except OSError:
            return False
    return False


def clean_stale_temps(folder: str | os.PathLike, *, prefix: str = "") -> list[str]:
    """Remove temporary files and folders in ``folder`` left by dead processes of this host.

    Args:
        folder: the folder to look in (not recursive; missing: nothing to do).
        prefix: only names starting with ``"." + prefix`` (e.g. ``"last.pt."``).

    Returns:
        The names removed.
    """
    removed: list[str] = []
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith("." + prefix) or not _stale(entry, now):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed.append(entry.name)
        except OSError:
            pass  # removed meanwhile, or not ours to remove
    return removed


def _holder(path: Path) -> str:
    try:
        text = path.read_text(errors="replace").split()
    except OSError:
        return "another process"
    return f"process {text[0]}" + (f" on {text[1]}" if len(text) > 1 else "")


@contextmanager
def folder_lock(folder: str | os.PathLike, *, name: str = ".lock", wait: float = 0.0,
                what: str = "this folder") -> Iterator[Path]:
    """Hold an exclusive ``flock`` on ``folder/name`` (created; removed on release).

    The lock file holds ``"<pid> <host>"`` of the holder. The lock is released when the
    holder exits however it exits (the kernel drops it), so a killed run never leaves a
    lock that blocks the next one.

    Args:
        folder: an existing folder.
        name: the lock file's name.
        wait: seconds to wait for a busy lock (0: fail at once).
        what: what the lock protects, for the message.

    Raises:
        ConfigError: the lock is held by another process (its pid is named) after ``wait``.
        StorageError: the lock file cannot be created.
    """
    path = Path(folder) / name
    deadline = time.monotonic() + wait
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
        except OSError as exc:
            raise storage_error(exc, path, "create the lock file") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if time.monotonic() >= deadline:
                raise ConfigError(f"{what} is in use by {_holder(path)} (lock '{path}'); "
                                  f"expected no other run there: wait for it to finish or "
                                  f"choose another name") from None
            time.sleep(0.05)
            continue
        try:  # the file we locked may have been removed by the previous holder: retry
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
        yield path
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
        os.close(fd)

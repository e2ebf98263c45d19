"""Tests of gnnops._atomic: atomic writes that follow the umask and turn a full disk into one
StorageError, owned temporary names cleaned only when their process is gone, folder locks."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time

import pytest

import gnnops._atomic as A
from gnnops._atomic import (
    HOST_TAG,
    atomic_open,
    clean_stale_temps,
    folder_lock,
    make_temp_dir,
    temp_path,
)
from gnnops.errors import ConfigError, StorageError


@pytest.fixture
def umask():
    """Set the process umask for one test (restored after)."""
    old = os.umask(0o022)
    yield lambda m: os.umask(m)
    os.umask(old)


@pytest.mark.parametrize("mask,mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_new_files_follow_the_umask(tmp_path, umask, mask, mode) -> None:
    umask(mask)
    with atomic_open(tmp_path / "a.txt") as fh:
        fh.write("x")
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == mode
    assert (tmp_path / "a.txt").read_text() == "x"


def test_temporary_names_record_the_owner_and_stay_short(tmp_path) -> None:
    t = temp_path(tmp_path / ("n" * 250 + ".vtu"))
    assert t.name.startswith("." + "n" * 100 + f".{HOST_TAG}-{os.getpid()}-")
    assert t.name.endswith(".tmp") and len(t.name) < 140
    d = make_temp_dir(tmp_path)
    assert d.is_dir() and d.name.startswith(f".tmp-{HOST_TAG}-{os.getpid()}-")


def _fail_with(monkeypatch, code: int, where: str = "fsync") -> None:
    def boom(*a, **k):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(A.os, where, boom)


def test_disk_full_is_one_storage_error_and_keeps_the_previous_file(tmp_path,
                                                                      monkeypatch) -> None:
    target = tmp_path / "last.pt"
    target.write_text("previous")
    _fail_with(monkeypatch, errno.ENOSPC)
    with pytest.raises(StorageError, match=r"cannot write '.*last\.pt': No space left on device "
                                           r"\(ENOSPC\); free some disk space") as exc:
        with atomic_open(target, "w", fsync=True) as fh:
            fh.write("new")
    assert exc.value.exit_code == 74 and "\n" not in str(exc.value)
    assert target.read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]  # no temporary left


def test_unwritable_folder_is_a_storage_error(tmp_path, monkeypatch) -> None:
    _fail_with(monkeypatch, errno.EACCES, "open")
    with pytest.raises(StorageError, match=r"cannot create a file beside .*Permission denied"):
        with atomic_open(tmp_path / "x.csv") as fh:
            fh.write("a")


def test_other_errors_and_interrupts_pass_through(tmp_path) -> None:
    with pytest.raises(ValueError):
        with atomic_open(tmp_path / "x") as fh:
            fh.write("a")
            raise ValueError("caller's bug")
    with pytest.raises(KeyboardInterrupt):
        with atomic_open(tmp_path / "x") as fh:
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_clean_stale_temps_removes_only_dead_owners_of_this_host(tmp_path) -> None:
    dead, live = _dead_pid(), os.getppid()
    names = {
        f".out.vtu.{HOST_TAG}-{dead}-0123abcd.tmp": True,  # dead writer: removed
        f".tmp-{HOST_TAG}-{dead}-0123abcd": True,  # dead writer's folder: removed
        f".out.vtu.{HOST_TAG}-{live}-0123abcd.tmp": False,  # live process
        f".out.vtu.{HOST_TAG}-{os.getpid()}-0123abcd.tmp": False,  # this process
        f".out.vtu.ffffff-{dead}-0123abcd.tmp": HOST_TAG == "ffffff",  # another host
        ".last.pt.abcd_123.tmp": False,  # old unowned name, fresh
        ".tmp-k2j4h5g6": True,  # old unowned folder, a day old
        "results.tmp": False, ".hidden": False,  # not ours at all
    }
    for name in names:
        p = tmp_path / name
        if name.startswith(".tmp-"):
            p.mkdir()
            (p / "inside.vtu").write_text("half")
        else:
            p.write_text("x")
    day = time.time() - 2 * 24 * 3600
    os.utime(tmp_path / ".tmp-k2j4h5g6", (day, day))
    removed = clean_stale_temps(tmp_path)
    assert sorted(removed) == sorted(n for n, gone in names.items() if gone)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        n for n, gone in names.items() if not gone)
    assert clean_stale_temps(tmp_path / "missing") == []


_HOLDER = """
import sys, time
from pathlib import Path
from gnnops._atomic import folder_lock
with folder_lock(sys.argv[1]):
    Path(sys.argv[2]).write_text("locked")
    time.sleep(60)
"""


def test_folder_lock_names_the_holder_and_is_released_by_its_death(tmp_path) -> None:
    marker = tmp_path / "marker"
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(tmp_path), str(marker)])
    try:
        t0 = time.monotonic()
        while not marker.exists():
            assert proc.poll() is None and time.monotonic() - t0 < 60
            time.sleep(0.02)
        with pytest.raises(ConfigError, match=rf"run folder 'x' is in use by process {proc.pid} "
                                              rf"on .*\(lock '.*\.lock'\)"):
            with folder_lock(tmp_path, what="run folder 'x'"):
                pass
        proc.kill()  # SIGKILL: no cleanup code runs, the kernel drops the lock
        proc.wait()
        with folder_lock(tmp_path, wait=5.0) as lock:
            assert lock.read_text().split()[0] == str(os.getpid())
        assert not (tmp_path / ".lock").exists()  # removed on release
    finally:
        if proc.poll() is None:
            proc.kill()


def test_folder_lock_waits_for_a_short_holder(tmp_path) -> None:
    import threading

    entered, order = threading.Event(), []

    def hold() -> None:
        with folder_lock(tmp_path):
            entered.set()
            time.sleep(0.3)
            order.append("first")

    t = threading.Thread(target=hold)
    t.start()
    entered.wait(10)
    with folder_lock(tmp_path, wait=10.0):  # flock is per open file: threads exclude too
        order.append("second")
    t.join()
    assert order == ["first", "second"]

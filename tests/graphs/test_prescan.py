"""Declared sizes are checked before meshio allocates or decompresses: VTU zlib bombs,
under-stated VTU block headers, .msh / legacy VTK counts, gmsh node-tag bombs, HDF5 files
naming other files."""

from __future__ import annotations

import base64
import re
import time
from pathlib import Path

import h5py
import meshio
import numpy as np
import pytest

from gnnops.errors import MeshError
from gnnops.graphs import read_mesh, write_mesh
from gnnops.graphs.prescan import _BoundedCodec, prescan
from gnnops.graphs.safety import ByteBudget, byte_budget, reset_limits, set_limits


def _square(n_extra: int = 0, *, data: bool = True) -> meshio.Mesh:
    pts = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0.0]])
    pd = {"u": np.arange(4.0)} if data else {}
    if n_extra:
        pts = np.vstack([pts, np.zeros((n_extra, 3))])  # unused points, all zero
        pd = {"u": np.zeros(len(pts))}
    return meshio.Mesh(pts, [("triangle", np.array([[0, 1, 2], [0, 2, 3]]))], point_data=pd)


@pytest.fixture
def zlib_vtu(tmp_path: Path) -> Path:
    """A zlib-compressed VTU of 1M points (24 MB of coordinates) in well under 1 MB."""
    path = tmp_path / "bomb.vtu"
    meshio.write(path, _square(1_000_000), compression="zlib")
    assert path.stat().st_size < 300_000
    return path


def test_zlib_vtu_over_the_limit_fails_before_decompression(zlib_vtu: Path, monkeypatch) -> None:
    calls = []
    real = _BoundedCodec.decompress
    monkeypatch.setattr(_BoundedCodec, "decompress",
                        lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    monkeypatch.setenv("GNNOPS_MAX_BYTES", "16M")
    t0 = time.perf_counter()
    with pytest.raises(MeshError, match=r"bomb.vtu.*DataArray 'Points' needs 24,000,096 "
                                        r"bytes.*limit of 16,777,216 bytes"):
        read_mesh(zlib_vtu)
    assert calls == []  # nothing was decompressed
    assert time.perf_counter() - t0 < 2.0
    monkeypatch.setenv("GNNOPS_MAX_BYTES", "64M")
    assert len(read_mesh(zlib_vtu).points) == 1_000_004  # within the limit: read
    assert calls


def _understate_blocks(path: Path) -> None:
    """Rewrite every compressed header to claim 1-byte blocks (the data is unchanged)."""
    text = path.read_bytes()

    def fix(m: re.Match) -> bytes:
        body = m.group(2).strip()
        head = np.frombuffer(base64.b64decode(body[:8])[:4], "<u4")
        nb = int(head[0])
        nchars = 4 * ((4 * (3 + nb) + 2) // 3)
        header = np.frombuffer(base64.b64decode(body[:nchars])[:4 * (3 + nb)], "<u4").copy()
        header[1], header[2] = 1, 1
        return m.group(1) + base64.b64encode(header.tobytes()) + body[nchars:] + m.group(3)

    path.write_bytes(re.sub(rb"(<DataArray[^>]*>)([^<]*)(</DataArray>)", fix, text))


def test_understated_headers_cannot_expand_past_the_limit(zlib_vtu: Path, monkeypatch) -> None:
    _understate_blocks(zlib_vtu)
    monkeypatch.setenv("GNNOPS_MAX_BYTES", "4M")
    with pytest.raises(MeshError, match=r"decompressed data needs .*limit of 4,194,304 bytes"):
        read_mesh(zlib_vtu)


def test_bounded_codec_matches_zlib_and_lzma() -> None:
    import lzma
    import zlib

    raw = bytes(range(256)) * 100
    for mod in (zlib, lzma):
        codec = _BoundedCodec(mod)
        assert codec.decompress(mod.compress(raw)) == raw  # no budget: plain
        with byte_budget(ByteBudget("'x'", limit=len(raw))):
            assert codec.decompress(mod.compress(raw)) == raw
        with byte_budget(ByteBudget("'x'", limit=len(raw) - 1)), pytest.raises(MeshError):
            codec.decompress(mod.compress(raw))
        with byte_budget(ByteBudget("'x'")), pytest.raises((zlib.error, lzma.LZMAError)):
            codec.decompress(mod.compress(raw)[:-10])  # truncated stream
        assert codec.compress(b"a") == mod.compress(b"a")


def test_vtu_piece_counts_checked(tmp_path: Path) -> None:
    write_mesh(_square(), tmp_path / "m.vtu")
    set_limits(max_nodes=3)
    try:
        with pytest.raises(MeshError, match="declares 4 points, more than the limit of 3"):
            read_mesh(tmp_path / "m.vtu")
        set_limits(max_nodes=10, max_cells=1)
        with pytest.raises(MeshError, match="declares 2 cells, more than the limit of 1"):
            read_mesh(tmp_path / "m.vtu")
    finally:
        reset_limits()
    assert len(read_mesh(tmp_path / "m.vtu").points) == 4


@pytest.mark.parametrize("fmt", ["gmsh22", "gmsh"])
@pytest.mark.parametrize("binary", [False, True])
def test_msh_header_counts(tmp_path: Path, monkeypatch, fmt: str, binary: bool) -> None:
    path = tmp_path / "m.msh"
    meshio.write(path, _square(data=False), file_format=fmt, binary=binary)
    monkeypatch.setenv("GNNOPS_MAX_NODES", "3")
    with pytest.raises(MeshError, match="declares 4 points"):
        read_mesh(path)
    monkeypatch.setenv("GNNOPS_MAX_NODES", "4")
    monkeypatch.setenv("GNNOPS_MAX_CELLS", "1")
    with pytest.raises(MeshError, match="declares 2 cells"):
        read_mesh(path)
    monkeypatch.delenv("GNNOPS_MAX_CELLS")
    assert len(read_mesh(path).points) == 4


def test_msh_huge_declared_count_fails_fast(tmp_path: Path) -> None:
    path = tmp_path / "m.msh"
    meshio.write(path, _square(data=False), file_format="gmsh22", binary=False)
    text = path.read_text().replace("$Nodes\n4\n", "$Nodes\n4000000000\n")
    path.write_text(text)
    with pytest.raises(MeshError, match="declares 4,000,000,000 points"):
        read_mesh(path)


def test_gmsh_node_tag_bomb(tmp_path: Path) -> None:
    """meshio allocates a lookup table as long as the largest node tag."""
    path = tmp_path / "m.msh"
    meshio.write(path, _square(data=False), file_format="gmsh22", binary=False)
    text = path.read_text().replace("\n4 0.0", "\n3000000000 0.0")
    assert "3000000000" in text
    path.write_text(text)
    t0 = time.perf_counter()
    with pytest.raises(MeshError, match="3,000,000,000 as its largest node tag"):
        read_mesh(path)
    assert time.perf_counter() - t0 < 2.0


def test_legacy_vtk_counts(tmp_path: Path) -> None:
    path = tmp_path / "g.vtk"
    path.write_text("# vtk DataFile Version 4.2\ngrid\nASCII\nDATASET STRUCTURED_POINTS\n"
                    "DIMENSIONS 100000 100000 100000\nSPACING 1 1 1\nORIGIN 0 0 0\n")
    with pytest.raises(MeshError, match="declares 1,000,000,000,000,000 points"):
        read_mesh(path)
    write_mesh(_square(), tmp_path / "m.vtk")
    set_limits(max_cells=1)
    try:
        with pytest.raises(MeshError, match="declares 2 cells"):
            read_mesh(tmp_path / "m.vtk")
    finally:
        reset_limits()


def test_hdf5_formats_naming_other_files_refused(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = np.arange(3.0)
    with h5py.File(tmp_path / "m.med", "w") as f:
        f["ENS_MAA/x"] = h5py.ExternalLink(str(tmp_path / "other.h5"), "/x")
    with pytest.raises(MeshError, match="'/ENS_MAA/x' is an external link to .*other.h5"):
        read_mesh(tmp_path / "m.med")
    with h5py.File(tmp_path / "s.cgns", "w") as f:
        f.create_dataset("big", shape=(10**8,), dtype="f8", chunks=(10**5,))
    with pytest.raises(MeshError, match="stores only 0 bytes"):
        prescan(tmp_path / "s.cgns", "cgns", "'s.cgns'")


@pytest.mark.parametrize("name,text", [("m.off", "OFF\n"), ("m.ply", "ply\nformat ascii 1.0\n")])
def test_truncated_files_do_not_hang_readers_that_loop_at_eof(tmp_path: Path, name: str,
                                                              text: str) -> None:
    """meshio's OFF / PLY readers loop on readline() until a line they expect: forever
    on a truncated file without the guard."""
    import signal

    def boom(*_):
        raise TimeoutError("the reader hung")

    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(10)
    try:
        (tmp_path / name).write_text(text)
        with pytest.raises(MeshError, match="cannot read"):
            read_mesh(tmp_path / name)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)

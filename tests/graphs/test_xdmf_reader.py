"""XDMF data items: only regular files inside the XDMF file's folder are read; declared
sizes are checked before anything is read; DTDs are refused. Every hostile case must fail
fast (a FIFO must not hang: the test runs under a 10 s alarm)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from gnnops.errors import MeshError
from gnnops.graphs import from_meshio, read_mesh
from gnnops.graphs.xdmf_reader import read_xdmf

PTS = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0.0]])


def _xdmf(u_item: str, *, geometry: str | None = None, head: str = "") -> str:
    geometry = geometry or ('<DataItem DataType="Float" Dimensions="4 3" Format="XML" '
                            'Precision="8">' + " ".join(map(str, PTS.ravel())) + "</DataItem>")
    return (f'{head}<Xdmf Version="3.0"><Domain><Grid Name="Grid">'
            f'<Geometry GeometryType="XYZ">{geometry}</Geometry>'
            '<Topology TopologyType="Triangle" NumberOfElements="2" NodesPerElement="3">'
            '<DataItem DataType="Int" Dimensions="2 3" Format="XML" Precision="8">'
            '0 1 2 0 2 3</DataItem></Topology>'
            f'<Attribute Name="u" AttributeType="Scalar" Center="Node">{u_item}</Attribute>'
            '</Grid></Domain></Xdmf>')


def _binary(ref: str, n: int = 4) -> str:
    return (f'<DataItem DataType="Float" Dimensions="{n}" Format="Binary" '
            f'Precision="8">{ref}</DataItem>')


@pytest.fixture(autouse=True)
def _alarm():
    """A hung read (a FIFO) fails the test instead of hanging the suite."""
    def boom(*_):
        raise TimeoutError("the XDMF read hung")
    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(10)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def test_binary_item_inside_the_folder_is_read(tmp_path: Path) -> None:
    np.arange(4.0).tofile(tmp_path / "u.bin")
    (tmp_path / "sub").mkdir()
    np.arange(4.0).tofile(tmp_path / "sub" / "v.bin")
    for ref in ("u.bin", "sub/v.bin", "./u.bin"):
        (tmp_path / "m.xdmf").write_text(_xdmf(_binary(ref)))
        mesh = read_mesh(tmp_path / "m.xdmf")
        np.testing.assert_array_equal(mesh.point_data["u"], [0.0, 1.0, 2.0, 3.0])
    # relative to the XDMF file, not to the working directory
    cwd = os.getcwd()
    os.chdir("/")
    try:
        assert read_mesh(tmp_path / "m.xdmf").point_data["u"][3] == 3.0
    finally:
        os.chdir(cwd)


@pytest.mark.parametrize("ref,why", [
    ("/etc/passwd", "outside its own folder"),
    ("../x.bin", "outside its own folder"),
    ("sub/../../x.bin", "outside its own folder"),
    ("~/x.bin", "outside its own folder"),
    ("nope.bin", "cannot be opened"),
    ("sub", "a folder"),
    ("", "empty or invalid"),
])
def test_binary_references_refused(tmp_path: Path, ref: str, why: str) -> None:
    d = tmp_path / "in"
    (d / "sub").mkdir(parents=True)
    np.arange(4.0).tofile(tmp_path / "x.bin")
    (d / "m.xdmf").write_text(_xdmf(_binary(ref)))
    with pytest.raises(MeshError, match=why) as exc:
        from_meshio(d / "m.xdmf")
    assert "m.xdmf" in str(exc.value)


def test_symlink_out_of_the_folder_refused(tmp_path: Path) -> None:
    d = tmp_path / "in"
    d.mkdir()
    np.arange(4.0).tofile(tmp_path / "secret.bin")
    (d / "u.bin").symlink_to(tmp_path / "secret.bin")
    (d / "m.xdmf").write_text(_xdmf(_binary("u.bin")))
    with pytest.raises(MeshError, match="a link to .*secret.bin.* outside its own folder"):
        read_mesh(d / "m.xdmf")
    (d / "z.bin").symlink_to("/dev/zero")
    (d / "m.xdmf").write_text(_xdmf(_binary("z.bin")))
    with pytest.raises(MeshError, match="outside its own folder"):
        read_mesh(d / "m.xdmf")


def test_fifo_reference_fails_fast(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "u.bin")
    (tmp_path / "m.xdmf").write_text(_xdmf(_binary("u.bin")))
    t0 = time.perf_counter()
    with pytest.raises(MeshError, match="'u.bin', which is a FIFO; expected a regular file"):
        read_mesh(tmp_path / "m.xdmf")
    assert time.perf_counter() - t0 < 2.0


def test_fifo_as_the_input_itself_fails_fast(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "m.xdmf")
    with pytest.raises(MeshError, match="expected a regular file, but .*m.xdmf.* is a FIFO"):
        read_mesh(tmp_path / "m.xdmf")


def test_binary_item_shorter_than_declared(tmp_path: Path) -> None:
    np.arange(3.0).tofile(tmp_path / "u.bin")
    (tmp_path / "m.xdmf").write_text(_xdmf(_binary("u.bin")))
    with pytest.raises(MeshError, match=r"declares \[4\] values \(32 bytes\) but the file "
                                        r"holds 24 bytes"):
        read_mesh(tmp_path / "m.xdmf")


def _hdf_item(ref: str, n: int = 4) -> str:
    return (f'<DataItem DataType="Float" Dimensions="{n}" Format="HDF" '
            f'Precision="8">{ref}</DataItem>')


def test_hdf_item_confined_and_checked(tmp_path: Path) -> None:
    d = tmp_path / "in"
    d.mkdir()
    with h5py.File(d / "m.h5", "w") as f:
        f["u"] = np.arange(4.0)
        f["g/v"] = np.arange(5.0)
        f["ext"] = h5py.ExternalLink(str(tmp_path / "other.h5"), "/u")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["u"] = np.arange(4.0) + 100
    (d / "m.xdmf").write_text(_xdmf(_hdf_item("m.h5:/u")))
    np.testing.assert_array_equal(read_mesh(d / "m.xdmf").point_data["u"], np.arange(4.0))
    cases = {"../other.h5:/u": "outside its own folder",
             f"{tmp_path / 'other.h5'}:/u": "outside its own folder",
             "m.h5:/ext": "external link to .*other.h5",
             "m.h5:/g/v": r"shape \[5\] but the XDMF file declares Dimensions \[4\]",
             "m.h5:/g": "not a dataset", "m.h5:/nope": "does not exist",
             "m.h5": "expected 'file.h5:/path/to/dataset'"}
    for ref, why in cases.items():
        (d / "m.xdmf").write_text(_xdmf(_hdf_item(ref)))
        with pytest.raises(MeshError, match=why):
            read_mesh(d / "m.xdmf")


def test_hdf_external_storage_refused(tmp_path: Path) -> None:
    np.arange(4.0).tofile(tmp_path / "raw.bin")
    with h5py.File(tmp_path / "m.h5", "w") as f:
        f.create_dataset("u", shape=(4,), dtype="f8", external=[("raw.bin", 0, 32)])
    (tmp_path / "m.xdmf").write_text(_xdmf(_hdf_item("m.h5:/u")))
    with pytest.raises(MeshError, match="external file"):
        read_mesh(tmp_path / "m.xdmf")


def test_sparse_hdf5_declaring_20m_points_fails_fast(tmp_path: Path) -> None:
    """A 7 KB XDMF + a sparse HDF5 (chunks never written) declaring 20M points."""
    n = 20_000_000
    with h5py.File(tmp_path / "m.h5", "w") as f:
        f.create_dataset("pts", shape=(n, 3), dtype="f8", chunks=(65536, 3))
        f.create_dataset("u", shape=(n,), dtype="f8", chunks=(65536,))
    geo = (f'<DataItem DataType="Float" Dimensions="{n} 3" Format="HDF" Precision="8">'
           'm.h5:/pts</DataItem>')
    (tmp_path / "m.xdmf").write_text(_xdmf(_hdf_item("m.h5:/u", n), geometry=geo) + " " * 6000)
    assert (tmp_path / "m.xdmf").stat().st_size < 8000
    assert (tmp_path / "m.h5").stat().st_size < 100_000
    t0 = time.perf_counter()
    with pytest.raises(MeshError, match=r"declares shape \[20000000, 3\] \(480,000,000 bytes\) "
                                        r"but stores only 0 bytes"):
        from_meshio(tmp_path / "m.xdmf")
    assert time.perf_counter() - t0 < 2.0


def test_declared_sizes_over_the_limits(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("GNNOPS_MAX_NODES", "3")
    (tmp_path / "m.xdmf").write_text(_xdmf(_binary("u.bin")))
    with pytest.raises(MeshError, match=r"declares 4 points, more than the limit of 3 .*"
                                        r"GNNOPS_MAX_NODES"):
        read_mesh(tmp_path / "m.xdmf")
    monkeypatch.delenv("GNNOPS_MAX_NODES")
    monkeypatch.setenv("GNNOPS_MAX_BYTES", "1K")  # the file (~600 bytes) is within
    (tmp_path / "m.xdmf").write_text(_xdmf(_binary("u.bin", n=1000)))
    with pytest.raises(MeshError, match=r"8,000 bytes, 8,144 in all, more than the limit of "
                                        r"1,024 bytes .*GNNOPS_MAX_BYTES"):
        read_mesh(tmp_path / "m.xdmf")


def test_doctype_and_entities_refused(tmp_path: Path) -> None:
    lol = ('<?xml version="1.0"?><!DOCTYPE Xdmf [<!ENTITY a "aaaaaaaaaa">'
           '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>')
    (tmp_path / "m.xdmf").write_text(_xdmf("&b;", head=lol))
    with pytest.raises(MeshError, match="DOCTYPE.*refused"):
        read_xdmf(tmp_path / "m.xdmf")
    sys_ent = '<?xml version="1.0"?><!DOCTYPE x SYSTEM "file:///etc/passwd">'
    (tmp_path / "m.xdmf").write_text(_xdmf(_binary("u.bin"), head=sys_ent))
    with pytest.raises(MeshError, match="DOCTYPE"):
        read_mesh(tmp_path / "m.xdmf")


def test_information_field_data_is_parsed_safely(tmp_path: Path) -> None:
    info = ('<Information Name="Information" Value="1"><![CDATA[<main><map key="wall" '
            'dim="1">3</map></main>]]></Information>')
    text = _xdmf(_binary("u.bin")).replace("</Grid>", info + "</Grid>")
    np.arange(4.0).tofile(tmp_path / "u.bin")
    (tmp_path / "m.xdmf").write_text(text)
    assert read_mesh(tmp_path / "m.xdmf").field_data["wall"].tolist() == [3, 1]
    bad = info.replace("<main>", '<!DOCTYPE main [<!ENTITY a "x">]><main>')
    (tmp_path / "m.xdmf").write_text(_xdmf(_binary("u.bin")).replace("</Grid>", bad + "</Grid>"))
    with pytest.raises(MeshError, match="Information.*DOCTYPE"):
        read_mesh(tmp_path / "m.xdmf")

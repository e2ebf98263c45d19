"""gnnops.graphs.safety: limits (defaults from RAM, env vars, set_limits), byte budgets,
confined references, XML without DTDs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gnnops.errors import ConfigError, GraphError, MeshError
from gnnops.graphs import get_limits, reset_limits, set_limits
from gnnops.graphs.safety import (
    ByteBudget,
    Limits,
    check_count,
    check_regular_file,
    check_xml_prolog,
    default_limits,
    open_reference,
    parse_xml,
)


@pytest.fixture(autouse=True)
def _clean(monkeypatch):
    for var in ("GNNOPS_MAX_NODES", "GNNOPS_MAX_CELLS", "GNNOPS_MAX_BYTES"):
        monkeypatch.delenv(var, raising=False)
    yield
    reset_limits()


def test_default_limits_follow_the_memory() -> None:
    gib = 1 << 30
    assert default_limits(16 * gib) == Limits(16_777_216, 134_217_728, 4 * gib)
    assert default_limits(512 << 20).max_nodes == 1_000_000  # floor
    assert default_limits(512 << 20).max_bytes == 256 << 20  # floor
    assert default_limits(1024 * gib).max_nodes == 50_000_000  # cap
    assert get_limits() == default_limits()


def test_env_vars_and_set_limits(monkeypatch) -> None:
    monkeypatch.setenv("GNNOPS_MAX_NODES", "123")
    monkeypatch.setenv("GNNOPS_MAX_BYTES", "8G")
    monkeypatch.setenv("GNNOPS_MAX_CELLS", " 2 MiB ")
    assert get_limits() == Limits(123, 2 << 20, 8 << 30)
    old = set_limits(max_nodes=7)
    assert old.max_nodes == 123 and get_limits().max_nodes == 7  # Python beats env
    assert get_limits().max_bytes == 8 << 30
    reset_limits()
    assert get_limits().max_nodes == 123
    monkeypatch.setenv("GNNOPS_MAX_NODES", "lots")
    with pytest.raises(ConfigError, match="GNNOPS_MAX_NODES expects a positive integer.*'lots'"):
        get_limits()
    monkeypatch.setenv("GNNOPS_MAX_NODES", "0")
    with pytest.raises(ConfigError, match="GNNOPS_MAX_NODES"):
        get_limits()
    monkeypatch.delenv("GNNOPS_MAX_NODES")
    for bad in (0, -1, 2.5, True, "9"):
        with pytest.raises(ConfigError, match="max_cells expects a positive int"):
            set_limits(max_cells=bad)


def test_limits_reach_worker_processes_through_the_environment(tmp_path: Path) -> None:
    code = "from gnnops.graphs import get_limits; print(get_limits().max_nodes)"
    env = {**os.environ, "GNNOPS_MAX_NODES": "42"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "42"


def test_check_count_and_budget() -> None:
    set_limits(max_nodes=10, max_bytes=100)
    check_count(10, "max_nodes", "'m.vtu'")
    with pytest.raises(MeshError, match=r"'m.vtu' declares 11 points, more than the limit of "
                                        r"10 per input; raise it with GNNOPS_MAX_NODES"):
        check_count(11, "max_nodes", "'m.vtu'")
    with pytest.raises(GraphError, match="negative number of points"):
        check_count(-1, "max_nodes", "'g'", error=GraphError)
    b = ByteBudget("'m.vtu'")
    b.take(60, "a")
    assert b.remaining == 40
    with pytest.raises(MeshError, match=r"'m.vtu': b needs 41 bytes, 101 in all, more than "
                                        r"the limit of 100"):
        b.take(41, "b")


def test_check_regular_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x" * 50)
    assert check_regular_file(tmp_path / "f").st_size == 50
    os.mkfifo(tmp_path / "p")
    with pytest.raises(MeshError, match="is a FIFO"):
        check_regular_file(tmp_path / "p")
    with pytest.raises(MeshError, match="is a folder"):
        check_regular_file(tmp_path)
    with pytest.raises(MeshError, match="is a character device"):
        check_regular_file("/dev/null")
    set_limits(max_bytes=49)
    with pytest.raises(MeshError, match="declares 50 bytes of file"):
        check_regular_file(tmp_path / "f")


def test_open_reference(tmp_path: Path) -> None:
    (tmp_path / "in" / "sub").mkdir(parents=True)
    (tmp_path / "in" / "sub" / "a.bin").write_bytes(b"abc")
    (tmp_path / "out.bin").write_bytes(b"secret")
    (tmp_path / "in" / "up").symlink_to(tmp_path)
    (tmp_path / "in" / "ok").symlink_to(tmp_path / "in" / "sub" / "a.bin")
    base = tmp_path / "in"
    with open_reference(" sub/a.bin ", base, "'m'") as fh:
        assert fh.read() == b"abc"
    with open_reference("ok", base, "'m'") as fh:  # a link that stays inside is fine
        assert fh.read() == b"abc"
    for ref in ("/etc/passwd", "../out.bin", "sub/../../out.bin", "up/out.bin", "~x", "a\x00"):
        with pytest.raises(MeshError, match="cannot read 'm': it refers to"):
            open_reference(ref, base, "'m'")


def test_parse_xml_matches_elementtree_and_refuses_dtds() -> None:
    root = parse_xml(b'<a xmlns:xi="http://www.w3.org/2001/XInclude" k="1"><b>t</b>'
                     b'<xi:include href="x"/></a>', "'x'")
    assert root.tag == "a" and root.get("k") == "1" and root.find("b").text == "t"
    assert root[1].tag == "{http://www.w3.org/2001/XInclude}include"
    with pytest.raises(MeshError, match="DOCTYPE"):
        parse_xml(b'<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>', "'x'")
    with pytest.raises(GraphError, match="DOCTYPE"):
        parse_xml(b'<!DOCTYPE a SYSTEM "http://example.com/a.dtd"><a/>', "'x'",
                  error=GraphError)
    with pytest.raises(ValueError, match="malformed XML"):
        parse_xml(b"<a><b></a>", "'x'")


def test_check_xml_prolog(tmp_path: Path) -> None:
    ok = tmp_path / "ok.xml"
    ok.write_bytes(b'<?xml version="1.0"?>\n<!-- c -->\n<a>' + b"x" * 200_000 + b"\x00</a>")
    check_xml_prolog(ok, "'ok'", chunk=1024)  # stops at the root element; later junk is fine
    bad = tmp_path / "bad.xml"
    bad.write_bytes(b'<?xml version="1.0"?>\n<!DOCTYPE a [<!ENTITY b "c">]>\n<a/>')
    with pytest.raises(MeshError, match="'bad' contains a <!DOCTYPE> declaration"):
        check_xml_prolog(bad, "'bad'")
    (tmp_path / "junk").write_bytes(b"\xff\xfe not xml")
    check_xml_prolog(tmp_path / "junk", "'junk'")  # malformed: left to the real parser

"""Byte-level fuzzing of every input file format gnnops reads (hypothesis).

Valid small files of each format -- meshes: gmsh 2.2 / 4.1 (ASCII and binary), VTU (zlib
and raw), legacy VTK, XDMF (+ its HDF5 companion), medit, OFF, PLY; networks: GraphML,
GML, node-link JSON, edge list, CSV -- are mutated (bits flipped, bytes inserted, deleted,
overwritten, numbers replaced by extreme ones, the file truncated) and read the way
``gnnops predict`` reads them (``from_meshio`` / ``read_network`` + ``from_networkx``).
Each case must give a graph or a :class:`~gnnops.errors.GnnopsError`: never another
exception, never a hang (each case runs under a 5 s alarm), never a large allocation (the
size limits are lowered for the suite, so a header that claims more is refused).

Derandomized (the same cases on every run); 18 formats x 70 = 1,260 cases in all.
"""

from __future__ import annotations

import functools
import os
import re
import signal
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import meshio
import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gnnops.errors import GnnopsError
from gnnops.graphs import from_meshio, from_networkx, read_network, write_network
from gnnops.graphs.safety import reset_limits, set_limits

CASE_SECONDS = 5
#: ``GNNOPS_FUZZ_EXAMPLES=2000 pytest tests/reliability/test_fuzz_inputs.py`` runs a deeper,
#: random (not derandomized) search; the default is the CI budget.
_DEEP = int(os.environ.get("GNNOPS_FUZZ_EXAMPLES", "0"))
FUZZ = settings(max_examples=_DEEP or 70, deadline=None, database=None,
                derandomize=not _DEEP,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


class CaseTimeout(BaseException):
    """A case ran past CASE_SECONDS (a BaseException: no ``except Exception`` hides it)."""


def _mesh() -> meshio.Mesh:
    t = np.linspace(0.0, 1.0, 4)
    X, Y = np.meshgrid(t, t)
    pts = np.column_stack([X.ravel(), Y.ravel(), np.zeros(16)])
    idx = np.arange(16).reshape(4, 4)
    v0, v1, v2, v3 = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel(), idx[1:, 1:].ravel(), \
        idx[1:, :-1].ravel()
    tri = np.concatenate([np.column_stack([v0, v1, v2]), np.column_stack([v0, v2, v3])])
    return meshio.Mesh(pts, [("line", np.array([[0, 1], [1, 2], [2, 3]])), ("triangle", tri)],
                       point_data={"a": np.linspace(1.0, 2.0, 16)})


def _network() -> nx.Graph:
    G = nx.cycle_graph(6)
    G.add_edge(0, 3)
    nx.set_node_attributes(G, {i: float(i) for i in G.nodes}, "a")
    nx.set_edge_attributes(G, 1.5, "weight")
    return G


#: name -> (file name, writer(folder) -> None). Every writer produces a valid file.
MESHES: dict[str, tuple[str, Callable[[Path], None]]] = {
    "msh22": ("m.msh", lambda d: meshio.write(d / "m.msh", _bare(), file_format="gmsh22",
                                              binary=False)),
    "msh22-binary": ("m.msh", lambda d: meshio.write(d / "m.msh", _mesh(),
                                                     file_format="gmsh22", binary=True)),
    "msh41": ("m.msh", lambda d: meshio.write(d / "m.msh", _triangles(), file_format="gmsh",
                                              binary=False)),
    "msh41-binary": ("m.msh", lambda d: meshio.write(d / "m.msh", _triangles(),
                                                     file_format="gmsh", binary=True)),
    "vtu-zlib": ("m.vtu", lambda d: meshio.write(d / "m.vtu", _mesh(), compression="zlib")),
    "vtu-raw": ("m.vtu", lambda d: meshio.write(d / "m.vtu", _mesh(), compression=None)),
    "vtk": ("m.vtk", lambda d: meshio.write(d / "m.vtk", _mesh(), binary=False)),
    "vtk-binary": ("m.vtk", lambda d: meshio.write(d / "m.vtk", _mesh(), binary=True)),
    "xdmf": ("m.xdmf", lambda d: meshio.write(d / "m.xdmf", _mesh())),
    "xdmf-h5": ("m.h5", lambda d: meshio.write(d / "m.xdmf", _mesh())),
    "medit": ("m.mesh", lambda d: meshio.write(d / "m.mesh", _bare())),
    "off": ("m.off", lambda d: meshio.write(d / "m.off", _triangles())),
    "ply": ("m.ply", lambda d: meshio.write(d / "m.ply", _triangles(), binary=False)),
}
NETWORKS: dict[str, str] = {"graphml": "g.graphml", "gml": "g.gml", "json": "g.json",
                            "edgelist": "g.edgelist", "csv": "g.csv"}


def _bare() -> meshio.Mesh:
    m = _mesh()
    return meshio.Mesh(m.points, m.cells)  # meshio's ASCII gmsh writer mangles numpy floats


def _triangles() -> meshio.Mesh:
    m = _mesh()
    return meshio.Mesh(m.points, [m.cells[1]])  # one cell type (gmsh 4.1 writer, OFF, PLY)


@st.composite
def mutations(draw, size: int) -> list[tuple]:
    """1-4 edits: (kind, position in [0, 1), payload)."""
    kinds = st.sampled_from(["flip", "insert", "delete", "overwrite", "number", "truncate"])
    edits = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(kinds)
        pos = draw(st.integers(0, max(size - 1, 0)))
        if kind == "flip":
            payload = draw(st.integers(0, 7))
        elif kind in ("insert", "overwrite"):
            payload = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            payload = draw(st.integers(1, 64))
        elif kind == "number":
            payload = draw(st.sampled_from([0, 1, -1, 7, 2**31, 2**32 + 1, 2**63, 10**12,
                                            10**30, 10**400]))
        else:
            payload = None
        edits.append((kind, pos, payload))
    return edits


_DIGITS = re.compile(rb"-?\d+")


def mutate(raw: bytes, edits: list[tuple]) -> bytes:
    b = bytearray(raw)
    for kind, pos, payload in edits:
        pos = min(pos, max(len(b) - 1, 0))
        if kind == "flip" and b:
            b[pos] ^= 1 << payload
        elif kind == "insert":
            b[pos:pos] = payload
        elif kind == "delete":
            del b[pos:pos + payload]
        elif kind == "overwrite":
            b[pos:pos + len(payload)] = payload
        elif kind == "number":
            runs = list(_DIGITS.finditer(bytes(b)))
            if runs:
                m = min(runs, key=lambda r: abs(r.start() - pos))
                b[m.start():m.end()] = str(payload).encode()
        elif kind == "truncate":
            del b[pos:]
    return bytes(b)


def _alarm(*_args) -> None:
    raise CaseTimeout(f"a case ran past {CASE_SECONDS} s")


@pytest.fixture(autouse=True)
def _fuzz_limits():
    """Small limits (a header claiming more is refused) and the per-case alarm handler."""
    set_limits(max_nodes=20_000, max_cells=200_000, max_bytes=32 << 20)
    old = signal.signal(signal.SIGALRM, _alarm)
    yield
    signal.signal(signal.SIGALRM, old)
    reset_limits()


def _run_case(read: Callable[[], object]) -> None:
    """``read()`` must return or raise a GnnopsError within CASE_SECONDS."""
    signal.setitimer(signal.ITIMER_REAL, CASE_SECONDS)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            read()
    except GnnopsError:
        pass
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


@functools.cache
def mesh_files() -> dict[str, dict[str, bytes]]:
    """name -> {file name: valid bytes} (XDMF cases carry both files). A cached function,
    not a fixture: hypothesis would print a fixture's value with every failing case."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (_, write) in MESHES.items():
            d = Path(tmp) / name
            d.mkdir()
            write(d)
            out[name] = {p.name: p.read_bytes() for p in d.iterdir()}
    return out


@functools.cache
def network_files() -> dict[str, bytes]:
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, fname in NETWORKS.items():
            G = _network()
            if name in ("edgelist", "csv"):  # edge lists hold no node attributes
                G = nx.Graph(G.edges(data=True))
            write_network(G, Path(tmp) / fname)
            out[name] = (Path(tmp) / fname).read_bytes()
    return out


def test_valid_files_read(tmp_path) -> None:
    """Control: the unmutated files give the expected graphs."""
    for name, files in mesh_files().items():
        d = tmp_path / name
        d.mkdir()
        for fname, raw in files.items():
            (d / fname).write_bytes(raw)
        main = MESHES[name][0] if name != "xdmf-h5" else "m.xdmf"
        assert from_meshio(d / main).num_nodes == 16, name
    for name, raw in network_files().items():
        (tmp_path / NETWORKS[name]).write_bytes(raw)
        assert from_networkx(read_network(tmp_path / NETWORKS[name])).num_nodes == 6, name


@pytest.mark.parametrize("name", list(MESHES))
@FUZZ
@given(data=st.data())
def test_mutated_mesh_gives_graph_or_gnnops_error(tmp_path, name, data) -> None:
    target, _ = MESHES[name]
    files = mesh_files()[name]
    edits = data.draw(mutations(len(files[target])))
    for fname, raw in files.items():
        (tmp_path / fname).write_bytes(mutate(raw, edits) if fname == target else raw)
    main = "m.xdmf" if name == "xdmf-h5" else target
    _run_case(lambda: from_meshio(tmp_path / main, inputs=()))


@pytest.mark.parametrize("name", list(NETWORKS))
@FUZZ
@given(data=st.data())
def test_mutated_network_gives_graph_or_gnnops_error(tmp_path, name, data) -> None:
    raw = network_files()[name]
    edits = data.draw(mutations(len(raw)))
    path = tmp_path / NETWORKS[name]
    path.write_bytes(mutate(raw, edits))
    _run_case(lambda: from_networkx(read_network(path)))

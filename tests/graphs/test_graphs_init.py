"""gnnops.graphs: every public name resolves; importing the package loads no torch."""

from __future__ import annotations

import subprocess
import sys

import pytest

import gnnops.graphs as graphs


def test_public_names_resolve_to_their_modules() -> None:
    expected = {"from_meshio": "mesh", "to_meshio": "writeback", "read_mesh": "io",
                "radius_graph": "radius", "read_network": "network_io"}
    for name, module in expected.items():
        assert getattr(graphs, name).__module__ == f"gnnops.graphs.{module}"
    assert all(hasattr(graphs, n) for n in graphs.__all__)
    assert set(graphs.__all__) <= set(dir(graphs))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        graphs.nope  # noqa: B018


def test_import_and_mesh_io_do_not_load_torch() -> None:
    code = ("import sys, gnnops.graphs; from gnnops.graphs import read_mesh, write_mesh; "
            "print('torch' in sys.modules, 'torch_geometric' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False"]

"""The room-level import graph of gnnops follows ARCHITECTURE.md: downward only, no cycle.

Every ``import`` / ``from ... import`` of a gnnops module (top-level or inside a function)
and every string handed to ``importlib.import_module`` counts as an edge from the importing
room to the imported room.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

import gnnops

PACKAGE = Path(gnnops.__file__).parent

# room -> layer; a room may import rooms of a strictly lower layer (and itself).
LAYERS: dict[str, int] = {
    "errors": 0,
    "_atomic": 1, "_typed": 1, "_log": 1, "_yaml": 1, "_malloc": 1,
    "graphs": 2, "meshing": 2,
    "models": 3, "problems": 3,
    "data": 4,
    "surrogate": 5,
    "training": 6, "inference": 6,
    "evaluation": 7,
    "runs": 8,
    "cli": 9,
}
# ``gnnops/__init__.py`` is the public facade: it may name any room (lazily).
FACADE = "__init__"


def _room(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "gnnops":
        return None
    return parts[1] if len(parts) > 1 else FACADE


def _module_of(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[str, int]]:
    """(imported gnnops module, line) for every import in ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    here = _module_of(path)
    is_pkg = path.name == "__init__.py"
    out: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")
                base = base[: len(base) - node.level + (1 if is_pkg else 0)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod == "gnnops":  # ``from gnnops import problems`` names the room
                out += [(f"gnnops.{a.name}", node.lineno) for a in node.names]
            else:
                out.append((mod, node.lineno))
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            out.append((node.args[0].value, node.lineno))
    return [(m, ln) for m, ln in out if m.startswith("gnnops")]


def _edges() -> list[tuple[str, str, str]]:
    edges = []
    for path in sorted(PACKAGE.rglob("*.py")):
        src = _room(_module_of(path))
        for mod, line in _imports(path):
            dst = _room(mod)
            if dst is not None and dst != src and dst not in ("__version__",):
                edges.append((src, dst, f"{path.relative_to(PACKAGE.parent)}:{line}"))
    return edges


def test_every_room_has_a_layer() -> None:
    rooms = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
             if (p.is_dir() and (p / "__init__.py").exists())
             or (p.suffix == ".py" and p.name != "__init__.py")}
    assert rooms - set(LAYERS) == set(), "add new rooms to LAYERS and to ARCHITECTURE.md"


def test_imports_point_downward() -> None:
    bad = [f"{site}: {src} -> {dst}" for src, dst, site in _edges()
           if src != FACADE and dst != FACADE and LAYERS[dst] >= LAYERS[src]]
    facade = [f"{site}: {src} imports the facade gnnops" for src, dst, site in _edges()
              if dst == FACADE and src != "cli"]
    assert bad + facade == []


def test_room_graph_has_no_cycle() -> None:
    g = nx.DiGraph()
    g.add_edges_from((s, d) for s, d, _ in _edges() if FACADE not in (s, d))
    assert g.number_of_edges() > 10  # the walker found the imports at all
    assert list(nx.simple_cycles(g)) == []


def test_walker_sees_function_level_and_string_imports(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "gnnops" / "models" / "fake.py"
    fake.parent.mkdir(parents=True)
    fake.write_text("import importlib\n"
                    "def f():\n"
                    "    from gnnops.training import trainer\n"
                    "    from .. import problems\n"
                    "    return importlib.import_module('gnnops.runs.pipeline')\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", tmp_path / "gnnops")
    mods = {m for m, _ in _imports(fake)}
    assert mods == {"gnnops.training", "gnnops.problems", "gnnops.runs.pipeline"}


@pytest.mark.parametrize("pair", [("models", "problems"), ("problems", "models"),
                                  ("training", "inference"), ("inference", "training")])
def test_sibling_rooms_stay_apart(pair: tuple[str, str]) -> None:
    src, dst = pair
    assert [site for s, d, site in _edges() if (s, d) == pair] == []

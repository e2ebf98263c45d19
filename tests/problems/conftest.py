"""Fixtures of the problem tests."""

from __future__ import annotations

import networkx as nx
import pytest


@pytest.fixture
def directed_path() -> nx.DiGraph:
    """The weighted directed path 0 -(2)-> 1 -(3)-> 2."""
    g = nx.DiGraph()
    g.add_nodes_from(range(3))
    g.add_edge(0, 1, weight=2.0)
    g.add_edge(1, 2, weight=3.0)
    return g

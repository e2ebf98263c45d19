"""Network files <-> networkx graphs: GraphML, GML, node-link JSON, edge lists.

Formats by extension:

- ``.graphml`` / ``.gml``: directedness, node and edge attributes from the file.
  Vector attributes are stored flat (``u_0, u_1, ...``; see
  :func:`gnnops.graphs.network.flatten_attributes`).
- ``.json``: networkx node-link data (``"links"`` or ``"edges"`` key); lists
  are stored as lists and node ids keep their JSON type.
- ``.edgelist`` / ``.txt``: one edge per line, ``u v``, ``u v weight`` or
  ``u v {python dict}`` (networkx ``write_edgelist``); ``#`` starts a comment.
- ``.csv``: ``u,v[,weight]`` rows, or a header row naming the columns (detected
  when its first two names are source/target-like, or a column past the second
  is not a number); extra columns become edge attributes.

``.gml`` and ``.graphml`` are told apart by content (a file starting with ``<`` is
GraphML whatever its extension). Files are untrusted input: a GraphML DTD is refused and
the file size and node / edge counts are bounded (:mod:`gnnops.graphs.safety`).

Edge lists cannot say whether they are directed (pass ``directed=True``) and
cannot hold isolated nodes or node attributes: :func:`write_network` refuses
such graphs instead of silently losing them. Node ids read from text (GraphML,
GML, edge lists) come back as ``int`` when every id is a canonical integer
(``"12"``, not ``"012"``), else as ``str``.
"""

from __future__ import annotations

import ast
import csv
import json
import os
from pathlib import Path

import networkx as nx

from gnnops._atomic import temp_path
from gnnops.errors import GraphError
from gnnops.graphs.network import flatten_attributes

__all__ = ["read_network", "write_network", "NETWORK_FORMATS"]

NETWORK_FORMATS = (".graphml", ".gml", ".json", ".edgelist", ".txt", ".csv")
_HEADER = {"source", "target", "src", "dst", "from", "to", "u", "v", "node1", "node2",
           "gene1", "gene2", "protein1", "protein2", "a", "b", "i", "j"}


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in NETWORK_FORMATS:
        raise GraphError(
            f"cannot tell the network format of '{path}' from its extension '{path.suffix}'; "
            f"expected one of: {', '.join(NETWORK_FORMATS)}"
        )
    return suffix


def _is_xml(path: Path) -> bool:
    """True when the file's first non-blank bytes open an XML tag (GraphML)."""
    with open(path, "rb") as fh:
        head = fh.read(1024)
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")


def _read_gml(p: Path) -> nx.Graph:
    try:
        return nx.read_gml(p, label="label")
    except nx.NetworkXError:
        return nx.read_gml(p, label="id")


def _parse(p: Path, suffix: str, directed: bool | None) -> nx.Graph:
    from gnnops.graphs.safety import check_xml_prolog

    if suffix in (".graphml", ".gml"):
        suffix = ".graphml" if _is_xml(p) else ".gml"
    if suffix == ".graphml":
        check_xml_prolog(p, f"'{p}'", error=GraphError)
        return _int_ids(nx.read_graphml(p))
    if suffix == ".gml":
        return _int_ids(_read_gml(p))
    if suffix == ".json":
        with open(p, encoding="utf-8") as fh:
            raw = json.load(fh)
        key = "links" if "links" in raw else "edges"
        return nx.node_link_graph(raw, edges=key)
    return _int_ids(_read_edgelist(p, bool(directed), suffix == ".csv"))


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _int_ids(G: nx.Graph) -> nx.Graph:
    """Relabel str ids to int when every id is a canonical integer."""
    ids = list(G.nodes)
    if not ids or not all(isinstance(u, str) for u in ids):
        return G
    try:
        as_int = [int(u) for u in ids]
    except ValueError:
        return G
    if any(str(i) != u for i, u in zip(as_int, ids, strict=True)):
        return G
    return nx.relabel_nodes(G, dict(zip(ids, as_int, strict=True)), copy=True)


def _edge_rows(rows: list[list[str]], G: nx.Graph, names: list[str] | None, where: str) -> None:
    for line_no, row in rows:
        if len(row) < 2:
            raise GraphError(f"{where}, line {line_no}: expected 'u v [weight]', got {row!r}")
        u, v, rest = row[0], row[1], row[2:]
        attrs: dict = {}
        if rest and rest[0].startswith("{"):
            attrs = ast.literal_eval(" ".join(rest))
        elif rest:
            cols = names[2:] if names else (["weight"] if len(rest) == 1 else None)
            if cols is None or len(cols) != len(rest):
                raise GraphError(
                    f"{where}, line {line_no}: expected {2 + len(cols or ['weight'])} columns "
                    f"(u, v, {', '.join(cols or ['weight'])}), got {len(row)}"
                )
            for col, text in zip(cols, rest, strict=True):
                num = _number(text)
                attrs[col] = num if num is not None else text
        G.add_edge(u, v, **attrs)


def _read_edgelist(path: Path, directed: bool, csv_format: bool) -> nx.Graph:
    G = nx.DiGraph() if directed else nx.Graph()
    with open(path, newline="" if csv_format else None, encoding="utf-8") as fh:
        if csv_format:
            rows = [(i + 1, [c.strip() for c in r]) for i, r in enumerate(csv.reader(fh))
                    if r and not r[0].startswith("#")]
        else:
            rows = [(i + 1, line.split()) for i, line in enumerate(fh)
                    if line.strip() and not line.lstrip().startswith("#")]
    names = None
    if rows and csv_format:
        head = rows[0][1]
        named = len(head) >= 2 and {head[0].lower(), head[1].lower()} <= _HEADER
        if named or any(_number(c) is None for c in head[2:]):
            names, rows = head, rows[1:]
    _edge_rows(rows, G, names, f"'{path}'")
    return G


def read_network(path: str | os.PathLike, *, directed: bool | None = None) -> nx.Graph:
    """Read a network file into a networkx graph.

    Args:
        path: ``.graphml``, ``.gml``, ``.json`` (node-link), ``.edgelist``, ``.txt``
            or ``.csv`` file.
        directed: force a DiGraph (True) or Graph (False); None keeps what the file
            says (edge lists: undirected).

    Returns:
        The graph (nodes in file order).

    Raises:
        GraphError: missing file, unknown extension, unparsable content, no nodes, a
            GraphML DTD, a file or graph over the size limits.
    """
    from gnnops.graphs.safety import check_count, check_regular_file

    p = Path(path)
    if not p.exists():
        raise GraphError(f"network file not found: '{p}'")
    check_regular_file(p, f"'{p}'", error=GraphError)
    suffix = _suffix(p)
    try:
        G = _parse(p, suffix, directed)
    except GraphError:
        raise
    except Exception as exc:  # xml, json, csv, literal_eval and networkx parse errors
        raise GraphError(
            f"cannot read '{p}' as a {suffix[1:]} network: {type(exc).__name__}: {exc}"
        ) from exc
    if G.number_of_nodes() == 0:
        raise GraphError(f"network file '{p}' has no nodes")
    check_count(G.number_of_nodes(), "max_nodes", f"'{p}'", what="nodes", error=GraphError)
    check_count(G.number_of_edges(), "max_cells", f"'{p}'", what="edges", error=GraphError)
    if directed is True and not G.is_directed():
        G = G.to_directed()
    elif directed is False and G.is_directed():
        G = G.to_undirected()
    return G


def _write_edgelist(G: nx.Graph, fh, csv_format: bool) -> None:
    node_attrs = sorted({k for _, a in G.nodes(data=True) for k in a})
    if node_attrs:
        raise GraphError(
            f"edge lists cannot store node attributes (got {', '.join(map(str, node_attrs))}); "
            "write .graphml, .gml or .json instead"
        )
    isolated = [u for u in G.nodes if G.degree(u) == 0]
    if isolated:
        raise GraphError(
            f"edge lists cannot store isolated nodes (got {len(isolated)}, first "
            f"{isolated[0]!r}); write .graphml, .gml or .json instead"
        )
    cols = sorted({k for _, _, a in G.edges(data=True) for k in a})
    if csv_format:
        writer = csv.writer(fh)
        writer.writerow(["source", "target", *cols])
        writer.writerows([u, v, *(a.get(c, "") for c in cols)] for u, v, a in G.edges(data=True))
    else:
        for u, v, a in G.edges(data=True):
            fh.write(f"{u} {v} {dict(a)!r}\n" if a else f"{u} {v}\n")


def _json_default(obj: object) -> object:
    if hasattr(obj, "tolist"):  # numpy arrays / scalars, torch tensors
        return obj.tolist()
    raise TypeError(f"cannot store {type(obj).__name__} in JSON")


def write_network(G: nx.Graph, path: str | os.PathLike) -> Path:
    """Write a network atomically (temporary file, then ``os.replace``).

    Array attributes are flattened to ``name_0..name_{k-1}`` for GraphML and GML;
    JSON keeps lists.

    Args:
        G: the graph (e.g. from :func:`gnnops.graphs.to_networkx`).
        path: target file; the extension picks the format.

    Returns:
        The written path.

    Raises:
        GraphError: unknown extension, missing folder, or content the format cannot hold.
    """
    p = Path(path)
    suffix = _suffix(p)
    if not p.parent.is_dir():
        raise GraphError(f"cannot write '{p}': folder '{p.parent}' does not exist")
    tmp = str(temp_path(p))  # owned name; created by the writer below with the umask's mode
    try:
        if suffix == ".graphml":
            nx.write_graphml(flatten_attributes(G), tmp)
        elif suffix == ".gml":
            nx.write_gml(flatten_attributes(G), tmp)
        else:
            with open(tmp, "w", encoding="utf-8", newline="") as fh:
                if suffix == ".json":
                    json.dump(nx.node_link_data(G, edges="links"), fh, default=_json_default)
                else:
                    _write_edgelist(G, fh, suffix == ".csv")
        os.replace(tmp, p)
    except GraphError:
        raise
    except Exception as exc:  # networkx writers reject some attribute types
        raise GraphError(
            f"cannot write the network to '{p}': {type(exc).__name__}: {exc}"
        ) from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return p

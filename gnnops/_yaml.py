"""YAML of run configs, dataset specs and ``--set`` values: safe and bounded.

PyYAML's ``safe_load`` builds no arbitrary objects, but an alias (``*a``) makes the same
node appear again, so a 1 KB "billion laughs" document (nine lists of nine aliases of the
previous list) loads instantly as shared references and then expands to ~10^9 items when
anything walks it (``json.dumps``, a dataclass conversion, a digest). :func:`load_yaml`
counts every node as often as aliases repeat it and refuses a document past
:data:`MAX_NODES` (or nested deeper than :data:`MAX_DEPTH`, or larger than
:data:`MAX_BYTES`, or with a recursive alias) with a :class:`~gnnops.errors.ConfigError`,
before anything is constructed. Ordinary aliases (a shared block of options) still work.

Imports nothing from gnnops but the errors, so any room may use it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

from gnnops.errors import ConfigError

__all__ = ["MAX_NODES", "MAX_DEPTH", "MAX_BYTES", "load_yaml", "read_yaml"]

#: Most nodes of a document, each alias counted as a full copy of what it names.
MAX_NODES = 200_000
#: Deepest nesting of mappings / sequences.
MAX_DEPTH = 64
#: Largest document, in characters.
MAX_BYTES = 16 << 20


class _TooBig(Exception):
    pass


def _expanded(node: yaml.Node, depth: int, memo: dict[int, int], open_: set[int]) -> int:
    """Nodes of ``node`` with aliases expanded; raises :class:`_TooBig` past the limits."""
    key = id(node)
    if key in memo:
        return memo[key]
    if key in open_:
        raise _TooBig("a recursive alias (a node that contains itself)")
    if depth > MAX_DEPTH:
        raise _TooBig(f"nesting deeper than {MAX_DEPTH} levels")
    open_.add(key)
    total = 1
    if isinstance(node, yaml.SequenceNode):
        children = node.value
    elif isinstance(node, yaml.MappingNode):
        children = [n for pair in node.value for n in pair]
    else:
        children = []
    for child in children:
        total += _expanded(child, depth + 1, memo, open_)
        if total > MAX_NODES:
            raise _TooBig(f"more than {MAX_NODES:,} values once its aliases are expanded "
                          f"(an alias bomb?)")
    open_.discard(key)
    memo[key] = total
    return total


class _BoundedLoader(yaml.SafeLoader):
    """``SafeLoader`` that measures the composed node graph before constructing it."""

    def compose_document(self) -> yaml.Node | None:  # type: ignore[override]
        node = super().compose_document()
        if node is not None:
            _expanded(node, 0, {}, set())
        return node


def load_yaml(text: str, where: str) -> Any:
    """Parse YAML ``text`` like ``yaml.safe_load``, within the limits above.

    Args:
        text: the document.
        where: what it is, for messages (e.g. ``"config file 'run.yaml'"``).

    Raises:
        ConfigError: invalid YAML, or a document past the limits.
    """
    if len(text) > MAX_BYTES:
        raise ConfigError(f"{where} is {len(text):,} characters long; YAML configs are "
                          f"limited to {MAX_BYTES:,}")
    try:
        return yaml.load(text, Loader=_BoundedLoader)  # noqa: S506 -- a SafeLoader
    except _TooBig as exc:
        raise ConfigError(f"{where} is refused: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{where} is refused: nesting too deep to parse") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where} is not valid YAML ({exc})") from None


def read_yaml(path: str | os.PathLike, what: str = "config file") -> Any:
    """:func:`load_yaml` of the file ``path`` (UTF-8).

    Raises:
        ConfigError: unreadable file, invalid YAML, or a document past the limits.
    """
    p = Path(path)
    where = f"{what} '{p}'"
    try:
        st = p.stat()
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(f"expected {where} to be a regular file")
        if st.st_size > 4 * MAX_BYTES:
            raise ConfigError(f"{where} is {st.st_size:,} bytes; YAML configs are "
                              f"limited to {MAX_BYTES:,} characters")
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {where}: {exc}") from exc
    return load_yaml(text, where)

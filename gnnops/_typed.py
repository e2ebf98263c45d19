"""Typed configuration sections: build a dataclass from a mapping, checking keys and types.

An unknown key is a :class:`~gnnops.errors.ConfigError` naming the full dotted key and the
valid ones; a value of the wrong type names the key, the expected type and what arrived::

    config key 'optim.lr' expects float, got 'abc'

Used by :mod:`gnnops.training.config`; imports nothing from gnnops but the errors, so any
room may use it.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal

from gnnops.errors import ConfigError

__all__ = ["type_name", "coerce", "build_dataclass"]


def type_name(tp: Any) -> str:
    """A readable name of a type hint: ``int``, ``one of 'a', 'b'``, ``str or null``."""
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(a) for a in typing.get_args(tp))
    if origin is not None:
        return str(tp).replace("typing.", "")
    return "null" if tp is type(None) else getattr(tp, "__name__", str(tp))


def coerce(value: Any, tp: Any, key: str) -> Any:
    """Return ``value`` checked against ``tp`` (ints widen to float), else ConfigError."""
    origin = typing.get_origin(tp)
    bad = ConfigError(f"config key '{key}' expects {type_name(tp)}, got {value!r}")
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            try:
                return coerce(value, arg, key)
            except ConfigError:
                continue
        raise bad
    if origin is Literal:
        if value in typing.get_args(tp):
            return value
        raise bad
    if tp is type(None):
        if value is None:
            return None
        raise bad
    if origin is list:
        if not isinstance(value, list | tuple):
            raise bad
        (item,) = typing.get_args(tp) or (Any,)
        return [coerce(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise bad
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise bad
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise bad
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads "3e-4" (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        raise bad
    if tp is str:
        if isinstance(value, str):
            return value
        raise bad
    raise bad  # pragma: no cover - every field type is handled above


def build_dataclass(cls: type, values: Any, prefix: str) -> Any:
    """Build dataclass ``cls`` from a mapping, checking keys and types recursively."""
    where = f"'{prefix}'" if prefix else "the config"
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(f"config section {where} expects a mapping, got {values!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        full = f"{prefix}.{key}" if prefix else str(key)
        if key not in names:
            raise ConfigError(f"unknown config key '{full}'; expected one of: "
                              f"{', '.join(names)}")
        tp = hints[key]
        if dataclasses.is_dataclass(tp):
            kwargs[key] = build_dataclass(tp, value, full)
        else:
            kwargs[key] = coerce(value, tp, full)
    return cls(**kwargs)

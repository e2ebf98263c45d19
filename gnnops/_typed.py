"""Typed configuration sections: build a dataclass from a mapping, checking keys and types.

An unknown key is a :class:`~gnnops.errors.ConfigError` naming the full dotted key and the
valid ones, with a suggestion for a near miss; a value of the wrong type names the key, the
expected type and what arrived; a missing required key is named::

    unknown config key 'data.generate.n_trian'; expected one of: problem, ...; did you mean
    'n_train'?
    config key 'optim.lr' expects float, got 'abc'

Every section of the run config (:mod:`gnnops.training.config`), the dataset spec
``data.generate`` (:class:`gnnops.data.spec.GenerateSpec`, also read alone by
``gnnops generate``) and the graph recipe of an artifact
(:class:`gnnops.surrogate.recipe.Recipe`, with ``error=ArtifactError``) go through this one
validator. A dataclass may define ``validate(self, *, where)`` for value checks; it is called
after the types are checked, with the dotted prefix of the section.

Why hand-written and not pydantic v2 or OmegaConf structured configs: both are a new runtime
dependency (pydantic-core is a compiled wheel; OmegaConf pulls antlr4 and has its own
interpolation / override grammar) for what is ~200 lines here over the dataclasses we
already have. Their errors are multi-line reports (pydantic: "1 validation error for ...
Input should be a valid integer", OmegaConf: ``full_key``/``object_type`` blocks) that would
need re-wording into our one-line ``key, expected, got`` messages, and neither lists the
valid keys nor suggests "did you mean" for a typo. PyYAML reads ``3e-4`` (no dot) as a
string under YAML 1.1; pydantic's lax mode fixes that but also accepts ``"3"`` for an int
and ``"yes"`` for a bool, strict mode rejects it, and OmegaConf would replace our YAML loader
and the existing ``key.sub=value`` override parsing (YAML-parsed values, used by ``--set``
and ``train.py``) with its own. So the small, exact coercion below stays: ints widen to
float, ``"3e-4"``-style strings become floats, nothing else is converted.

Imports nothing from gnnops but the errors, so any room may use it.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Iterable
from typing import Any, Literal

from gnnops.errors import ConfigError, GnnopsError

__all__ = ["type_name", "did_you_mean", "coerce", "build_dataclass"]


def did_you_mean(word: Any, options: Iterable[Any]) -> str:
    """``"; did you mean 'n_train'?"`` for the closest of ``options`` to ``word``, else ``""``.

    Uses :func:`difflib.get_close_matches` (ratio >= 0.6) on the string forms.
    """
    names = [str(o) for o in options]
    close = difflib.get_close_matches(str(word), names, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def type_name(tp: Any) -> str:
    """A readable name of a type hint: ``int``, ``one of 'a', 'b'``, ``str or null``."""
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(a) for a in typing.get_args(tp))
    if origin is dict or tp is dict or dataclasses.is_dataclass(tp):
        return "mapping"
    if origin is list:
        args = typing.get_args(tp)
        return f"list of {type_name(args[0])}" if args and args[0] is not Any else "list"
    if origin is not None:
        return str(tp).replace("typing.", "")
    return "null" if tp is type(None) else getattr(tp, "__name__", str(tp))


def coerce(value: Any, tp: Any, key: str, *, error: type[GnnopsError] = ConfigError,
           label: str = "config key", strict: bool = False) -> Any:
    """Return ``value`` checked against ``tp`` (ints widen to float), else ``error``.

    Args:
        value: the value read (YAML / JSON).
        tp: the field's type hint; a dataclass is built with :func:`build_dataclass`.
        key: full dotted key, for messages.
        error: exception class raised (``ConfigError`` for configs).
        label: what a key is called in messages (``"config key"``, ``"recipe field"``).
        strict: no strings for floats (JSON has real numbers; YAML 1.1 does not).
    """
    origin = typing.get_origin(tp)
    kw = {"error": error, "label": label, "strict": strict}
    bad = error(f"{label} '{key}' expects {type_name(tp)}, got {value!r}")
    if tp is Any:
        return value
    if dataclasses.is_dataclass(tp):
        return value if isinstance(value, tp) else build_dataclass(tp, value, key, **kw)
    if origin in (typing.Union, types.UnionType):
        return _coerce_union(value, typing.get_args(tp), key, bad, kw)
    if origin is Literal:
        if value in typing.get_args(tp):
            return value
        hint = did_you_mean(value, typing.get_args(tp)) if isinstance(value, str) else ""
        raise error(f"{label} '{key}' expects {type_name(tp)}, got {value!r}{hint}")
    if origin is list:
        if not isinstance(value, list | tuple):
            raise bad
        (item,) = typing.get_args(tp) or (Any,)
        return [coerce(v, item, f"{key}[{i}]", **kw) for i, v in enumerate(value)]
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise bad
        k_tp, v_tp = typing.get_args(tp) or (Any, Any)
        if k_tp is str and not all(isinstance(k, str) for k in value):
            raise error(f"{label} '{key}' expects a mapping with string keys, got {value!r}")
        return {k: coerce(v, v_tp, f"{key}.{k}", **kw) for k, v in value.items()}
    return _coerce_scalar(value, tp, bad, strict)


def _coerce_union(value: Any, args: tuple[Any, ...], key: str, bad: GnnopsError,
                  kw: dict[str, Any]) -> Any:
    """The first member of a union ``value`` fits; a mapping for the union's one dataclass
    is built directly, so its own message (an unknown key inside it) is kept."""
    if value is None and type(None) in args:
        return None
    classes = [a for a in args if dataclasses.is_dataclass(a)]
    if any(isinstance(value, c) for c in classes):  # already built
        return value
    if isinstance(value, dict) and len(classes) == 1:
        return build_dataclass(classes[0], value, key, **kw)
    for arg in args:
        try:
            return coerce(value, arg, key, **kw)
        except kw["error"]:
            continue
    raise bad


def _coerce_scalar(value: Any, tp: Any, bad: GnnopsError, strict: bool) -> Any:
    """``None``, bool, int, float (ints widen; strings unless ``strict``) or str, else ``bad``."""
    if tp is type(None) and value is None:
        return None
    if tp is bool and isinstance(value, bool):
        return value
    if tp is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str) and not strict:  # YAML 1.1 reads "3e-4" as a string
            try:
                return float(value)
            except ValueError:
                pass
    if tp is str and isinstance(value, str):
        return value
    raise bad


def build_dataclass(cls: type, values: Any, prefix: str, *,
                    error: type[GnnopsError] = ConfigError, label: str = "config key",
                    strict: bool = False) -> Any:
    """Build dataclass ``cls`` from a mapping, checking keys and types recursively.

    Missing keys take the field defaults; a field without a default is required. After
    construction, ``obj.validate(where=prefix)`` is called when ``cls`` defines it.

    Args:
        cls: the dataclass.
        values: mapping of field name -> value (``None`` = empty).
        prefix: dotted key of the section (``""`` = top level), for messages.
        error: exception class raised (``ConfigError`` for configs).
        label: what a key is called in messages (``"config key"``, ``"recipe field"``).
        strict: no strings for floats (for JSON input).

    Raises:
        error: not a mapping, an unknown key (valid ones listed, near miss suggested), a
            missing required key, a value of the wrong type, or what ``validate`` raises.
    """
    where = f"'{prefix}'" if prefix else "the top level"
    section = label.rsplit(" ", 1)[0] + " section"
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise error(f"{section} {where} expects a mapping, got {values!r}")
    hints = typing.get_type_hints(cls)
    fields = dataclasses.fields(cls)
    names = [f.name for f in fields]
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        full = f"{prefix}.{key}" if prefix else str(key)
        if key not in names:
            raise error(f"unknown {label} '{full}'; expected one of: {', '.join(names)}"
                        f"{did_you_mean(key, names)}")
        kwargs[key] = coerce(value, hints[key], full, error=error, label=label, strict=strict)
    for f in fields:
        if (f.name not in kwargs and f.default is dataclasses.MISSING
                and f.default_factory is dataclasses.MISSING):
            full = f"{prefix}.{f.name}" if prefix else f.name
            raise error(f"missing required {label} '{full}' ({type_name(hints[f.name])})")
    obj = cls(**kwargs)
    check = getattr(obj, "validate", None)
    if callable(check):
        check(where=prefix)
    return obj

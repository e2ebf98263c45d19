"""Loading the run config: YAML, ``key.sub=value`` overrides, the one validator.

Every section is a dataclass (:mod:`gnnops.training.config_sections`, re-exported here);
:func:`load_config` reads YAML, applies overrides and checks every key with
:func:`gnnops._typed.build_dataclass` -- ``data.generate`` included -- so an unknown key
anywhere is a :class:`ConfigError` naming the full dotted key and the valid ones, with
"did you mean" for a near miss, and a value of the wrong type names the key, the
expected type and what arrived::

    config key 'optim.lr' expects float, got 'abc'

``load_config()`` without a path returns the built-in small Darcy run
(``configs/default.yaml`` of the source tree, whose values equal the dataclass
defaults).
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from pathlib import Path
from typing import Any

from gnnops._typed import build_dataclass, did_you_mean
from gnnops._yaml import load_yaml, read_yaml
from gnnops.errors import ConfigError
from gnnops.training.config_sections import (
    DataConfig,
    EvalConfig,
    ModelConfig,
    OptimConfig,
    RolloutConfig,
    RunConfig,
    TrainConfig,
    check_values,
)

__all__ = [
    "DataConfig", "ModelConfig", "OptimConfig", "TrainConfig", "EvalConfig", "RolloutConfig",
    "RunConfig",
    "load_config", "config_to_dict", "config_from_dict", "apply_overrides",
    "check_model_kwargs", "check_data_problem", "model_class", "default_config_path",
    "RESERVED_MODEL_KWARGS",
]

# constructor arguments the trainer fills in from the data; not settable in model.kwargs
RESERVED_MODEL_KWARGS = ("in_channels", "out_channels", "edge_dim", "pos_dim")


def config_to_dict(cfg: RunConfig) -> dict[str, Any]:
    """The config as plain nested dicts / lists (YAML- and JSON-able)."""
    return dataclasses.asdict(cfg)


def config_from_dict(d: dict[str, Any]) -> RunConfig:
    """Build and validate a :class:`RunConfig` from nested dicts (missing keys = defaults)."""
    data = d.get("data") if isinstance(d, dict) else None
    if isinstance(data, dict) and data.get("path") is not None and "generate" not in data:
        d = {**d, "data": {**data, "generate": None}}  # a user dataset replaces the default
    cfg = build_dataclass(RunConfig, d, "")
    check_values(cfg)
    return cfg


# ---------------------------------------------------------------- overrides
def apply_overrides(d: dict[str, Any], overrides: typing.Iterable[str]) -> dict[str, Any]:
    """Apply ``key.sub=value`` strings (value parsed as YAML) to a nested dict in place.

    Raises:
        ConfigError: an override without ``=`` or whose path crosses a non-mapping.
    """
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"expected an override of the form key.sub=value, got {item!r}")
        key, raw = item.split("=", 1)
        key = key.strip()
        value = load_yaml(raw, f"the value of config key '{key}'") if raw.strip() else None
        parts = key.split(".")
        node = d
        for i, part in enumerate(parts[:-1]):
            nxt = node.get(part)
            if nxt is None:
                nxt = node[part] = {}
            if not isinstance(nxt, dict):
                raise ConfigError(f"config key '{'.'.join(parts[:i + 1])}' is not a section; "
                                  f"cannot set '{key}'")
            node = nxt
        node[parts[-1]] = value
    return d


def default_config_path() -> Path:
    """``configs/default.yaml`` of the source tree (may not exist in an installed wheel)."""
    return Path(__file__).resolve().parents[2] / "configs" / "default.yaml"


def load_config(path: str | Path | None = None,
                overrides: typing.Iterable[str] = ()) -> RunConfig:
    """Load a run config from YAML, apply ``key.sub=value`` overrides, validate.

    Args:
        path: YAML file; ``None`` = the built-in small Darcy default.
        overrides: strings like ``"optim.lr=3e-4"`` or ``"model.kwargs.width=32"``.

    Returns:
        The validated :class:`RunConfig` (model kwargs checked against the model's
        constructor; ``data.generate``'s problem and its options against the problem).

    Raises:
        ConfigError: missing file, invalid YAML, unknown key, wrong type or bad value.
    """
    if path is None:
        p = default_config_path()
        d = _read_yaml(p) if p.is_file() else config_to_dict(RunConfig())
    else:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"expected a YAML config file at '{p}' (not found)")
        d = _read_yaml(p)
    overrides = list(overrides)
    keys = [o.split("=", 1)[0].strip() for o in overrides]
    if "data.path" in keys and not any(k.startswith("data.generate") for k in keys):
        d.setdefault("data", {})["generate"] = None  # a user dataset replaces the default
    names = [o.split("=", 1)[1].strip() for o, k in zip(overrides, keys, strict=True)
             if k == "model.name"]
    model = d.get("model") if isinstance(d.get("model"), dict) else {}
    if names and names[-1] != model.get("name", ModelConfig().name):
        model.pop("kwargs", None)  # another model: its own defaults (+ kwargs overrides)
    d = apply_overrides(d, overrides)
    cfg = config_from_dict(d)
    check_model_kwargs(cfg.model.name, cfg.model.kwargs)
    if cfg.data.generate is not None:
        cfg.data.generate.check_problem(where="data.generate")
    check_data_problem(cfg.data)
    return cfg


def check_data_problem(data: DataConfig) -> None:
    """Check ``data.problem`` (the problem a user's mesh files solve) against the registry,
    ``data.problem_options`` against its constructor, and ``data.inputs`` / ``data.targets``
    against its field names (the residual needs them).

    Raises:
        ConfigError: unknown problem (the valid ones listed), an option the constructor does
            not take or rejects, a field name the problem does not know.
    """
    if data.problem is None:
        return
    from gnnops.errors import GnnopsError
    from gnnops.problems import get, names

    valid = names()
    if data.problem not in valid:
        raise ConfigError(f"config key 'data.problem' expects one of: {', '.join(valid)}, got "
                          f"{data.problem!r}{did_you_mean(data.problem, valid)}")
    cls = type(get(data.problem))
    params = inspect.signature(cls.__init__).parameters
    ok = [n for n, p in params.items() if n != "self"
          and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        for key in data.problem_options:
            if key not in ok:
                raise ConfigError(f"unknown config key 'data.problem_options.{key}' for problem "
                                  f"{data.problem!r}; expected one of: {', '.join(ok) or 'none'}"
                                  f"{did_you_mean(key, ok)}")
    try:
        prob = get(data.problem, **data.problem_options)
    except (GnnopsError, TypeError, ValueError) as exc:
        raise ConfigError(f"config key 'data.problem_options': {' '.join(str(exc).split())}"
                          ) from None
    for key, names_, known in (("inputs", data.inputs, prob.input_fields),
                               ("targets", data.targets, prob.output_fields)):
        bad = [n for n in names_ or [] if n not in known]
        if bad:
            raise ConfigError(f"config key 'data.{key}' expects fields of problem "
                              f"{data.problem!r} ({', '.join(known)}), got {bad}; name the "
                              "point data in your files as the problem does")


def _read_yaml(p: Path) -> dict[str, Any]:
    d = read_yaml(p, "config file")
    if d is None:
        return {}
    if not isinstance(d, dict):
        raise ConfigError(f"config file '{p}' expects a mapping at the top level, "
                          f"got {type(d).__name__}")
    return d


def model_class(name: str) -> type:
    """The model class registered as ``name`` in ``gnnops.models.MODELS``.

    Raises:
        ConfigError: unknown name (``model.name``); the message lists the valid ones.
    """
    from gnnops.models import MODELS

    if name not in MODELS:
        raise ConfigError(f"config key 'model.name': unknown model {name!r}; expected one of: "
                          f"{', '.join(sorted(MODELS))}{did_you_mean(name, MODELS)}")
    return MODELS[name]


def check_model_kwargs(name: str, kwargs: dict[str, Any]) -> None:
    """Check ``model.kwargs`` against the model constructor's signature.

    Raises:
        ConfigError: unknown model name, a reserved width argument, or an argument the
            constructor does not take (named as ``model.kwargs.<key>``).
    """
    cls = model_class(name)
    for key in kwargs:
        if key in RESERVED_MODEL_KWARGS:
            raise ConfigError(f"config key 'model.kwargs.{key}' is set from the data; remove it")
    params = inspect.signature(cls.__init__).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    valid = [n for n, p in params.items() if n != "self" and n not in RESERVED_MODEL_KWARGS
             and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    for key in kwargs:
        if key not in valid:
            raise ConfigError(f"unknown config key 'model.kwargs.{key}' for model {name!r}; "
                              f"expected one of: {', '.join(valid)}{did_you_mean(key, valid)}")

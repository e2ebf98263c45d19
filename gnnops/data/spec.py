"""What to generate: :class:`GenerateSpec`, read from a dict or a YAML file.

A spec names a problem, where to evaluate it (a geometry meshed at several sizes
``h`` for mesh problems; a graph family at several node counts for network
problems), how many samples each split gets and the seed. Unknown keys and
wrong types are :class:`~gnnops.errors.ConfigError` naming the key.

Options are routed as follows:

* ``problem_options`` -> ``problem.sample_inputs(rng, **problem_options)`` (how the
  random inputs are drawn, e.g. ``{"kind": "fno"}`` for Darcy);
* ``solver_options`` -> ``gnnops.problems.get(problem, **solver_options)`` (problem-wide
  defaults the solver uses, e.g. ``{"t_end": 2.0}`` for the network ODEs);
* ``family_options`` -> ``make_graph(family, n, seed=..., **family_options)``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gnnops.errors import ConfigError

__all__ = ["GenerateSpec", "load_spec", "GEOMETRIES", "SPLIT_IDS"]

#: geometry name -> function of ``gnnops.meshing``
GEOMETRIES = ("unit_square", "l_shape", "plate_with_hole", "box")

#: split name -> integer mixed into the per-sample seed ``[seed, split_id, idx]``
SPLIT_IDS = {"train": 0, "val": 1, "test": 2}


@dataclass
class GenerateSpec:
    """A dataset to generate.

    Attributes:
        problem: registered problem name (``gnnops.problems.names()``).
        problem_options: keyword arguments of ``problem.sample_inputs``.
        solver_options: keyword arguments of the problem constructor (solver defaults).
        geometry: mesh problems: ``unit_square``, ``l_shape``, ``plate_with_hole``, ``box``.
        resolutions: mesh sizes ``h`` coarsest first (mesh problems) or node counts
            smallest first (network problems).
        train_resolution: index into ``resolutions`` where train/val samples live.
        n_train: number of training samples.
        n_val: number of validation samples.
        n_test: number of test samples, each evaluated at every resolution.
        seed: base seed; sample ``idx`` of split ``s`` uses ``default_rng([seed, s, idx])``.
        family: network problems: graph family of train/val/test graphs.
        test_families: network problems: extra families, one test split ``test_<family>`` each.
        family_options: keyword arguments of ``make_graph`` (shared by all families).
    """

    problem: str
    problem_options: dict[str, Any] = field(default_factory=dict)
    solver_options: dict[str, Any] = field(default_factory=dict)
    geometry: str = "unit_square"
    resolutions: list[float] = field(default_factory=lambda: [0.08, 0.04, 0.02])
    train_resolution: int = 0
    n_train: int = 100
    n_val: int = 20
    n_test: int = 20
    seed: int = 0
    family: str = "erdos_renyi"
    test_families: list[str] = field(default_factory=list)
    family_options: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dict(cls, d: Any, *, where: str = "data.generate") -> GenerateSpec:
        """Build and validate a spec from a plain dict (e.g. parsed YAML).

        Args:
            d: mapping of field name -> value.
            where: dotted prefix used in error messages.

        Raises:
            ConfigError: not a mapping, unknown key, missing ``problem``, wrong type or
                invalid value; the message names the key.
        """
        if not isinstance(d, dict):
            raise ConfigError(f"expected a mapping for '{where or 'the spec'}' "
                              f"(got {type(d).__name__})")
        names = [f.name for f in dataclasses.fields(cls)]
        for key in d:
            if key not in names:
                raise ConfigError(f"unknown key '{_join(where, key)}'; expected one of: "
                                  f"{', '.join(names)}")
        if "problem" not in d:
            raise ConfigError(f"missing required key '{_join(where, 'problem')}'")
        kw = {k: _check_type(_join(where, k), k, v) for k, v in d.items()}
        spec = cls(**kw)
        spec.validate(where=where)
        return spec

    def validate(self, *, where: str = "data.generate") -> None:
        """Check values (types are checked by :meth:`from_dict`).

        Raises:
            ConfigError: the first invalid field, named.
        """
        def bad(key: str, msg: str) -> ConfigError:
            return ConfigError(f"expected {msg} for '{_join(where, key)}'")

        if not self.problem:
            raise bad("problem", "a problem name (got empty)")
        if not self.resolutions:
            raise bad("resolutions", "at least one entry (got [])")
        if any(r <= 0 for r in self.resolutions):
            raise bad("resolutions", f"positive numbers (got {self.resolutions})")
        if not 0 <= self.train_resolution < len(self.resolutions):
            raise bad("train_resolution", f"an index in [0, {len(self.resolutions) - 1}] "
                      f"(got {self.train_resolution})")
        for k in ("n_train", "n_val", "n_test"):
            if getattr(self, k) < 0:
                raise bad(k, f"a count >= 0 (got {getattr(self, k)})")
        if self.geometry not in GEOMETRIES:
            raise bad("geometry", f"one of: {', '.join(GEOMETRIES)} (got {self.geometry!r})")

    # ------------------------------------------------------------------ helpers
    def to_dict(self) -> dict[str, Any]:
        """The spec as a JSON-serializable dict (all fields)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def digest(self) -> str:
        """First 10 hex digits of the SHA-256 of the canonical JSON of :meth:`to_dict`."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:10]

    def default_dir(self, root: str | os.PathLike = "datasets") -> Path:
        """``<root>/<problem>-<digest>``."""
        return Path(root) / f"{self.problem}-{self.digest()}"


_TYPES: dict[str, tuple[type, ...]] = {
    "problem": (str,), "problem_options": (dict,), "solver_options": (dict,),
    "geometry": (str,), "resolutions": (list,), "train_resolution": (int,),
    "n_train": (int,), "n_val": (int,), "n_test": (int,), "seed": (int,),
    "family": (str,), "test_families": (list,), "family_options": (dict,),
}


def _type_name(types: tuple[type, ...]) -> str:
    return {dict: "a mapping", list: "a list", int: "an integer", str: "a string"}[types[0]]


def _check_type(name: str, key: str, value: Any) -> Any:
    types = _TYPES[key]
    ok = isinstance(value, types) and not (isinstance(value, bool) and int in types)
    if not ok:
        raise ConfigError(f"expected {_type_name(types)} for '{name}' "
                          f"(got {type(value).__name__} {value!r})")
    if key == "resolutions":
        for i, r in enumerate(value):
            if isinstance(r, bool) or not isinstance(r, (int, float)):
                raise ConfigError(f"expected numbers in '{name}' (got {r!r} at index {i})")
        return [float(r) if isinstance(r, float) else int(r) for r in value]
    if key == "test_families":
        for i, f in enumerate(value):
            if not isinstance(f, str):
                raise ConfigError(f"expected strings in '{name}' (got {f!r} at index {i})")
        return list(value)
    if isinstance(value, dict):
        for k in value:
            if not isinstance(k, str):
                raise ConfigError(f"expected string keys in '{name}' (got {k!r})")
        return dict(value)
    return value


def load_spec(path: str | os.PathLike) -> GenerateSpec:
    """Read a spec from a YAML file.

    The file is either the spec mapping itself, or a run config holding it under
    ``data: generate:`` (or ``generate:``).

    Raises:
        ConfigError: missing/unreadable file, invalid YAML, or an invalid spec.
    """
    import yaml

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"data config not found: '{p}' (expected a YAML file)")
    try:
        doc = yaml.safe_load(p.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read '{p}' as YAML: {exc}") from exc
    where = "data.generate"
    if isinstance(doc, dict) and isinstance(doc.get("data"), dict) and "generate" in doc["data"]:
        doc = doc["data"]["generate"]
    elif isinstance(doc, dict) and "generate" in doc and "problem" not in doc:
        doc = doc["generate"]
    else:
        where = ""
    if not isinstance(doc, dict):
        raise ConfigError(f"expected a mapping of spec keys in '{p}' (got {type(doc).__name__})")
    try:
        return GenerateSpec.from_dict(doc, where=where)
    except ConfigError as exc:
        raise ConfigError(f"{p}: {exc}") from exc


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key

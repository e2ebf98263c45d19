"""What to generate: :class:`GenerateSpec`, read from a dict or a YAML file.

A spec names a problem, where to evaluate it (a geometry meshed at several sizes
``h`` for mesh problems; a graph family at several node counts for network
problems), how many samples each split gets and the seed. It is checked by the one
config validator (:func:`gnnops._typed.build_dataclass`), standalone (``gnnops generate``,
:func:`load_spec`) and as ``data.generate`` of a run config alike: unknown keys (with
"did you mean"), wrong types and bad values are :class:`~gnnops.errors.ConfigError`
naming the key; :meth:`GenerateSpec.check_problem` checks the options against the problem.

Options are routed as follows:

* ``problem_options`` -> ``problem.sample_inputs(rng, **problem_options)`` (how the
  random inputs are drawn, e.g. ``{"kind": "fno"}`` for Darcy; a value written as
  ``{uniform: [lo, hi]}``, ``{loguniform: [lo, hi]}`` or ``{choice: [...]}`` is drawn anew
  per sample, :mod:`gnnops.data.ranges`);
* ``solver_options`` -> ``gnnops.problems.get(problem, **solver_options)`` (problem-wide
  defaults the solver uses, e.g. ``{"t_end": 2.0}`` for the network ODEs);
* ``family_options`` -> ``make_graph(family, n, seed=..., **family_options)``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gnnops._typed import build_dataclass, did_you_mean
from gnnops.data.ranges import check_ranges, is_range, probe_sample_inputs
from gnnops.errors import ConfigError, GnnopsError, MeshError
from gnnops.meshing import GEOMETRIES, SEEDED, geometry_dim, parse_geometry

__all__ = ["GenerateSpec", "load_spec", "GEOMETRIES", "SPLIT_IDS"]

#: split name -> integer mixed into the per-sample seed ``[seed, split_id, idx]``
SPLIT_IDS = {"train": 0, "val": 1, "test": 2}


@dataclass
class GenerateSpec:
    """A dataset to generate.

    Attributes:
        problem: registered problem name (``gnnops.problems.names()``).
        problem_options: keyword arguments of ``problem.sample_inputs``.
        solver_options: keyword arguments of the problem constructor (solver defaults).
        geometry: mesh problems: ``unit_square``, ``l_shape``, ``plate_with_hole``, ``box``,
            ``disk_with_holes``, ``random_polygon`` (the last two drawn from a seed, named
            ``"<name>-<seed>"``, e.g. ``random_polygon-3``; see :mod:`gnnops.meshing`).
        geometries: mesh problems: several geometries instead of ``geometry`` (which then
            keeps its default): train / val / test sample ``idx`` lives on
            ``geometries[idx % len(geometries)]``; one mesh per (geometry, resolution),
            ``meshes/<geometry>_res<k>.vtu``. ``None``: the one ``geometry``.
        test_geometries: mesh problems: held-out geometries (not in ``geometries``), one test
            split ``test_<geometry>`` each, with the inputs of ``test`` evaluated at every
            resolution.
        resolutions: mesh sizes ``h`` coarsest first (mesh problems) or node counts
            smallest first (network problems); ints stay ints (the digest depends on it).
        train_resolution: index into ``resolutions`` where train/val samples live.
        n_train: number of training samples.
        n_val: number of validation samples.
        n_test: number of test samples, each evaluated at every resolution.
        seed: base seed; sample ``idx`` of split ``s`` uses ``default_rng([seed, s, idx])``.
        family: network problems: graph family of train/val/test graphs.
        test_families: network problems: extra families, one test split ``test_<family>`` each.
        family_options: keyword arguments of ``make_graph`` (shared by all families).
        reference_resolution: mesh problems: mesh size ``h_ref`` of a reference mesh. When
            set, every sample is solved once on it and the solution is transferred by P1
            interpolation (:class:`gnnops.problems.transfer.P1Transfer`) to the mesh of
            every resolution, so training targets and test references are the converged
            solution, not each coarse mesh's own discretization error. ``None``: each
            mesh's own solve (cheap, low fidelity).
        reference_train: multi-fidelity training data: only training samples ``idx <
            reference_train`` are solved at ``reference_resolution``; the others take their
            own mesh's solve (cheap, low fidelity). Validation and test samples always use the
            reference. Every sample's manifest record says its ``fidelity`` (``"reference"`` /
            ``"mesh"``), loaded graphs carry it as ``data.fidelity`` (1.0 / 0.0) and the
            ``fidelity`` feature (``data.features``) gives it to the model, which is then
            asked for reference fidelity when it predicts. ``None``: every sample.
        mesh_variants: mesh problems: ``K`` meshes of each training geometry at the training
            resolution; train / val sample ``idx`` lives on variant ``(idx // len(
            geometries)) % K``: 0 is the canonical mesh, ``j >= 1`` the canonical mesh with its
            interior nodes moved at random (:mod:`gnnops.data.variants`, seeded by ``(seed,
            geometry, j)``), stored as ``meshes/res<k>_v<j>.vtu`` (``<geometry>_res<k>_v<j>``)
            and recorded as the sample's ``variant``. Test samples are on the canonical
            meshes. 1: the canonical mesh only (one mesh per geometry and resolution).
    """

    problem: str
    problem_options: dict[str, Any] = field(default_factory=dict)
    solver_options: dict[str, Any] = field(default_factory=dict)
    geometry: str = "unit_square"
    resolutions: list[int | float] = field(default_factory=lambda: [0.08, 0.04, 0.02])
    train_resolution: int = 0
    n_train: int = 100
    n_val: int = 20
    n_test: int = 20
    seed: int = 0
    family: str = "erdos_renyi"
    test_families: list[str] = field(default_factory=list)
    family_options: dict[str, Any] = field(default_factory=dict)
    reference_resolution: float | None = None
    geometries: list[str] | None = None
    test_geometries: list[str] = field(default_factory=list)
    reference_train: int | None = None
    mesh_variants: int = 1

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dict(cls, d: Any, *, where: str = "data.generate") -> GenerateSpec:
        """Build and validate a spec from a plain dict (e.g. parsed YAML).

        The same validator as every run-config section (:func:`gnnops._typed.build_dataclass`).

        Args:
            d: mapping of field name -> value.
            where: dotted prefix used in error messages.

        Raises:
            ConfigError: not a mapping, unknown key (valid ones listed, "did you mean" for a
                near miss), missing ``problem``, wrong type or invalid value; names the key.
        """
        return build_dataclass(cls, d, where)

    def validate(self, *, where: str = "data.generate") -> None:
        """Check values (types are checked by :meth:`from_dict`).

        Raises:
            ConfigError: the first invalid field, named.
        """
        def bad(key: str, want: str, got: Any) -> ConfigError:
            return ConfigError(f"config key '{_join(where, key)}' expects {want}, got {got!r}")

        if not self.problem:
            raise bad("problem", "a problem name", self.problem)
        if not self.resolutions:
            raise bad("resolutions", "at least one entry", self.resolutions)
        if any(r <= 0 for r in self.resolutions):
            raise bad("resolutions", "positive numbers", self.resolutions)
        ref = self.reference_resolution
        if ref is not None and not 0 < ref <= min(self.resolutions):
            raise bad("reference_resolution", f"a mesh size in (0, {min(self.resolutions)}] "
                      f"(finer than every resolution)", ref)
        k = self.reference_train
        if k is not None and (ref is None or not 0 <= k <= self.n_train):
            raise bad("reference_train", f"a count in [0, n_train = {self.n_train}] with "
                      "reference_resolution set", k)
        if not 0 <= self.train_resolution < len(self.resolutions):
            raise bad("train_resolution", f"an index in [0, {len(self.resolutions) - 1}]",
                      self.train_resolution)
        for k in ("n_train", "n_val", "n_test"):
            if getattr(self, k) < 0:
                raise bad(k, "a count >= 0", getattr(self, k))
        if self.mesh_variants < 1:
            raise bad("mesh_variants", "a count >= 1 (1: the canonical mesh only)",
                      self.mesh_variants)
        self._validate_geometries(where)

    def _validate_geometries(self, where: str) -> None:
        """Names known to :func:`gnnops.meshing.parse_geometry`, no repeats, held-out test
        geometries, one spatial dimension, ``geometry`` / ``geometries`` not both."""
        named = [("geometry", self.geometry)]
        named += [(f"geometries[{i}]", g) for i, g in enumerate(self.geometries or [])]
        named += [(f"test_geometries[{i}]", g) for i, g in enumerate(self.test_geometries)]
        for key, g in named:
            try:
                parse_geometry(g)
            except MeshError:
                raise ConfigError(
                    f"config key '{_join(where, key)}' expects one of "
                    f"{', '.join(map(repr, GEOMETRIES))} ({', '.join(SEEDED)} with an "
                    f"optional '-<seed>' suffix, e.g. 'random_polygon-3'), got {g!r}"
                    f"{did_you_mean(g, GEOMETRIES)}") from None
        if self.geometries is not None:
            if not self.geometries:
                raise ConfigError(f"config key '{_join(where, 'geometries')}' expects at least "
                                  f"one geometry or null, got []")
            if self.geometry != "unit_square":
                raise ConfigError(f"config keys '{_join(where, 'geometry')}' and "
                                  f"'{_join(where, 'geometries')}' are exclusive; list "
                                  f"{self.geometry!r} in geometries")
        train = self.train_geometries()
        for key, names in (("geometries", train), ("test_geometries", self.test_geometries)):
            dup = sorted({g for g in names if names.count(g) > 1})
            if dup:
                raise ConfigError(f"config key '{_join(where, key)}' expects distinct names, "
                                  f"got {dup} more than once")
        seen = [g for g in self.test_geometries if g in train]
        if seen:
            raise ConfigError(f"config key '{_join(where, 'test_geometries')}' expects "
                              f"geometries held out from training, got {seen} (also trained on)")
        dims = {g: geometry_dim(g) for g in train + self.test_geometries}
        if len(set(dims.values())) > 1:
            raise ConfigError(f"config keys '{_join(where, 'geometries')}' / "
                              f"'{_join(where, 'test_geometries')}' expect geometries of one "
                              f"dimension, got {dims}")

    def train_geometries(self) -> list[str]:
        """The geometries of train / val / test samples: ``geometries`` or ``[geometry]``."""
        return list(self.geometries) if self.geometries is not None else [self.geometry]

    def multi_geometry(self) -> bool:
        """Whether meshes are stored per geometry (``geometries`` or ``test_geometries`` set)
        rather than as the one-geometry layout ``meshes/res<k>.vtu``."""
        return self.geometries is not None or bool(self.test_geometries)

    def geometry_of(self, split: str, idx: int) -> str:
        """The geometry of sample ``idx`` of ``split`` (cycled by index over
        :meth:`train_geometries`; ``test_<g>`` of a test geometry: ``g``)."""
        if split.startswith("test_") and split[5:] in self.test_geometries:
            return split[5:]
        train = self.train_geometries()
        return train[idx % len(train)]

    def variant_of(self, split: str, idx: int) -> int:
        """The mesh variant of sample ``idx`` of ``split`` (0: the canonical mesh; train /
        val cycle through ``mesh_variants`` once per round of :meth:`train_geometries`)."""
        if self.mesh_variants == 1 or split not in ("train", "val"):
            return 0
        return (idx // len(self.train_geometries())) % self.mesh_variants

    def check_problem(self, *, where: str = "data.generate") -> None:
        """Check the problem name and its options against the problem registry (cheap).

        ``solver_options`` are checked against the problem constructor's keyword arguments
        and the problem is built with them; ``problem_options`` against the keyword
        arguments of ``sample_inputs`` (a problem taking ``**options`` there draws one
        sample's parameters, which is cheap by the ``Problem`` contract); network problems
        also get ``family`` / ``test_families`` checked against ``gnnops.graphs``.

        Raises:
            ConfigError: unknown problem, unknown or invalid option, unknown family; the
                message names the key and the valid choices.
        """
        from gnnops.problems import get, names

        valid = names()
        if self.problem not in valid:
            raise ConfigError(f"config key '{_join(where, 'problem')}' expects one of: "
                              f"{', '.join(valid)}, got {self.problem!r}"
                              f"{did_you_mean(self.problem, valid)}")
        cls = type(get(self.problem))
        key = _join(where, "solver_options")
        _check_keywords(cls.__init__, self.solver_options, key,
                        f"problem {self.problem!r} (constructor)")
        prob = _as_config_error(key, lambda: get(self.problem, **self.solver_options))
        key = _join(where, "problem_options")
        sample = prob.sample_inputs
        check_ranges(self.problem_options, where=key)
        if not _check_keywords(sample, self.problem_options, key,
                               f"problem {self.problem!r} (sample_inputs)") or any(
                is_range(v) for v in self.problem_options.values()):
            probe_sample_inputs(sample, self.problem_options, key)
        if getattr(prob, "kind", "mesh") == "network" and self.mesh_variants != 1:
            raise ConfigError(f"config key '{_join(where, 'mesh_variants')}' is for mesh "
                              f"problems; {self.problem!r} is a network problem (expected 1, "
                              f"got {self.mesh_variants})")
        if getattr(prob, "kind", "mesh") == "network" and self.multi_geometry():
            raise ConfigError(f"config keys '{_join(where, 'geometries')}' / "
                              f"'{_join(where, 'test_geometries')}' are for mesh problems; "
                              f"{self.problem!r} is a network problem (use family / "
                              f"test_families)")
        if getattr(prob, "kind", "mesh") == "network":
            from gnnops.graphs.families import family_names

            fams = family_names()
            for k, f in [("family", self.family)] + [
                    (f"test_families[{i}]", f) for i, f in enumerate(self.test_families)]:
                if f not in fams:
                    raise ConfigError(f"config key '{_join(where, k)}' expects one of: "
                                      f"{', '.join(fams)}, got {f!r}{did_you_mean(f, fams)}")

    # ------------------------------------------------------------------ helpers
    def to_dict(self) -> dict[str, Any]:
        """The spec as a JSON-serializable dict (all fields; ``reference_resolution``,
        ``geometries``, ``test_geometries`` and ``reference_train`` only when set,
        ``mesh_variants`` only when not 1, so datasets generated before they existed keep
        their digest)."""
        d = json.loads(json.dumps(dataclasses.asdict(self)))
        if d.get("mesh_variants") == 1:
            d.pop("mesh_variants")
        for key in ("reference_resolution", "geometries", "test_geometries",
                    "reference_train"):
            if d.get(key) in (None, []):
                d.pop(key, None)
        return d

    def digest(self) -> str:
        """First 10 hex digits of the SHA-256 of the canonical JSON of :meth:`to_dict`."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:10]

    def default_dir(self, root: str | os.PathLike = "datasets") -> Path:
        """``<root>/<problem>-<digest>``."""
        return Path(root) / f"{self.problem}-{self.digest()}"


def load_spec(path: str | os.PathLike) -> GenerateSpec:
    """Read a spec from a YAML file.

    The file is either the spec mapping itself, or a run config holding it under
    ``data: generate:`` (or ``generate:``).

    Checked like ``data.generate`` of a run config: keys and types, values, and the
    problem's options against the problem (:meth:`GenerateSpec.check_problem`).

    Raises:
        ConfigError: missing/unreadable file, invalid YAML, or an invalid spec.
    """
    from gnnops._yaml import read_yaml

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"data config not found: '{p}' (expected a YAML file)")
    doc = read_yaml(p, "data config")
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
        spec = GenerateSpec.from_dict(doc, where=where)
        spec.check_problem(where=where)
        return spec
    except ConfigError as exc:
        raise ConfigError(f"{p}: {exc}") from exc


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _check_keywords(fn: Callable, options: dict[str, Any], key: str, what: str) -> bool:
    """ConfigError for an option ``fn`` does not take (its first parameter, ``self`` or
    ``rng``, skipped); ``False`` when ``fn`` takes ``**kw`` (then only a call can tell)."""
    params = list(inspect.signature(fn).parameters.values())[1:]  # self / rng
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return False
    valid = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    for k in options:
        if k not in valid:
            raise ConfigError(f"unknown config key '{key}.{k}' for {what}; expected one of: "
                              f"{', '.join(valid) or 'none'}{did_you_mean(k, valid)}")
    return True


def _as_config_error(key: str, call: Callable[[], Any]) -> Any:
    """``call()``, with a problem's rejection of the options as a ConfigError naming ``key``."""
    try:
        return call()
    except (GnnopsError, TypeError, ValueError) as exc:
        raise ConfigError(f"config key '{key}': {' '.join(str(exc).split())}") from None

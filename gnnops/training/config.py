"""Typed run configuration: dataclasses loaded from YAML, overridable as ``key.sub=value``.

Every section is a dataclass; an unknown key anywhere is a :class:`ConfigError`
naming the full dotted key and the valid ones, and a value of the wrong type
names the key, the expected type and what arrived::

    config key 'optim.lr' expects float, got 'abc'

``load_config()`` without a path returns the built-in small Darcy run
(``configs/default.yaml`` of the source tree, whose values equal the dataclass
defaults below).
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from gnnops._typed import build_dataclass, did_you_mean
from gnnops._yaml import load_yaml, read_yaml
from gnnops.data.spec import GenerateSpec
from gnnops.errors import ConfigError
from gnnops.training.rollout_config import RolloutConfig

__all__ = [
    "DataConfig", "ModelConfig", "OptimConfig", "TrainConfig", "EvalConfig", "RolloutConfig",
    "RunConfig",
    "load_config", "config_to_dict", "config_from_dict", "apply_overrides",
    "check_model_kwargs", "model_class", "default_config_path", "RESERVED_MODEL_KWARGS",
]

# constructor arguments the trainer fills in from the data; not settable in model.kwargs
RESERVED_MODEL_KWARGS = ("in_channels", "out_channels", "edge_dim", "pos_dim")


def _default_generate() -> GenerateSpec:
    return GenerateSpec(problem="darcy", resolutions=[0.08, 0.04, 0.02], train_resolution=0,
                        n_train=100, n_val=10, n_test=10, seed=0)


# the default model: a small low-rank graph neural operator (resolution-robust)
_DEFAULT_GNO: dict[str, Any] = {
    "width": 32, "depth": 4, "radius": 0.25, "kernel": "lowrank", "rank": 4,
    "kernel_hidden": 64, "max_num_neighbors": 32,
}


@dataclass
class DataConfig:
    """Where the samples come from and how they become model inputs.

    Attributes:
        generate: the dataset spec (:class:`gnnops.data.spec.GenerateSpec`; generated once,
            cached on disk), checked key by key like every other section.
        path: a dataset folder or a glob of mesh files (alternative to ``generate``).
        inputs: input field names (default: the problem's input fields).
        targets: target field names (default: the problem's output fields).
        features: derived features appended to ``x`` ("pos", "boundary", "node_type_onehot").
        val_fraction: share of user data (no train/val splits) held out for validation.
        normalize_edges: standardize ``edge_attr`` with training statistics (mean / std per
            column, stored in the artifact), as MeshGraphNets does; off by default.
        batch_size: graphs per optimizer step (global, over all DDP ranks).
        cache_dir: folder holding generated datasets, keyed by the spec.
    """

    generate: GenerateSpec | None = field(default_factory=_default_generate)
    path: str | None = None
    inputs: list[str] | None = None
    targets: list[str] | None = None
    features: list[str] = field(default_factory=list)
    val_fraction: float = 0.1
    normalize_edges: bool = False
    batch_size: int = 4
    cache_dir: str = "datasets"


@dataclass
class ModelConfig:
    """Model registry name and constructor arguments (widths are set from the data)."""

    name: str = "gno"
    kwargs: dict[str, Any] = field(default_factory=lambda: dict(_DEFAULT_GNO))


@dataclass
class OptimConfig:
    """AdamW, the learning-rate schedule, clipping and early stopping.

    Attributes:
        scheduler: "cosine" (to ``lr * min_lr_factor``), "step" (times ``gamma`` every
            ``step_epochs``) or "none"; all after ``warmup_epochs`` of linear warm-up.
        grad_clip: max global gradient norm (0 = off).
        patience: stop after this many epochs without a better validation error (0 = off).
    """

    lr: float = 2e-3
    weight_decay: float = 1e-4
    epochs: int = 20
    scheduler: Literal["cosine", "step", "none"] = "cosine"
    warmup_epochs: float = 1.0
    min_lr_factor: float = 0.01
    step_epochs: int = 10
    gamma: float = 0.5
    grad_clip: float = 1.0
    patience: int = 0


@dataclass
class TrainConfig:
    """Numerics and logging of the training loop.

    Attributes:
        bf16: bfloat16 autocast for the forward pass.
        physics_weight: weight of the physics residual term in the loss (0 = off).
        loss: ``"mse"`` (mean squared error of the normalized targets, MeshGraphNets) or
            ``"rel_l2"`` (per-sample relative L2 in physical units, volume-weighted: the
            evaluation metric, so every sample counts alike whatever its amplitude).
        augment: move each training graph by a random rotation / reflection about its
            centroid every step (:mod:`gnnops.training.augment`; isotropic problems with
            scalar fields: teaches the model the invariance, so it transfers to rotated
            and new geometries).
        augment_shift: largest random translation per axis with ``augment`` (domain units).
        noise_std: Gaussian noise added to the normalized inputs while training.
        device: "auto" (cuda when available), "cpu" or "cuda".
        threads: torch CPU threads (0 = torch's default).
        log_every: epochs between log lines / TensorBoard points.
        progress: show a tqdm bar per epoch (only on a terminal).
        tensorboard: write TensorBoard scalars and field images to ``<run>/tb``
            (needs ``pip install 'gnnops[tensorboard]'``).
        tensorboard_image_every: epochs between TensorBoard field images (0 = never).
    """

    bf16: bool = False
    physics_weight: float = 0.0
    loss: Literal["mse", "rel_l2"] = "mse"
    augment: bool = False
    augment_shift: float = 0.0
    noise_std: float = 0.0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int = 0
    log_every: int = 1
    progress: bool = True
    tensorboard: bool = False
    tensorboard_image_every: int = 10


@dataclass
class EvalConfig:
    """What the evaluation after training covers (``None`` splits = every test split)."""

    splits: list[str] | None = None
    plots: bool = True


@dataclass
class RunConfig:
    """A whole training run; written as ``config.yaml`` into the run folder.

    ``task``: ``"steady"`` (inputs -> fields) or ``"rollout"`` (one-step model of a
    time-dependent problem, evaluated by autoregressive rollout; section ``rollout``).
    """

    name: str = "darcy_default"
    seed: int = 0
    out_dir: str = "runs"
    task: Literal["steady", "rollout"] = "steady"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    rollout: RolloutConfig = field(default_factory=RolloutConfig)

    @property
    def run_dir(self) -> Path:
        """``out_dir/name``."""
        return Path(self.out_dir) / self.name


def config_to_dict(cfg: RunConfig) -> dict[str, Any]:
    """The config as plain nested dicts / lists (YAML- and JSON-able)."""
    return dataclasses.asdict(cfg)


def config_from_dict(d: dict[str, Any]) -> RunConfig:
    """Build and validate a :class:`RunConfig` from nested dicts (missing keys = defaults)."""
    data = d.get("data") if isinstance(d, dict) else None
    if isinstance(data, dict) and data.get("path") is not None and "generate" not in data:
        d = {**d, "data": {**data, "generate": None}}  # a user dataset replaces the default
    cfg = build_dataclass(RunConfig, d, "")
    _validate_values(cfg)
    return cfg


def _validate_values(cfg: RunConfig) -> None:
    checks = [
        ("seed", cfg.seed >= 0, "an integer >= 0"),
        ("data.batch_size", cfg.data.batch_size >= 1, "an integer >= 1"),
        ("data.val_fraction", 0.0 < cfg.data.val_fraction < 1.0, "a float in (0, 1)"),
        ("optim.lr", cfg.optim.lr > 0, "a float > 0"),
        ("optim.weight_decay", cfg.optim.weight_decay >= 0, "a float >= 0"),
        ("optim.epochs", cfg.optim.epochs >= 1, "an integer >= 1"),
        ("optim.warmup_epochs", cfg.optim.warmup_epochs >= 0, "a float >= 0"),
        ("optim.step_epochs", cfg.optim.step_epochs >= 1, "an integer >= 1"),
        ("optim.grad_clip", cfg.optim.grad_clip >= 0, "a float >= 0 (0 = off)"),
        ("optim.patience", cfg.optim.patience >= 0, "an integer >= 0 (0 = off)"),
        ("train.physics_weight", cfg.train.physics_weight >= 0, "a float >= 0"),
        ("train.noise_std", cfg.train.noise_std >= 0, "a float >= 0"),
        ("train.threads", cfg.train.threads >= 0, "an integer >= 0"),
        ("train.log_every", cfg.train.log_every >= 1, "an integer >= 1"),
        ("train.tensorboard_image_every", cfg.train.tensorboard_image_every >= 0,
         "an integer >= 0"),
        ("rollout.noise_std", cfg.rollout.noise_std >= 0, "a float >= 0"),
        ("rollout.steps", cfg.rollout.steps is None or cfg.rollout.steps >= 1,
         "an integer >= 1 or null"),
        ("rollout.max_samples", cfg.rollout.max_samples is None or cfg.rollout.max_samples >= 1,
         "an integer >= 1 or null"),
    ]
    for key, ok, want in checks:
        if not ok:
            value = cfg
            for part in key.split("."):
                value = getattr(value, part)
            raise ConfigError(f"config key '{key}' expects {want}, got {value!r}")
    if (not cfg.name or cfg.name in (".", "..") or any(c in cfg.name for c in "/\\\0")
            or len(cfg.name.encode("utf-8", "surrogateescape")) > 200):
        # the run folder is out_dir/name: '..' or a path would write outside out_dir
        raise ConfigError(f"config key 'name' expects a plain folder name inside out_dir "
                          f"(no '/', '\\', '..', at most 200 bytes), got {cfg.name!r:.80}")
    if cfg.task == "rollout" and cfg.train.physics_weight > 0:
        raise ConfigError("config key 'train.physics_weight' expects 0 with task 'rollout' "
                          "(the residual is evaluated on rollouts), got "
                          f"{cfg.train.physics_weight}")
    if cfg.data.generate is not None and cfg.data.path is not None:
        raise ConfigError("config keys 'data.generate' and 'data.path' are exclusive; "
                          "set one of them to null")


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
    d = apply_overrides(d, overrides)
    cfg = config_from_dict(d)
    check_model_kwargs(cfg.model.name, cfg.model.kwargs)
    if cfg.data.generate is not None:
        cfg.data.generate.check_problem(where="data.generate")
    return cfg


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

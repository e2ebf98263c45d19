"""The sections of the run config: one dataclass each, and the checks of their values.

``RunConfig`` is the whole run (``config.yaml`` of a run folder); its sections are
``data`` (:class:`DataConfig`, with the dataset spec ``data.generate`` a typed
:class:`gnnops.data.spec.GenerateSpec`), ``model``, ``optim``, ``train``, ``eval`` and
``rollout`` (:class:`gnnops.training.rollout_config.RolloutConfig`). Keys and types are
checked by :func:`gnnops._typed.build_dataclass`, values by :func:`check_values`; loading
and ``key.sub=value`` overrides live in :mod:`gnnops.training.config`. The defaults equal
``configs/default.yaml`` (the built-in small Darcy run).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from gnnops.data.spec import GenerateSpec
from gnnops.errors import ConfigError
from gnnops.training.rollout_config import RolloutConfig

__all__ = ["DataConfig", "ModelConfig", "OptimConfig", "TrainConfig", "EvalConfig",
           "RolloutConfig", "RunConfig", "check_values"]


def _default_generate() -> GenerateSpec:
    """The default run's data: Darcy (FNO protocol) on eight geometries, trained at h = 0.08,
    tested at four resolutions and on two held-out geometries, against a reference solved
    once per input at h = 0.01 and transferred to every mesh."""
    return GenerateSpec(problem="darcy", geometries=list(_DEFAULT_GEOMETRIES),
                        test_geometries=["disk_with_holes-2", "random_polygon-7"],
                        resolutions=[0.08, 0.04, 0.02, 0.01], train_resolution=0,
                        n_train=2200, n_val=10, n_test=30, reference_resolution=0.01, seed=0)


_DEFAULT_GEOMETRIES = ("unit_square", "l_shape", "plate_with_hole", "random_polygon-1",
                       "random_polygon-2", "disk_with_holes-1", "disk_with_holes-3",
                       "random_polygon-3")

# the default model: physics attention over volume-weighted slice tokens (resolution
# independent, linear in the nodes)
_DEFAULT_TRANSOLVER: dict[str, Any] = {
    "width": 64, "depth": 4, "heads": 4, "slices": 32, "fourier": 16, "fourier_scale": 2.0,
}


@dataclass
class DataConfig:
    """Where the samples come from and how they become model inputs.

    Attributes:
        generate: the dataset spec (:class:`gnnops.data.spec.GenerateSpec`; generated once,
            cached on disk), checked key by key like every other section.
        path: a dataset folder or a glob of mesh files (alternative to ``generate``).
        test_path: with ``path`` to your own mesh files: held-out test files (a folder or a
            glob); the report evaluates these only.
        test_fraction: with ``path`` to your own mesh files and no ``test_path``: share of
            the files held out for the report, drawn by ``seed`` (0: none held out, no
            report rows). Never trained or validated on.
        problem: with ``path`` to your own mesh files: the registered problem the files
            solve (``gnnops.problems.names()``), so evaluation and prediction check its
            residual; the fields must carry the problem's names (e.g. ``a``, ``f``, ``u``).
        problem_options: keyword arguments of that problem's constructor (e.g. elasticity's
            ``nu``, ``clamp``), the settings the files were solved with.
        inputs: input field names (default: the problem's input fields).
        targets: target field names (default: the problem's output fields).
        features: derived features appended to ``x`` ("pos", "boundary", "node_type_onehot",
            "node_volume", "wall_distance"); ``None`` (the default): ``[wall_distance]`` for
            meshes whose every training graph has boundary nodes (where the walls are, which
            a model needs on a new geometry), ``[]`` otherwise (networks).
        val_fraction: share of user data (no train/val splits) held out for validation.
        normalize_edges: standardize ``edge_attr`` with training statistics (mean / std per
            column, stored in the artifact), as MeshGraphNets does; off by default.
        batch_size: graphs per optimizer step (global, over all DDP ranks).
        cache_dir: folder holding generated datasets, keyed by the spec.
    """

    generate: GenerateSpec | None = field(default_factory=_default_generate)
    path: str | None = None
    test_path: str | None = None
    test_fraction: float = 0.2
    problem: str | None = None
    problem_options: dict[str, Any] = field(default_factory=dict)
    inputs: list[str] | None = None
    targets: list[str] | None = None
    features: list[str] | None = None
    val_fraction: float = 0.1
    normalize_edges: bool = False
    batch_size: int = 16
    cache_dir: str = "datasets"


@dataclass
class ModelConfig:
    """Model registry name and constructor arguments (widths are set from the data).

    Attributes:
        name: model registry name (``gnnops.models.names()``).
        kwargs: constructor arguments; left out: the default run's for ``transolver``, the
            constructor's own defaults for any other model.
        scaling_law: apply the problem's exact scaling law (``Problem.scaling_laws``;
            Darcy: ``u(la a, mu f) = mu / la u(a, f)``) by rescaling inputs and outputs, so
            inputs of any magnitude are predicted as well as the training ones. ``None``
            (default): on when the (steady) problem declares one.
        hard_dirichlet: predictions are exactly 0 where the problem prescribes u = 0
            (``Problem.zero_dirichlet``: the whole boundary, e.g. Darcy;
            ``zero_dirichlet_part``: the nodes it names, e.g. elasticity's clamp; ``None``,
            the default: on when the steady problem declares either): the output is
            multiplied by ``tanh(d / dirichlet_length)``, ``d`` the distance to those nodes,
            so it is 0 there and continuous on every mesh.
        dirichlet_length: length of that factor in the units of the mesh coordinates;
            ``None``: a tenth of the training meshes' median bounding-box diagonal; ``0``:
            only zero the boundary nodes (the output between them and the first interior
            nodes is then left to the model, which does not transfer to finer meshes).
    """

    name: str = "transolver"
    kwargs: dict[str, Any] | None = None
    scaling_law: bool | None = None
    hard_dirichlet: bool | None = None
    dirichlet_length: float | None = None

    def __post_init__(self) -> None:
        if self.kwargs is None:  # a config that names a model without its kwargs
            self.kwargs = dict(_DEFAULT_TRANSOLVER) if self.name == "transolver" else {}


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
    epochs: int = 35
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
            evaluation metric, so every sample counts alike whatever its amplitude); ``None``
            (default): ``rel_l2`` for steady runs, ``mse`` for one-step (rollout) models.
        augment: move each training graph by a random rotation / reflection about its
            centroid every step (:mod:`gnnops.training.augment`; isotropic problems with
            scalar fields: teaches the model the invariance, so it transfers to rotated
            and new geometries).
        augment_shift: largest random translation per axis with ``augment`` (domain units).
        noise_std: Gaussian noise added to the normalized inputs while training.
        device: "auto" (cuda when available), "cpu" or "cuda".
        threads: torch CPU threads (0 = torch's default; with ``processes`` > 1: the CPUs
            divided by ``processes``).
        reuse_memory: on glibc, serve large tensors from the heap and keep freed memory
            for the next step instead of unmapping it (:mod:`gnnops._malloc`; process-wide
            while training; glibc's defaults back and the kept memory returned to the
            system when training ends; 1.6x faster steps on 10k-node meshes, where every
            step's fresh [E, 128] tensors were page-faulted in again).
        processes: CPU training processes ``python train.py`` starts itself (data-parallel
            ranks over gloo, the same global batch and gradient as one process; the
            dataset is generated first with as many workers). 1 = one process. Ignored
            when training on CUDA and under ``torchrun`` (:mod:`gnnops.runs.launch`).
        log_every: epochs between log lines / TensorBoard points.
        progress: show a tqdm bar per epoch (only on a terminal).
        tensorboard: write TensorBoard scalars and field images to ``<run>/tb``
            (needs ``pip install 'gnnops[tensorboard]'``).
        tensorboard_image_every: epochs between TensorBoard field images (0 = never).
    """

    bf16: bool = False
    physics_weight: float = 0.0
    loss: Literal["mse", "rel_l2"] | None = None
    augment: bool = False
    augment_shift: float = 0.0
    noise_std: float = 0.0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int = 0
    reuse_memory: bool = True
    processes: int = 1
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


def check_values(cfg: RunConfig) -> None:
    """Check the values of a type-checked config (ranges, names, exclusive keys).

    Raises:
        ConfigError: the first bad value, naming its key, what it expects and what it got.
    """
    checks = [
        ("seed", cfg.seed >= 0, "an integer >= 0"),
        ("data.batch_size", cfg.data.batch_size >= 1, "an integer >= 1"),
        ("data.val_fraction", 0.0 < cfg.data.val_fraction < 1.0, "a float in (0, 1)"),
        ("data.test_fraction", 0.0 <= cfg.data.test_fraction < 1.0, "a float in [0, 1)"),
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
        ("train.processes", cfg.train.processes >= 1, "an integer >= 1"),
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
    _check_user_data(cfg.data)


def _check_user_data(d: DataConfig) -> None:
    """``test_path`` / ``problem`` / ``problem_options`` only with ``data.path``."""
    if d.path is None:
        for key in ("test_path", "problem"):
            if getattr(d, key) is not None:
                raise ConfigError(f"config key 'data.{key}' is for your own mesh files "
                                  f"(data.path); a generated dataset names its problem in "
                                  f"data.generate, got {getattr(d, key)!r}")
    if d.problem_options and d.problem is None:
        raise ConfigError(f"config key 'data.problem_options' needs data.problem (the problem "
                          f"they configure), got {d.problem_options!r}")

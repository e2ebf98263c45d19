"""``train(cfg)``: data -> prepared graphs -> normalizers -> model -> epochs -> artifact.

Run folder ``<out_dir>/<name>/``: ``config.yaml`` (resolved config), ``metrics.csv``
(epoch, train_loss, val_rel_l2, lr, seconds), ``checkpoints/last.pt`` (every epoch,
atomic), ``model.pt`` (artifact with the best-validation weights) and, with
``train.tensorboard: true``, ``tb/`` (:mod:`gnnops.training.tensorboard`). Under
``torchrun`` every rank trains, only rank 0 writes.

Progress goes to the ``gnnops.training.trainer`` logger: one INFO line per epoch (every
``train.log_every`` epochs) with train loss, validation error, epoch time and ETA, in any
output (a ``nohup`` log too); a tqdm bar per epoch only when stderr is a terminal.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml
from torch_geometric.data import Data

from gnnops._malloc import freed_memory_reused
from gnnops.errors import ConfigError
from gnnops.surrogate.artifact import save_artifact
from gnnops.surrogate.surrogate import Surrogate
from gnnops.training import distributed as D
from gnnops.training.build import build_surrogate
from gnnops.training.checkpoint import (
    load_checkpoint,
    rng_state,
    save_checkpoint,
    seed_everything,
    set_rng_state,
)
from gnnops.training.config import RunConfig, check_model_kwargs, config_to_dict
from gnnops.training.datasource import TrainingData, load_training_data
from gnnops.training.loop import lr_lambda, make_loader, plan_batches, train_epoch, validate
from gnnops.training.progress import epoch_line, read_csv, write_csv
from gnnops.training.tensorboard import open_tensorboard

__all__ = ["TrainResult", "train", "build_surrogate", "training_loss"]


def training_loss(cfg: RunConfig) -> str:
    """``train.loss``, or for ``None`` the per-sample relative L2 (the reported metric) of
    steady runs and the MSE of normalized increments of one-step (rollout) models."""
    if cfg.train.loss is not None:
        return cfg.train.loss
    return "mse" if cfg.task == "rollout" else "rel_l2"

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What a training run produced.

    Attributes:
        run_dir: the run folder.
        artifact_path: ``run_dir/model.pt``.
        metrics: best / final validation metrics and run facts.
        datasets: the ``gnnops.data`` Dataset trained from (``None`` for given lists).
        test_splits: names of the dataset's test splits.
        surrogate: the trained Surrogate (best weights, eval mode).
    """

    run_dir: Path
    artifact_path: Path
    metrics: dict[str, Any]
    datasets: Any = None
    test_splits: list[str] = field(default_factory=list)
    surrogate: Surrogate | None = None


def _split_val(src: TrainingData, cfg: RunConfig) -> None:
    if src.val:
        return
    if len(src.train) < 2:
        raise ConfigError("need at least 2 samples to hold some out for validation")
    g = torch.Generator().manual_seed(cfg.seed)
    order = torch.randperm(len(src.train), generator=g).tolist()
    n_val = max(1, int(round(cfg.data.val_fraction * len(order))))
    src.val = [src.train[i] for i in order[:n_val]]
    src.train = [src.train[i] for i in order[n_val:]]


@torch.no_grad()
def _predict_one(sur: torch.nn.Module, graph: Data, device: torch.device) -> torch.Tensor:
    from torch_geometric.data import Batch

    sur.eval()
    return sur(Batch.from_data_list([graph]).to(device)).float().cpu()


def make_adamw(params: Any, *, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """AdamW, fused (one kernel for all parameters: 0.9 vs 7.2 ms per step for the default
    Transolver on one CPU thread) where this torch build supports it, else the plain one."""
    params = list(params)
    try:
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


def train(cfg: RunConfig, *, resume: bool = False, train_data: list[Data] | None = None,
          val_data: list[Data] | None = None,
          on_epoch_end: Callable[[int, dict[str, float]], None] | None = None,
          make_surrogate: Callable[[Surrogate], Surrogate] | None = None) -> TrainResult:
    """Train a surrogate as configured and write the run folder.

    Args:
        cfg: the run config.
        resume: continue from ``checkpoints/last.pt`` of the run folder.
        train_data: raw training graphs (``x`` = raw inputs, ``y`` = targets) instead of
            ``cfg.data``; ``val_data`` likewise (default: ``data.val_fraction`` of them).
        on_epoch_end: called as ``f(epoch, row)`` after each epoch's checkpoint is written
            (0-based epoch; ``row`` as in metrics.csv). An exception it raises ends the run
            like a kill would, leaving a resumable checkpoint.
        make_surrogate: called on the built Surrogate before training; returns the module
            to train (e.g. :class:`gnnops.surrogate.stepping.RolloutSurrogate`).

    Returns:
        A :class:`TrainResult`.

    Raises:
        GnnopsError: bad config or data, or a non-finite loss (the last good checkpoint
            is kept).
    """
    info = D.setup(cfg.train.device)
    # train.reuse_memory: glibc keeps freed blocks while training, gives them back after
    memory = freed_memory_reused() if cfg.train.reuse_memory else contextlib.nullcontext()
    try:
        with memory:
            return _train(cfg, info, resume=resume, train_data=train_data,
                          val_data=val_data, on_epoch_end=on_epoch_end,
                          make_surrogate=make_surrogate)
    finally:
        D.teardown(info)


@dataclass
class _Run:
    """What a training run is set up with (fixed once the epochs start)."""

    cfg: RunConfig
    info: D.DistInfo
    cfg_dict: dict[str, Any]
    src: TrainingData
    sur: Surrogate
    net: torch.nn.Module  # ``sur``, or its DistributedDataParallel wrapper
    train_p: list[Data]
    val_p: list[Data]
    optimizer: torch.optim.Optimizer
    scheduler: Any
    problem: Any = None  # the physics problem of train.physics_weight
    writer: Any = None  # TensorBoard writer (rank 0, train.tensorboard)

    @property
    def ckpt_path(self) -> Path:
        return self.cfg.run_dir / "checkpoints" / "last.pt"


@dataclass
class _State:
    """What changes from epoch to epoch (and what a checkpoint restores)."""

    best_state: dict[str, Any]
    start: int = 0
    best: float = float("inf")
    best_epoch: int = -1
    bad: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list)
    epoch: int = -1
    train_loss: float = float("nan")
    val: float = float("nan")
    stopped_early: bool = False


def _train(cfg: RunConfig, info: D.DistInfo, *, resume: bool, train_data: list[Data] | None,
           val_data: list[Data] | None, on_epoch_end: Callable | None,
           make_surrogate: Callable | None = None) -> TrainResult:
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    check_model_kwargs(cfg.model.name, cfg.model.kwargs)
    cfg_dict = config_to_dict(cfg)
    ckpt_path = cfg.run_dir / "checkpoints" / "last.pt"
    ck = load_checkpoint(ckpt_path) if resume else None
    if ck is not None and ck.get("model_config") != cfg_dict["model"]:
        raise ConfigError(f"cannot resume '{ckpt_path}': it was trained with model "
                          f"{ck.get('model_config')}, the config asks for {cfg_dict['model']}")
    seed_everything(cfg.seed)
    run = _setup(cfg, info, cfg_dict, train_data, val_data, make_surrogate)
    state = _restore(run, ck)
    _open_outputs(run, state)
    run.problem = _physics_problem(cfg, run.src)
    show = cfg.train.progress and info.is_main and sys.stderr.isatty()
    t_start = time.perf_counter()
    for epoch in range(state.start, cfg.optim.epochs):
        row = _run_epoch(run, state, epoch, show)
        if info.is_main:
            _record_epoch(run, state, row, elapsed=time.perf_counter() - t_start)
        D.barrier(info)
        if on_epoch_end is not None:
            on_epoch_end(epoch, row)
        if cfg.optim.patience and state.bad >= cfg.optim.patience:
            state.stopped_early = True
            if info.is_main:
                log.info("stopped early after epoch %d: no better val_rel_l2 for %d epochs",
                         epoch + 1, state.bad)
            break
    return _finish(run, state, t_start)


def _setup(cfg: RunConfig, info: D.DistInfo, cfg_dict: dict[str, Any],
           train_data: list[Data] | None, val_data: list[Data] | None,
           make_surrogate: Callable | None) -> _Run:
    """Data, surrogate (on the device, DDP-wrapped when distributed), optimizer, scheduler."""
    src = load_training_data(cfg, info, train_data=train_data, val_data=val_data)
    _split_val(src, cfg)
    sur, train_p, val_p = build_surrogate(cfg, src)
    if make_surrogate is not None:
        sur = make_surrogate(sur)
    sur.to(info.device)
    net: torch.nn.Module = sur
    if info.world > 1:
        ids = [info.device.index] if info.device.type == "cuda" else None
        net = torch.nn.parallel.DistributedDataParallel(sur, device_ids=ids)
    o = cfg.optim
    optimizer = make_adamw(sur.parameters(), lr=o.lr, weight_decay=o.weight_decay)
    spe = len(plan_batches(len(train_p), cfg.data.batch_size, seed=cfg.seed, epoch=0,
                           world=info.world))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(
        scheduler=o.scheduler, epochs=o.epochs, steps_per_epoch=spe,
        warmup_epochs=o.warmup_epochs, min_lr_factor=o.min_lr_factor,
        step_epochs=o.step_epochs, gamma=o.gamma))
    return _Run(cfg=cfg, info=info, cfg_dict=cfg_dict, src=src, sur=sur, net=net,
                train_p=train_p, val_p=val_p, optimizer=optimizer, scheduler=scheduler)


def _restore(run: _Run, ck: dict[str, Any] | None) -> _State:
    """A fresh state, or the checkpoint's (weights, optimizer, scheduler and RNG restored;
    metrics.csv rows up to the checkpointed epoch kept)."""
    state = _State(best_state=copy.deepcopy(run.sur.model.state_dict()))
    if ck is not None:
        run.sur.model.load_state_dict(ck["model"])
        run.optimizer.load_state_dict(ck["optimizer"])
        run.scheduler.load_state_dict(ck["scheduler"])
        state.best_state, state.best = ck["best_model"], ck["best_val"]
        state.best_epoch, state.bad, state.start = (ck["best_epoch"], ck["bad_epochs"],
                                                    ck["epoch"] + 1)
        set_rng_state(ck["rng"])
        state.rows = [r for r in read_csv(run.cfg.run_dir / "metrics.csv")
                      if int(r["epoch"]) <= state.start]
    state.epoch = state.start - 1
    if state.rows:
        state.train_loss = float(state.rows[-1]["train_loss"])
        state.val = float(state.rows[-1]["val_rel_l2"])
    return state


def _open_outputs(run: _Run, state: _State) -> None:
    """Rank 0: the run folder, config.yaml, metrics.csv (resumed rows) and the optional
    TensorBoard writer."""
    if not run.info.is_main:
        return
    cfg, run_dir = run.cfg, run.cfg.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(run.cfg_dict, sort_keys=False))
    write_csv(run_dir / "metrics.csv", state.rows)
    run.writer = open_tensorboard(run_dir, enabled=cfg.train.tensorboard,
                                  log_every=cfg.train.log_every,
                                  image_every=cfg.train.tensorboard_image_every)


def _physics_problem(cfg: RunConfig, src: TrainingData) -> Any:
    """The problem whose residual ``train.physics_weight`` adds to the loss (or ``None``)."""
    if cfg.train.physics_weight <= 0:
        return None
    from gnnops.problems import get

    if src.problem is None:
        raise ConfigError("train.physics_weight > 0 needs a problem (data.generate.problem, "
                          "or data.problem for your own mesh files)")
    return get(src.problem, **src.problem_options)


def _run_epoch(run: _Run, state: _State, epoch: int, show: bool) -> dict[str, Any]:
    """Train one epoch, validate, track the best weights; returns the metrics.csv row."""
    cfg, info, o = run.cfg, run.info, run.cfg.optim
    t0 = time.perf_counter()
    plan = plan_batches(len(run.train_p), cfg.data.batch_size, seed=cfg.seed, epoch=epoch,
                        rank=info.rank, world=info.world)
    lr = run.optimizer.param_groups[0]["lr"]
    bar = None
    if show:
        from tqdm import tqdm

        bar = tqdm(total=len(plan), desc=f"epoch {epoch + 1}/{o.epochs}", leave=False)
    try:
        state.train_loss = train_epoch(
            run.net, run.sur, make_loader(run.train_p, plan), plan, run.optimizer,
            run.scheduler, info, bf16=cfg.train.bf16, grad_clip=o.grad_clip,
            noise_std=cfg.train.noise_std, physics_weight=cfg.train.physics_weight,
            problem=run.problem, loss=training_loss(cfg), augment=cfg.train.augment,
            augment_shift=cfg.train.augment_shift, epoch=epoch, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    state.val = validate(run.sur, run.val_p, info, batch_size=cfg.data.batch_size)
    state.epoch = epoch
    if state.val < state.best:
        state.best, state.best_epoch, state.bad = state.val, epoch, 0
        state.best_state = copy.deepcopy(run.sur.model.state_dict())
    else:
        state.bad += 1
    return {"epoch": epoch + 1, "train_loss": state.train_loss, "val_rel_l2": state.val,
            "lr": lr, "seconds": round(time.perf_counter() - t0, 4)}


def _record_epoch(run: _Run, state: _State, row: dict[str, Any], *, elapsed: float) -> None:
    """Rank 0: metrics.csv, the per-epoch log line, TensorBoard, checkpoints/last.pt."""
    cfg, sur, epoch = run.cfg, run.sur, state.epoch
    epochs = cfg.optim.epochs
    state.rows.append(row)
    write_csv(cfg.run_dir / "metrics.csv", state.rows)
    last = epoch + 1 == epochs
    if (epoch + 1) % cfg.train.log_every == 0 or last:
        log.info(epoch_line(row, epochs, elapsed=elapsed, done=epoch + 1 - state.start))
    if run.writer is not None:
        run.writer.epoch(epoch + 1, row, last=last, sample=run.val_p[0] if run.val_p else None,
                         predict=lambda g: _predict_one(sur, g, run.info.device))
    save_checkpoint(run.ckpt_path, {
        "epoch": epoch, "model": sur.model.state_dict(),
        "optimizer": run.optimizer.state_dict(), "scheduler": run.scheduler.state_dict(),
        "best_model": state.best_state, "best_val": state.best, "best_epoch": state.best_epoch,
        "bad_epochs": state.bad, "rng": rng_state(), "model_config": run.cfg_dict["model"],
    })


def _finish(run: _Run, state: _State, t_start: float) -> TrainResult:
    """Best weights back into the surrogate, the run's metrics, the artifact (rank 0)."""
    info, sur, run_dir = run.info, run.sur, run.cfg.run_dir
    if run.writer is not None:
        run.writer.close()
    sur.model.load_state_dict(state.best_state)
    sur.eval()
    metrics = {
        "best_val_rel_l2": state.best, "best_epoch": state.best_epoch + 1,
        "epochs_run": state.epoch + 1, "final_train_loss": state.train_loss,
        "final_val_rel_l2": state.val, "stopped_early": state.stopped_early,
        "world_size": info.world, "train_seconds": round(time.perf_counter() - t_start, 3),
        "n_train": len(run.train_p), "n_val": len(run.val_p),
    }
    art_path = run_dir / "model.pt"
    if info.is_main:
        art = sur.to_artifact(problem=run.src.problem, config=run.cfg_dict, metrics=metrics)
        save_artifact(art_path, art)
    D.barrier(info)
    return TrainResult(run_dir=run_dir, artifact_path=art_path, metrics=metrics,
                       datasets=run.src.dataset, test_splits=run.src.test_splits, surrogate=sur)

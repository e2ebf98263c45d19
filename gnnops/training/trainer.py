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

import copy
import csv
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

from gnnops._atomic import atomic_open
from gnnops.errors import ConfigError
from gnnops.surrogate.artifact import save_artifact
from gnnops.surrogate.normalizer import fit_normalizer
from gnnops.surrogate.recipe import make_recipe, prepare_graph
from gnnops.surrogate.surrogate import Surrogate
from gnnops.training import distributed as D
from gnnops.training.augment import check_augmentable
from gnnops.training.checkpoint import (
    load_checkpoint,
    rng_state,
    save_checkpoint,
    seed_everything,
    set_rng_state,
)
from gnnops.training.config import RunConfig, check_model_kwargs, config_to_dict
from gnnops.training.datasource import Sources, load_sources
from gnnops.training.loop import lr_lambda, make_loader, plan_batches, train_epoch, validate
from gnnops.training.tensorboard import open_tensorboard

__all__ = ["TrainResult", "train", "build_surrogate"]

CSV_FIELDS = ("epoch", "train_loss", "val_rel_l2", "lr", "seconds")

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


def build_surrogate(cfg: RunConfig, src: Sources) -> tuple[Surrogate, list[Data], list[Data]]:
    """Recipe, model, prepared graphs (once) and training-split normalizers.

    Returns:
        The surrogate and the prepared training and validation graphs.
    """
    from gnnops.models import build

    recipe = make_recipe(src.train, inputs=src.inputs, input_dims=src.input_dims,
                         targets=src.targets, target_dims=src.target_dims,
                         features=cfg.data.features, problem=src.problem, kind=src.kind)
    if cfg.train.augment:
        check_augmentable(recipe, src.problem, normalize_edges=cfg.data.normalize_edges)
    g0 = src.train[0]
    in_channels = prepare_graph(g0, recipe).x.shape[1]
    ea, pos = getattr(g0, "edge_attr", None), getattr(g0, "pos", None)
    model = build(cfg.model.name, in_channels=int(in_channels),
                  out_channels=int(sum(src.target_dims)),
                  edge_dim=0 if ea is None else int(ea.reshape(ea.shape[0], -1).shape[1]),
                  pos_dim=0 if pos is None else int(pos.shape[1]), **cfg.model.kwargs)
    train_p = [prepare_graph(g, recipe, model=model) for g in src.train]
    val_p = [prepare_graph(g, recipe, model=model) for g in src.val]
    x_norm = fit_normalizer((g.x for g in train_p), int(in_channels))
    y_norm = fit_normalizer((g.y.reshape(g.num_nodes, -1) for g in train_p),
                            int(sum(src.target_dims)))
    norms = {**x_norm.state("x"), **y_norm.state("y")}
    if cfg.data.normalize_edges and getattr(train_p[0], "edge_attr", None) is not None:
        e_dim = int(train_p[0].edge_attr.reshape(train_p[0].edge_attr.shape[0], -1).shape[1])
        norms.update(fit_normalizer((g.edge_attr for g in train_p), e_dim).state("e"))
    kwargs = model.config() if hasattr(model, "config") else dict(cfg.model.kwargs)
    sur = Surrogate(model, model_name=cfg.model.name, model_kwargs=kwargs, recipe=recipe,
                    normalizers=norms)
    return sur, train_p, val_p


def _split_val(src: Sources, cfg: RunConfig) -> None:
    if src.val:
        return
    if len(src.train) < 2:
        raise ConfigError("need at least 2 samples to hold some out for validation")
    g = torch.Generator().manual_seed(cfg.seed)
    order = torch.randperm(len(src.train), generator=g).tolist()
    n_val = max(1, int(round(cfg.data.val_fraction * len(order))))
    src.val = [src.train[i] for i in order[:n_val]]
    src.train = [src.train[i] for i in order[n_val:]]


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with atomic_open(path, newline="") as fh:  # a kill never truncates metrics.csv
        w = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        w.writeheader()
        w.writerows(rows)


def _read_csv(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _duration(seconds: float) -> str:
    s = int(round(seconds))  # m:ss, or h:mm:ss from an hour on
    if s >= 3600:
        return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
    return f"{s // 60}:{s % 60:02d}"


def epoch_line(row: dict[str, Any], epochs: int, *, elapsed: float, done: int) -> str:
    """The per-epoch log line, e.g. ``epoch 3/40 train_loss 0.0123 val_rel_l2 0.0456 ...``.

    Args:
        row: the metrics.csv row of the epoch (1-based ``epoch``).
        epochs: the configured number of epochs.
        elapsed: seconds spent on the ``done`` epochs run by this process so far.
        done: epochs run by this process so far (>= 1); the ETA assumes their mean time.
    """
    eta = elapsed / max(done, 1) * max(epochs - int(row["epoch"]), 0)
    return (f"epoch {row['epoch']}/{epochs} train_loss {row['train_loss']:.4g} "
            f"val_rel_l2 {row['val_rel_l2']:.4g} lr {row['lr']:.3g} "
            f"time {row['seconds']:.2f}s eta {_duration(eta)}")


@torch.no_grad()
def _predict_one(sur: torch.nn.Module, graph: Data, device: torch.device) -> torch.Tensor:
    from torch_geometric.data import Batch

    sur.eval()
    return sur(Batch.from_data_list([graph]).to(device)).float().cpu()


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
    try:
        return _train(cfg, info, resume=resume, train_data=train_data, val_data=val_data,
                      on_epoch_end=on_epoch_end, make_surrogate=make_surrogate)
    finally:
        D.teardown(info)


def _train(cfg: RunConfig, info: D.DistInfo, *, resume: bool, train_data: list[Data] | None,
           val_data: list[Data] | None, on_epoch_end: Callable | None,
           make_surrogate: Callable | None = None) -> TrainResult:
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    check_model_kwargs(cfg.model.name, cfg.model.kwargs)
    run_dir = cfg.run_dir
    ckpt_path = run_dir / "checkpoints" / "last.pt"
    cfg_dict = config_to_dict(cfg)
    ck = load_checkpoint(ckpt_path) if resume else None
    if ck is not None and ck.get("model_config") != cfg_dict["model"]:
        raise ConfigError(f"cannot resume '{ckpt_path}': it was trained with model "
                          f"{ck.get('model_config')}, the config asks for {cfg_dict['model']}")
    seed_everything(cfg.seed)
    src = load_sources(cfg, info, train_data=train_data, val_data=val_data)
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
    optimizer = torch.optim.AdamW(sur.parameters(), lr=o.lr, weight_decay=o.weight_decay)
    B = cfg.data.batch_size
    spe = len(plan_batches(len(train_p), B, seed=cfg.seed, epoch=0, world=info.world))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(
        scheduler=o.scheduler, epochs=o.epochs, steps_per_epoch=spe,
        warmup_epochs=o.warmup_epochs, min_lr_factor=o.min_lr_factor,
        step_epochs=o.step_epochs, gamma=o.gamma))
    start, best, best_epoch, bad = 0, float("inf"), -1, 0
    best_state = copy.deepcopy(sur.model.state_dict())
    rows: list[dict[str, Any]] = []
    if ck is not None:
        sur.model.load_state_dict(ck["model"])
        optimizer.load_state_dict(ck["optimizer"])
        scheduler.load_state_dict(ck["scheduler"])
        best_state, best = ck["best_model"], ck["best_val"]
        best_epoch, bad, start = ck["best_epoch"], ck["bad_epochs"], ck["epoch"] + 1
        set_rng_state(ck["rng"])
        rows = [r for r in _read_csv(run_dir / "metrics.csv") if int(r["epoch"]) <= start]
    writer = None
    if info.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.yaml").write_text(yaml.safe_dump(cfg_dict, sort_keys=False))
        _write_csv(run_dir / "metrics.csv", rows)
        writer = open_tensorboard(run_dir, enabled=cfg.train.tensorboard,
                                  log_every=cfg.train.log_every,
                                  image_every=cfg.train.tensorboard_image_every)
    show = cfg.train.progress and info.is_main and sys.stderr.isatty()
    problem = None
    if cfg.train.physics_weight > 0:
        from gnnops.problems import get

        if src.problem is None:
            raise ConfigError("train.physics_weight > 0 needs a problem (data.generate.problem)")
        problem = get(src.problem)
    t_start, stopped_early, epoch = time.perf_counter(), False, start - 1
    train_loss = float(rows[-1]["train_loss"]) if rows else float("nan")
    val = float(rows[-1]["val_rel_l2"]) if rows else float("nan")
    for epoch in range(start, o.epochs):
        t0 = time.perf_counter()
        plan = plan_batches(len(train_p), B, seed=cfg.seed, epoch=epoch, rank=info.rank,
                            world=info.world)
        lr = optimizer.param_groups[0]["lr"]
        bar = None
        if show:
            from tqdm import tqdm

            bar = tqdm(total=len(plan), desc=f"epoch {epoch + 1}/{o.epochs}", leave=False)
        try:
            train_loss = train_epoch(
                net, sur, make_loader(train_p, plan), plan, optimizer, scheduler, info,
                bf16=cfg.train.bf16, grad_clip=o.grad_clip, noise_std=cfg.train.noise_std,
                physics_weight=cfg.train.physics_weight, problem=problem,
                loss=cfg.train.loss, augment=cfg.train.augment,
                augment_shift=cfg.train.augment_shift, epoch=epoch,
                progress=bar)
        finally:
            if bar is not None:
                bar.close()
        val = validate(sur, val_p, info, batch_size=B)
        if val < best:
            best, best_epoch, bad = val, epoch, 0
            best_state = copy.deepcopy(sur.model.state_dict())
        else:
            bad += 1
        row = {"epoch": epoch + 1, "train_loss": train_loss, "val_rel_l2": val, "lr": lr,
               "seconds": round(time.perf_counter() - t0, 4)}
        if info.is_main:
            rows.append(row)
            _write_csv(run_dir / "metrics.csv", rows)
            last = epoch + 1 == o.epochs
            if (epoch + 1) % cfg.train.log_every == 0 or last:
                log.info(epoch_line(row, o.epochs, elapsed=time.perf_counter() - t_start,
                                    done=epoch + 1 - start))
            if writer is not None:
                writer.epoch(epoch + 1, row, last=last, sample=val_p[0] if val_p else None,
                             predict=lambda g: _predict_one(sur, g, info.device))
            save_checkpoint(ckpt_path, {
                "epoch": epoch, "model": sur.model.state_dict(),
                "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "best_model": best_state, "best_val": best, "best_epoch": best_epoch,
                "bad_epochs": bad, "rng": rng_state(), "model_config": cfg_dict["model"],
            })
        D.barrier(info)
        if on_epoch_end is not None:
            on_epoch_end(epoch, row)
        if o.patience and bad >= o.patience:
            stopped_early = True
            if info.is_main:
                log.info("stopped early after epoch %d: no better val_rel_l2 for %d epochs",
                         epoch + 1, bad)
            break
    if writer is not None:
        writer.close()
    sur.model.load_state_dict(best_state)
    sur.eval()
    metrics = {
        "best_val_rel_l2": best, "best_epoch": best_epoch + 1, "epochs_run": epoch + 1,
        "final_train_loss": train_loss, "final_val_rel_l2": val,
        "stopped_early": stopped_early, "world_size": info.world,
        "train_seconds": round(time.perf_counter() - t_start, 3),
        "n_train": len(train_p), "n_val": len(val_p),
    }
    art_path = run_dir / "model.pt"
    if info.is_main:
        art = sur.to_artifact(problem=src.problem, config=cfg_dict, metrics=metrics)
        save_artifact(art_path, art)
    D.barrier(info)
    return TrainResult(run_dir=run_dir, artifact_path=art_path, metrics=metrics,
                       datasets=src.dataset, test_splits=src.test_splits, surrogate=sur)

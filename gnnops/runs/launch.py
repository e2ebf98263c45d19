"""``train.processes: N``: ``python train.py`` runs N CPU training processes itself.

On a CPU the default run's graphs are small (~200 nodes) and a training step is bound by
per-operation overhead, not arithmetic: two threads in one process are only ~1.2x one,
while two processes of one thread each (data parallel, gloo all-reduce) are ~2x
(README, "Default run"). This module is what ``torchrun --standalone --nproc_per_node=N
train.py ...`` would do, without the user having to know it:

1. the parent generates the dataset (``data.generate``) with N worker processes, so the
   ranks find it cached;
2. it starts N ``spawn`` processes with ``RANK`` / ``WORLD_SIZE`` / ``MASTER_ADDR`` /
   ``MASTER_PORT`` set, each with ``train.threads`` threads (default: the CPUs this
   process may use divided by N); every rank trains (DDP, the same global batch and the
   same gradient as one process), rank 0 then evaluates with all the CPUs and writes;
3. it waits; when one rank fails the others are stopped, and the failure is raised here
   as one :class:`~gnnops.errors.GnnopsError` (the CLI's one stderr line and exit code).

Only on a CPU: with CUDA (``train.device`` auto on a GPU machine, or cuda) one process
trains (use ``torchrun`` with one process per GPU), and under ``torchrun`` (``WORLD_SIZE``
set) the launcher is never used.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import socket
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

from gnnops.errors import GnnopsError

__all__ = ["effective_processes", "run_processes", "RankFailed", "cpu_count"]

log = logging.getLogger(__name__)


class RankFailed(GnnopsError):
    """A training process of ``train.processes`` failed; carries its exit code."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def cpu_count() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def effective_processes(cfg: Any) -> int:
    """The ranks ``cfg`` gets: ``train.processes``, at most the CPUs this process may use
    and the global batch size (a rank needs a graph per step); 1 under ``torchrun``
    (``WORLD_SIZE`` set: it owns the ranks) and when training on CUDA."""
    want = cfg.train.processes
    if want <= 1 or "WORLD_SIZE" in os.environ:
        return 1
    from gnnops.training.distributed import resolve_device

    if resolve_device(cfg.train.device).type != "cpu":
        log.info("train.processes=%d applies to CPU training; training on the GPU in one "
                 "process (torchrun --nproc_per_node=<GPUs> for several)", want)
        return 1
    world = min(want, cpu_count(), cfg.data.batch_size)
    if world < want:
        log.info("train.processes=%d reduced to %d (%d CPU(s), batch size %d)", want, world,
                 cpu_count(), cfg.data.batch_size)
    return world


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rank_main(rank: int, world: int, port: int, cfg: Any, resume: bool, level: int,
               eval_threads: int, conn: Any) -> None:
    """One rank: join the group through the environment, run the pipeline, report back."""
    os.environ.update({"RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank),
                       "LOCAL_WORLD_SIZE": str(world), "MASTER_ADDR": "127.0.0.1",
                       "MASTER_PORT": str(port)})
    from gnnops._log import configure_logging
    from gnnops.runs.pipeline import run

    configure_logging(level)
    try:
        report = run(cfg, resume=resume, eval_threads=eval_threads)
        conn.send(("ok", str(report), 0))
    except GnnopsError as exc:
        conn.send(("error", " ".join(str(exc).split()), int(getattr(exc, "exit_code", 2))))
    except KeyboardInterrupt:
        conn.send(("interrupted", "", 130))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, then re-raised
        conn.send(("crash", f"{type(exc).__name__}: {exc}", 1))
        raise
    finally:
        conn.close()


def run_processes(cfg: Any, *, resume: bool = False, level: int = logging.INFO) -> Path:
    """Run ``cfg`` as :func:`effective_processes` CPU ranks on this machine; rank 0's report.

    Raises:
        RankFailed: a rank failed (its message and exit code; the others were stopped).
        KeyboardInterrupt: Ctrl-C / SIGTERM reached the parent (the ranks are stopped;
            the last checkpoint is intact).
    """
    world, cpus = effective_processes(cfg), cpu_count()
    if world <= 1:  # one process: this one
        from gnnops.runs.pipeline import run

        return run(cfg, resume=resume)
    if not cfg.train.threads:
        cfg.train.threads = max(1, cpus // world)
    if cfg.data.generate is not None:  # once, in parallel, before the ranks start
        from gnnops.training.datasource import generate_run_dataset

        generate_run_dataset(cfg, workers=world)
    log.info("training in %d processes x %d thread(s) (train.processes)", world,
             cfg.train.threads)
    ctx = mp.get_context("spawn")
    port = _free_port()
    procs, conns = [], []
    for rank in range(world):
        parent_end, child_end = ctx.Pipe(duplex=False)
        p = ctx.Process(target=_rank_main, name=f"gnnops-rank{rank}", daemon=False,
                        args=(rank, world, port, cfg, resume, level, cpus, child_end))
        p.start()
        child_end.close()
        procs.append(p)
        conns.append(parent_end)
    try:
        return _collect(procs, conns)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(timeout=30)


def _collect(procs: list, conns: list) -> Path:
    """Wait for every rank; the first failure stops the others and is raised."""
    results: dict[int, tuple[str, str, int]] = {}
    pending = {p.sentinel: r for r, p in enumerate(procs)}
    while pending:
        for sentinel in wait(list(pending)):
            rank = pending.pop(sentinel)
            procs[rank].join()
            msg = conns[rank].recv() if conns[rank].poll() else None
            if msg is None:
                msg = ("crash", f"exited with code {procs[rank].exitcode}", 1)
            results[rank] = msg
            if msg[0] == "interrupted":
                raise KeyboardInterrupt
            if msg[0] != "ok":
                raise RankFailed(msg[1] if msg[0] == "error"
                                 else f"training process {rank} failed: {msg[1]}", msg[2])
    return Path(results[0][1])

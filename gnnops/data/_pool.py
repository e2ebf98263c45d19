"""Run the samples of a generation: inline, or in a bounded pool of worker processes.

At most ``2 * workers`` samples are in flight; results are yielded as they finish (the
caller records them), a tqdm bar shows progress on a terminal only, and an error names
the sample's file. One sample per mesh (geometry, resolution, variant) runs inline first
so that the per-mesh caches it builds are inherited by the forked workers.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any

from gnnops.data import _worker as W
from gnnops.errors import GnnopsError

__all__ = ["execute_tasks"]


def execute_tasks(ctx: W.Context, todo: list[W.Task], *, workers: int, progress: bool,
                  total: int) -> Iterator[dict[str, Any]]:
    """Yield the result of every task in ``todo`` (inline or in a bounded process pool)."""
    from tqdm import tqdm

    show = progress and sys.stderr.isatty()  # no bar in a log file / pipe
    bar = tqdm(total=total, initial=total - len(todo), disable=not show,
               desc=f"generate {ctx.problem.name}", unit="sample")
    try:
        if workers == 1 or len(todo) <= 1:
            W.init_context(ctx)
            for t in todo:
                yield _guard(t, W.run_task)
                bar.update()
            return
        # one sample per resolution inline first: the per-mesh caches it builds (FEM
        # assembly structures on the mesh handle) are then inherited by forked workers
        W.init_context(ctx)
        first = {W.mesh_key(t): t for t in reversed(todo)}
        for t in sorted(first.values(), key=todo.index):
            yield _guard(t, W.run_task)
            bar.update()
        warm = set(first.values())
        it = iter([t for t in todo if t not in warm])
        with ProcessPoolExecutor(max_workers=workers, initializer=W.init_context,
                                 initargs=(ctx,)) as ex:
            pending = {ex.submit(W.run_task, t): t for t in _take(it, 2 * workers)}
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    task = pending.pop(fut)
                    try:
                        out = _guard(task, lambda _t, f=fut: f.result())
                    except BaseException:
                        for f in pending:
                            f.cancel()
                        raise
                    yield out
                    bar.update()
                    for t in _take(it, 1):
                        pending[ex.submit(W.run_task, t)] = t
    finally:
        bar.close()


def _take(it: Any, n: int) -> list[W.Task]:
    out = []
    for _ in range(n):
        t = next(it, None)
        if t is None:
            break
        out.append(t)
    return out


def _guard(task: W.Task, fn: Any) -> dict[str, Any]:
    try:
        return fn(task)
    except GnnopsError as exc:
        raise type(exc)(f"while generating '{task.file}': {exc}") from exc

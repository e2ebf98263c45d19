"""Run a function over many items in a thread pool, capturing errors per item."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["BatchResult", "run_pool", "torch_threads", "error_message", "stop_on_signals",
           "signal_exit_code"]


@dataclass
class BatchResult:
    """The outcome of one item of a batch.

    Attributes:
        index: position of the item in the input sequence.
        source: the item (a path, usually).
        status: ``"ok"`` or ``"error"`` (the CLI adds ``"skipped"``).
        value: the function's return value (a ``Prediction`` for ``predict_many``).
        error: ``"<ExceptionType>: <message>"`` when it failed.
        seconds: wall time of the item.
    """

    index: int
    source: Any
    status: str
    value: Any = None
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether the item succeeded."""
        return self.status == "ok"


def error_message(exc: BaseException) -> str:
    """One-line ``"Type: message"`` of an exception."""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


@contextmanager
def torch_threads(workers: int) -> Iterator[None]:
    """Split torch's intra-op threads between ``workers`` for the duration."""
    before = torch.get_num_threads()
    if workers > 1:
        torch.set_num_threads(max(1, before // workers))
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def stop_on_signals(stop: threading.Event,
                    signums: Sequence[int] = (signal.SIGINT, signal.SIGTERM)
                    ) -> Iterator[dict[str, int | None]]:
    """The first SIGINT (Ctrl-C) or SIGTERM (what batch schedulers send) sets ``stop``: the
    running items finish, no new one starts. A second signal raises ``KeyboardInterrupt``.

    Yields:
        ``{"signal": None}``, set to the number of the first signal received. Outside the
        main thread (no handler can be installed) nothing is caught.
    """
    got: dict[str, int | None] = {"signal": None}
    if threading.current_thread() is not threading.main_thread():
        yield got
        return

    def handler(signum: int, frame: Any) -> None:
        if got["signal"] is not None:
            raise KeyboardInterrupt
        got["signal"] = signum
        stop.set()

    previous = {s: signal.signal(s, handler) for s in signums}
    try:
        yield got
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def signal_exit_code(signum: int | None) -> int:
    """``128 + signum``: 130 after SIGINT, 143 after SIGTERM (what shells report)."""
    return 128 + int(signum if signum is not None else signal.SIGINT)


def _call(fn: Callable[[Any], Any], index: int, item: Any) -> BatchResult:
    t0 = time.perf_counter()
    try:
        value = fn(item)
    except Exception as exc:  # noqa: BLE001 -- a batch reports every failure per item
        return BatchResult(index, item, "error", error=error_message(exc),
                           seconds=time.perf_counter() - t0)
    return BatchResult(index, item, "ok", value=value, seconds=time.perf_counter() - t0)


def run_pool(fn: Callable[[Any], Any], items: Sequence[Any], *, workers: int = 1,
             stop: threading.Event | None = None) -> Iterator[BatchResult]:
    """Apply ``fn`` to every item; yield results as they finish.

    Streaming: at most ``2 * workers`` items are in flight, so results (and their memory)
    are released as the consumer iterates; items are taken from ``items`` lazily.

    Args:
        fn: the work for one item.
        items: the items.
        workers: threads (1: in the calling thread, in order).
        stop: when set (e.g. by a SIGINT handler), no new item is started; the items
            already running finish and are yielded, then the iteration ends. The caller
            tells the unstarted items by their missing results.
    """
    workers = max(1, int(workers))
    halt = stop if stop is not None else threading.Event()
    if workers == 1:
        for i, item in enumerate(items):
            if halt.is_set():
                return
            yield _call(fn, i, item)
        return
    with torch_threads(workers):
        pool = ThreadPoolExecutor(max_workers=workers)
        pending: set[Future] = set()
        it = iter(enumerate(items))
        try:
            while len(pending) < 2 * workers and not halt.is_set():
                nxt = next(it, None)
                if nxt is None:
                    break
                pending.add(pool.submit(_call, fn, *nxt))
            while pending:
                if halt.is_set():  # drop queued items that have not started
                    pending = {f for f in pending if not f.cancel()}
                    if not pending:
                        break
                done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                for fut in done:
                    if fut.cancelled():
                        continue
                    yield fut.result()
                    nxt = None if halt.is_set() else next(it, None)
                    if nxt is not None:
                        pending.add(pool.submit(_call, fn, *nxt))
        finally:
            # an abandoned iteration (exception in the consumer, hard Ctrl-C) starts nothing
            # new; items already running finish (their writes are atomic)
            pool.shutdown(wait=True, cancel_futures=True)

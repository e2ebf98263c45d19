"""Thread-pool batches (inference/batch.py): every item once, errors captured per item,
bounded in-flight items, stop event, torch thread split."""

from __future__ import annotations

import threading
import time

import pytest
import torch

from gnnops.inference.batch import BatchResult, error_message, run_pool, torch_threads


def _square_or_fail(x: int) -> int:
    if x % 3 == 2:
        raise ValueError(f"bad item\n  {x}")
    return x * x


@pytest.mark.parametrize("workers", [1, 3])
def test_every_item_once_with_values_and_errors(workers):
    results = list(run_pool(_square_or_fail, list(range(10)), workers=workers))
    by_index = {r.index: r for r in results}
    assert sorted(by_index) == list(range(10)) and len(results) == 10
    for i, r in by_index.items():
        assert r.source == i and r.seconds >= 0
        if i % 3 == 2:
            assert not r.ok and r.status == "error" and r.value is None
            assert r.error == f"ValueError: bad item {i}"  # one line
        else:
            assert r.ok and r.value == i * i and r.error is None
    if workers == 1:
        assert [r.index for r in results] == list(range(10))  # in order, in this thread


def test_at_most_twice_the_workers_in_flight():
    started, running, peak = [], [0], [0]
    lock = threading.Lock()

    def work(x: int) -> int:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.01)
        with lock:
            running[0] -= 1
        return x

    consumed = 0
    items = iter(range(40))

    class Lazy:  # a sequence that records how far run_pool has read it
        def __iter__(self):
            for x in items:
                started.append(x)
                yield x

    for _ in run_pool(work, Lazy(), workers=2):
        consumed += 1
        assert len(started) <= consumed + 4  # 2 * workers ahead of the consumer at most
    assert consumed == 40 and peak[0] <= 2


def test_stop_event_starts_nothing_new():
    stop = threading.Event()
    seen = []
    for r in run_pool(lambda x: x, list(range(10)), workers=1, stop=stop):
        seen.append(r.index)
        if r.index == 2:
            stop.set()
    assert seen == [0, 1, 2]
    stop2 = threading.Event()
    got = []
    for r in run_pool(lambda x: time.sleep(0.01) or x, list(range(50)), workers=2, stop=stop2):
        got.append(r.index)
        stop2.set()
    assert 1 <= len(got) <= 4 and len(set(got)) == len(got)  # the in-flight ones finish


def test_torch_threads_splits_and_restores():
    before = torch.get_num_threads()
    torch.set_num_threads(4)
    try:
        with torch_threads(2):
            assert torch.get_num_threads() == 2
        assert torch.get_num_threads() == 4
        with torch_threads(1):
            assert torch.get_num_threads() == 4
        with torch_threads(8):
            assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_error_message_and_result():
    assert error_message(KeyError("x")) == "KeyError: 'x'"
    assert error_message(RuntimeError("a\n\tb  c")) == "RuntimeError: a b c"
    assert BatchResult(0, "p", "skipped").ok is False

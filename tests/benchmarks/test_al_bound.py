"""benchmarks/al_bound.py: the allocation bound against its closed forms."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import numpy as np
import pytest

_DIR = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(_DIR))  # al_bound imports its sibling active_learning
spec = importlib.util.spec_from_file_location("al_bound", _DIR / "al_bound.py")
bench = importlib.util.module_from_spec(spec)
sys.modules["al_bound"] = bench
spec.loader.exec_module(bench)


def test_equal_errors_leave_nothing_to_gain_and_scale_does_not_matter() -> None:
    assert bench.allocation_bound(np.full(50, 0.2), 0.4) == pytest.approx(1.0)
    c = np.random.default_rng(0).lognormal(0.0, 0.7, 200)
    assert bench.allocation_bound(3.0 * c, 0.4) == pytest.approx(bench.allocation_bound(c, 0.4))


def test_two_groups_match_the_optimal_split_by_hand() -> None:
    # half the cases with error 1, half with 3; alpha 0.4: the best split of N solves
    # puts n_i ~ c_i^(1/1.4) on each half; its error relative to an even split
    alpha, c = 0.4, np.array([1.0, 3.0])
    share = c ** (1 / 1.4) / (c ** (1 / 1.4)).sum()  # of the solves, per half
    best = np.mean(c * (2 * share) ** -alpha)  # an even split has 2 * share = 1
    assert bench.allocation_bound(c, alpha) == pytest.approx(best / c.mean(), rel=1e-12)
    # and no other split does better
    for s in np.linspace(0.05, 0.95, 19):
        other = np.mean(c * (2 * np.array([s, 1 - s])) ** -alpha)
        assert other >= best - 1e-12


def test_lognormal_errors_give_the_closed_form() -> None:
    sigma, alpha = 0.8, 0.4
    c = np.random.default_rng(1).lognormal(-1.5, sigma, 400_000)
    want = np.exp(-sigma**2 * alpha / (2 * (1 + alpha)))
    assert bench.allocation_bound(c, alpha) == pytest.approx(want, rel=3e-3)


def test_alpha_fit_recovers_a_power_law_and_the_table_prints_it() -> None:
    n = np.array([16.0, 32, 48, 64, 80])
    assert bench.fit_alpha(n, 2.0 * n**-0.4) == pytest.approx(0.4)
    rng = np.random.default_rng(2)
    runs = {s: [{"n_train": int(k), "errors": list(k**-0.4 * rng.lognormal(0, 0.5, 30))}
                for k in n] for s in (0, 1)}
    text = "\n".join(bench.bound_table(runs))
    alpha = float(re.search(r"alpha = ([0-9.]+)", text).group(1))
    assert abs(alpha - 0.4) < 0.15  # 30 noisy cases per round and seed
    last = re.search(r"ratio\* at the last round per seed: 0: ([0-9.]+), 1: ([0-9.]+)", text)
    # sigma 0.5: exp(-0.25 * alpha / (2 (1 + alpha))), about 0.96 - 0.97
    assert all(0.9 < float(v) < 1.0 for v in last.groups())

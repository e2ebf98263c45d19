"""Residual-driven active learning (gnnops.runs.active, gnnops.runs.active_cli)."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch

from gnnops.cli import main as gnnops_main
from gnnops.errors import ConfigError
from gnnops.runs.active import (
    ActiveConfig,
    Oracle,
    draw_candidates,
    run_active,
    select_proportional,
    select_random,
    select_top,
    weighted_cycle,
)
from gnnops.runs.active_cli import load_active_config
from gnnops.training.config import config_from_dict

GEOS = ["unit_square", "l_shape"]


def _cfg(tmp_path, seed: int = 0, name: str = "al"):
    return config_from_dict({
        "name": name, "out_dir": str(tmp_path), "seed": seed,
        "data": {"generate": {"problem": "darcy", "geometries": GEOS,
                              "test_geometries": ["plate_with_hole"], "resolutions": [0.2]},
                 "batch_size": 4},
        "model": {"name": "gno", "kwargs": {"width": 8, "depth": 1, "radius": 0.3,
                                            "kernel_hidden": 8, "train_neighbors": 8}},
        "optim": {"epochs": 1}, "train": {"progress": False, "threads": 1},
        "eval": {"plots": False}})


def _active(**kw):
    base = {"initial": 3, "rounds": 2, "per_round": 2, "pool_size": 9, "test_size": 2}
    return ActiveConfig.from_dict({**base, **kw})


class CountingProblem:
    """Wraps a problem and counts its solve calls."""

    def __init__(self, problem):
        self.inner, self.solves = problem, 0

    def solve(self, *a, **kw):
        self.solves += 1
        return self.inner.solve(*a, **kw)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_select_top_picks_the_largest_estimates() -> None:
    scores = np.array([0.1, 0.5, np.nan, 0.3, 0.9, 0.2])
    geos = ["a"] * 6
    assert select_top(scores, geos, 3) == [2, 4, 1]  # NaN (failed estimate) first
    assert select_top(scores, geos, 1) == [2]


def test_select_top_diversity_guard() -> None:
    scores = np.array([0.9, 0.8, 0.7, 0.1, 0.05])
    geos = ["a", "a", "a", "b", "b"]
    assert select_top(scores, geos, 2, max_share=0.5) == [0, 3]
    # too few of the others: the cap gives way to the next largest
    assert sorted(select_top(scores, geos, 4, max_share=0.5)) == [0, 1, 3, 4]
    assert select_top(scores, ["a", "a", "a", "a", "a"], 3, max_share=0.34) == [0, 1, 2]


def test_proportional_selection_follows_the_weights() -> None:
    scores = np.array([0.1, 0.1, 0.4, 0.8, np.nan])  # NaN counts as the largest (0.8)
    geos = ["a", "b", "c", "d", "e"]
    rng = np.random.default_rng(0)
    # one draw at a time: P(i) = (s_i / mean(s) + floor) / sum (mean 0.44)
    for floor in (0.0, 1.0):
        counts = np.bincount([select_proportional(scores, geos, 1, rng, floor=floor)[0]
                              for _ in range(6000)], minlength=5) / 6000
        w = np.array([0.1, 0.1, 0.4, 0.8, 0.8]) / 0.44 + floor
        np.testing.assert_allclose(counts, w / w.sum(), atol=0.02)
    picks = select_proportional(scores, geos, 5, rng)
    assert sorted(picks) == [0, 1, 2, 3, 4]  # without replacement
    # the per-geometry cap holds as for select_top
    for _ in range(50):
        two = select_proportional(np.array([1.0, 1.0, 0.01]), ["a", "a", "b"], 2,
                                  rng, floor=0.0, max_share=0.5)
        assert sorted(two) in ([0, 2], [1, 2])
    with pytest.raises(ConfigError, match="active.floor"):
        ActiveConfig(floor=-1.0).validate()


def test_pool_weights_repeat_geometries_in_the_cycle() -> None:
    assert weighted_cycle(["a", "b", "c"], {"a": 3, "c": 0}) == ["a", "a", "a", "b"]
    assert weighted_cycle(["a", "b"], None) == ["a", "b"]
    with pytest.raises(ConfigError, match=r"names \['z'\]"):
        weighted_cycle(["a", "b"], {"z": 2})
    with pytest.raises(ConfigError, match="leaves no geometry"):
        weighted_cycle(["a"], {"a": 0})
    with pytest.raises(ConfigError, match="pool_weights.a' expects a count >= 0"):
        ActiveConfig.from_dict({"pool_weights": {"a": -1}})


def test_random_selection_is_reproducible_by_seed() -> None:
    pick = [select_random(list(range(20)), 5, np.random.default_rng([s, 12])) for s in (3, 3, 4)]
    assert pick[0] == pick[1] and pick[0] != pick[2]
    assert len(set(pick[0])) == 5


def test_candidates_are_reproducible_and_cycle_geometries(tmp_path) -> None:
    from gnnops.problems import get

    spec = _cfg(tmp_path).data.generate
    a, b = (draw_candidates(Oracle(get("darcy"), spec), 4, seed=7, split=10, geometries=GEOS)
            for _ in range(2))
    assert [c.geometry for c in a] == GEOS * 2
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.inputs["a"], y.inputs["a"])
    assert not np.array_equal(a[0].inputs["a"], a[2].inputs["a"])


def test_pool_options_change_the_pool_inputs_only(tmp_path) -> None:
    from gnnops.problems import get
    from gnnops.runs.active_pool import probe_pool_options

    oracle = Oracle(get("darcy"), _cfg(tmp_path).data.generate)
    opts = {"a_pos": {"mixture": [[0.75, 4.0], [0.25, {"uniform": [50.0, 60.0]}]]}}
    pool = draw_candidates(oracle, 40, seed=1, split=10, geometries=GEOS, options=opts)
    highs = np.array([c.inputs["a"].max() for c in pool])
    assert set(np.round(highs[highs < 10], 6)) == {4.0}  # the fixed component
    assert np.all((highs[highs >= 10] >= 50.0) & (highs[highs >= 10] <= 60.0))
    assert 4 <= np.sum(highs >= 10) <= 18  # about a quarter of 40
    base = draw_candidates(oracle, 4, seed=1, split=10, geometries=GEOS)
    assert {round(float(c.inputs["a"].max()), 6) for c in base} == {12.0}  # darcy default
    with pytest.raises(ConfigError, match="active.pool_options.a_pos.mixture"):
        ActiveConfig.from_dict({"pool_options": {"a_pos": {"mixture": [[0, 4.0]]}}})
    with pytest.raises(ConfigError, match="active.pool_options.*unknown darcy input kind"):
        probe_pool_options(oracle.problem, {"kind": {"choice": ["fno", "nope"]}})


def test_config_checks() -> None:
    with pytest.raises(ConfigError, match="did you mean 'per_round'"):
        ActiveConfig.from_dict({"per_rund": 3})
    with pytest.raises(ConfigError, match="active.pool_size.*at least .* = 20"):
        ActiveConfig.from_dict({"initial": 4, "rounds": 2, "per_round": 8, "pool_size": 10})
    with pytest.raises(ConfigError, match="active.strategy"):
        ActiveConfig.from_dict({"strategy": "greedy"})
    assert ActiveConfig.from_dict({"initial": 4, "rounds": 3, "per_round": 5}).budget == 19


def test_loop_spends_exactly_the_budget(tmp_path) -> None:
    """End to end (estimate strategy): solver calls are initial + rounds * per_round; the
    test set's solves are not counted; each round's row and the history are written."""
    torch.set_num_threads(1)
    from gnnops.problems import get

    cfg, active = _cfg(tmp_path), _active()
    problem = CountingProblem(get("darcy"))
    oracle = Oracle(problem, cfg.data.generate)
    t0 = time.perf_counter()
    res = run_active(cfg, active, oracle=oracle)
    assert time.perf_counter() - t0 < 20
    assert res.solver_calls == oracle.calls == active.budget == 7
    assert problem.solves == active.budget + active.test_size
    assert [r["solver_calls"] for r in res.rows] == [3, 5, 7]
    assert len(set(res.solved)) == 7
    assert all(np.isfinite(r["test_rel_l2"]) for r in res.rows)
    assert res.rows[1]["picked_score"] >= res.rows[1]["pool_score"]  # the top of the pool
    doc = json.loads((cfg.run_dir / "active.json").read_text())
    assert doc["solver_calls"] == 7 and (cfg.run_dir / "round_02" / "model.pt").is_file()


def test_random_baseline_same_seed_same_picks(tmp_path) -> None:
    torch.set_num_threads(1)
    a = run_active(_cfg(tmp_path, name="r1"), _active(strategy="random", test_size=0))
    b = run_active(_cfg(tmp_path, name="r2"), _active(strategy="random", test_size=0))
    c = run_active(_cfg(tmp_path, seed=5, name="r3"), _active(strategy="random", test_size=0))
    assert a.solved == b.solved and a.solved != c.solved
    e = run_active(_cfg(tmp_path, name="e1"), _active(rounds=0, test_size=0))
    assert e.solved == a.solved[:3]  # the same initial seed set as the estimate strategy


def test_cli_config_section_and_usage_errors(tmp_path, capsys) -> None:
    path = tmp_path / "al.yaml"
    path.write_text("data:\n  generate:\n    problem: darcy\n    geometries: [unit_square]\n"
                    "active:\n  strategy: random\n  initial: 2\n  rounds: 1\n  per_round: 1\n"
                    "  pool_size: 5\n")
    cfg, active = load_active_config(str(path), ["active.rounds=2", "optim.epochs=1"])
    assert (active.strategy, active.rounds, cfg.optim.epochs) == ("random", 2, 1)
    path.write_text("active:\n  rouns: 2\n")
    assert gnnops_main(["active", "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "did you mean 'rounds'" in err


def test_cli_runs_the_loop(tmp_path, capsys) -> None:
    torch.set_num_threads(1)
    path = tmp_path / "al.yaml"
    path.write_text(
        f"name: cli\nout_dir: {tmp_path}\n"
        "data:\n  generate:\n    problem: darcy\n    geometries: [unit_square, l_shape]\n"
        "    resolutions: [0.2]\n"
        "model:\n  name: gno\n  kwargs: {width: 8, depth: 1, radius: 0.3, kernel_hidden: 8}\n"
        "optim:\n  epochs: 1\ntrain:\n  progress: false\n"
        "active:\n  initial: 2\n  rounds: 1\n  per_round: 1\n  pool_size: 4\n  test_size: 1\n")
    assert gnnops_main(["active", "--config", str(path), "-q"]) == 0
    out = capsys.readouterr().out
    assert "round 1: 3 solver calls, test rel L2" in out
    assert json.loads((tmp_path / "cli" / "active.json").read_text())["solver_calls"] == 3


def test_shipped_active_config_draws_a_varied_pool() -> None:
    from pathlib import Path

    from gnnops.problems import get

    path = Path(__file__).resolve().parents[2] / "configs" / "darcy_active.yaml"
    cfg, active = load_active_config(str(path))
    assert active.selection == "proportional" and active.budget == 80
    spec = cfg.data.generate
    spec.check_problem()
    oracle = Oracle(get(spec.problem), spec)
    cands = draw_candidates(oracle, 6, seed=0, split=10, geometries=["l_shape"])
    highs = [float(np.max(c.inputs["a"])) for c in cands]
    assert all(4.0 <= a <= 100.0 for a in highs) and len(set(highs)) == 6

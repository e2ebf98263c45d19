"""Residual-driven active learning: solve next what the current model gets most wrong.

From a pool of *unsolved* candidates (inputs drawn by the problem's random input generator
on the spec's geometries, ``data.generate.geometries``, at its training resolution), the
loop

1. solves ``initial`` candidates drawn at random and trains a model on them;
2. predicts every unsolved candidate and scores it by the a-posteriori error estimate of
   the prediction (:mod:`gnnops.problems.estimators` through ``Prediction.error_estimate``
   -- the equations judge the prediction; the candidate's solution is never computed);
3. solves the ``per_round`` highest scores (``strategy: estimate``; at most ``max_share``
   of a round from one geometry) or ``per_round`` random ones (``strategy: random``, the
   baseline: the same seed set, the same budget), adds them and retrains;

until ``rounds`` rounds are done: exactly ``initial + rounds * per_round`` solver calls
(:attr:`Oracle.calls`). A solve is the problem's own solve on the candidate's mesh, or,
with ``data.generate.reference_resolution``, a solve on a finer reference mesh transferred
by P1 interpolation (the expensive case active learning is for: scoring costs a coarse
AMG-CG solve, training data a fine one). With ``test_size`` > 0 a separately drawn test
set (training and held-out ``test_geometries``) is solved outside the budget and the
lumped-mass relative L2 error of every round's model on it is recorded.

The run config's ``data.generate`` defines the problem, its options, geometries and mesh
size; its ``n_train`` / ``n_val`` / ``n_test`` are not used (the ``active`` section sets
the budget). Round ``r`` trains into ``run_dir/round_<r>/``; ``run_dir/active.json`` holds
the history.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from gnnops._atomic import atomic_open
from gnnops._typed import build_dataclass
from gnnops.data.ranges import check_ranges
from gnnops.errors import ConfigError
from gnnops.runs.active_pool import Candidate, Oracle, draw_candidates, probe_pool_options
from gnnops.runs.active_select import (
    select_proportional,
    select_random,
    select_top,
    weighted_cycle,
)

__all__ = ["ActiveConfig", "Candidate", "Oracle", "ActiveResult", "draw_candidates",
           "weighted_cycle",
           "select_top", "select_proportional", "select_random", "score_candidates",
           "test_error", "test_errors", "run_active"]

log = logging.getLogger(__name__)

POOL_SPLIT, TEST_SPLIT = 10, 11  # mixed into the input seeds; datasets use 0, 1, 2


@dataclass
class ActiveConfig:
    """The ``active`` section of a run config (see the module docstring).

    Attributes:
        strategy: ``estimate`` (largest error estimate first) or ``random`` (the baseline).
        initial: candidates solved at random before the first training.
        rounds: select / solve / retrain rounds after the first training.
        per_round: candidates solved per round.
        pool_size: unsolved candidates to choose from (>= the solver budget).
        pool_weights: geometry -> relative count in the pool (others: 1), for a pool that
            is not spread evenly (e.g. ``{unit_square: 15}``: a sweep of the base design
            with a few variants); the test set stays even over all geometries.
        pool_options: ``problem_options`` of the pool's inputs only (overriding
            ``data.generate.problem_options`` key by key; ranges as there, e.g. a
            ``mixture``): candidates that are not spread like the use the test set
            stands for, e.g. mostly a cheap base design with a few hard variants.
        score: ``total`` (``error_estimate``) or ``algebraic`` (its part against this
            mesh's discrete solution, blind to the mesh's own error).
        selection: ``top`` (the ``per_round`` largest scores) or ``proportional`` (drawn
            without replacement with probability ``∝ score / mean(score) + floor``: the
            residual-based adaptive distribution of Wu et al. 2023, which hedges the
            greedy pick against outliers the model cannot learn from a few solves).
        floor: the uniform share ``c`` of ``proportional`` (0: purely by the estimate).
        max_share: most of one round's picks from one geometry (1 = no diversity guard;
            pure top-k put whole rounds on one geometry in benchmarks/active_learning.py
            and lost to random selection, 0.25 of 6 geometries did not).
        test_size: solved test samples (outside the budget) for the error curve; 0 = none.
        warm_start: each round starts from the previous round's weights.
        seed: seed of the pool, the random picks and the test set (None: the run's seed).
    """

    strategy: Literal["estimate", "random"] = "estimate"
    initial: int = 8
    rounds: int = 4
    per_round: int = 8
    pool_size: int = 200
    pool_weights: dict[str, int] = field(default_factory=dict)
    pool_options: dict[str, Any] = field(default_factory=dict)
    score: Literal["total", "algebraic"] = "total"
    selection: Literal["top", "proportional"] = "top"
    floor: float = 1.0
    max_share: float = 1.0
    test_size: int = 0
    warm_start: bool = False
    seed: int | None = None

    @classmethod
    def from_dict(cls, d: Any, *, where: str = "active") -> ActiveConfig:
        """Build and validate (unknown keys: ConfigError with "did you mean")."""
        return build_dataclass(cls, d, where)

    @property
    def budget(self) -> int:
        """Solver calls of the whole loop: ``initial + rounds * per_round``."""
        return self.initial + self.rounds * self.per_round

    def validate(self, *, where: str = "active") -> None:
        """Value checks; ConfigError naming the key."""
        def bad(key: str, want: str) -> ConfigError:
            return ConfigError(f"config key '{where}.{key}' expects {want}, "
                               f"got {getattr(self, key)!r}")

        if self.initial < 2:
            raise bad("initial", "at least 2 (one is held out for validation)")
        for key in ("rounds", "per_round", "test_size"):
            if getattr(self, key) < 0:
                raise bad(key, "a count >= 0")
        if self.pool_size < self.budget:
            raise bad("pool_size", f"at least initial + rounds * per_round = {self.budget}")
        if not 0 < self.max_share <= 1:
            raise bad("max_share", "a share in (0, 1]")
        if not (math.isfinite(self.floor) and self.floor >= 0):
            raise bad("floor", "a number >= 0")
        check_ranges(self.pool_options, where=f"{where}.pool_options")
        for geo, w in self.pool_weights.items():  # int-ness: the shared validator
            if w < 0:
                raise ConfigError(f"config key '{where}.pool_weights.{geo}' expects a count "
                                  f">= 0, got {w!r}")


def _stack(fields: dict[str, np.ndarray], names: list[str], n: int) -> torch.Tensor:
    cols = [np.asarray(fields[k], dtype=np.float64).reshape(n, -1) for k in names]
    return torch.from_numpy(np.hstack(cols).astype(np.float32))


def to_graph(oracle: Oracle, cand: Candidate, inputs: list[str],
             targets: list[str] | None = None) -> Any:
    """The candidate as a raw ``Data`` (``x`` the inputs, ``y`` the targets when given)."""
    data = copy.copy(oracle.graph(cand.geometry))
    n = int(data.num_nodes)
    data.x = _stack(cand.inputs, inputs, n)
    if targets is not None:
        if cand.targets is None:
            raise ConfigError(f"candidate {cand.index} is not solved")
        data.y = _stack(cand.targets, targets, n)
    return data


def score_candidates(predictor: Any, oracle: Oracle, cands: list[Candidate],
                     score: str = "total") -> np.ndarray:
    """[len(cands)] estimated relative L2 error of the predictions (no solve).

    Raises:
        ConfigError: the problem has no error estimate.
    """
    out = np.empty(len(cands))
    for j, cand in enumerate(cands):
        pred = predictor.predict(to_graph(oracle, cand, predictor.inputs))
        value = pred.error_estimate if score == "total" else pred.error_algebraic
        if value is None and not any(f.startswith("estimate_unavailable") for f in pred.flags):
            raise ConfigError(f"active.strategy 'estimate' needs a problem with an error "
                              f"estimate; problem {predictor.problem_name!r} has none")
        out[j] = np.nan if value is None else float(value)
    return out


def test_errors(predictor: Any, oracle: Oracle, tests: list[Candidate]) -> np.ndarray:
    """[len(tests)] lumped-mass relative L2 errors ``||pred - u||_M / ||u||_M`` of the
    predictions of the solved ``tests``."""
    from gnnops.evaluation.metrics import relative_l2
    from gnnops.problems.estimators import lumped_mass

    errs = []
    for cand in tests:
        pred = predictor.predict(to_graph(oracle, cand, predictor.inputs), residual=False)
        n = len(oracle.mesh(cand.geometry)[0].points)
        p = np.hstack([np.asarray(pred.fields[k]).reshape(n, -1) for k in predictor.targets])
        t = np.hstack([np.asarray(cand.targets[k]).reshape(n, -1) for k in predictor.targets])
        m = lumped_mass(oracle.mesh(cand.geometry)[1])
        errs.append(relative_l2(p, t, m))
    return np.asarray(errs, dtype=float)


def test_error(predictor: Any, oracle: Oracle, tests: list[Candidate]) -> float:
    """Mean of :func:`test_errors`."""
    return float(np.mean(test_errors(predictor, oracle, tests)))


@dataclass
class ActiveResult:
    """What the loop did: per-round rows (``round``, ``solver_calls``, ``n_train``,
    ``test_rel_l2``, ``picked_score``, ``pool_score``, ``picked_geometries``), the
    solved pool indices in order, the solver calls and the last round's artifact."""

    rows: list[dict[str, Any]]
    solved: list[int]
    solver_calls: int
    artifact_path: Path


def run_active(cfg: Any, active: ActiveConfig, *, oracle: Oracle | None = None) -> ActiveResult:
    """Run the loop of the module docstring for the steady run config ``cfg``.

    Raises:
        ConfigError: no ``data.generate`` (it defines the pool), a rollout config, or a
            problem without an error estimate for ``strategy: estimate``.
    """
    from gnnops.problems import get

    spec = cfg.data.generate
    if spec is None or cfg.task != "steady":
        raise ConfigError("active learning needs task: steady and data.generate (the problem, "
                          "geometries and mesh size of the pool)")
    seed = cfg.seed if active.seed is None else active.seed
    oracle = oracle or Oracle(get(spec.problem, **spec.solver_options), spec)
    probe_pool_options(oracle.problem, {**spec.problem_options, **active.pool_options})
    pool = draw_candidates(oracle, active.pool_size, seed=seed, split=POOL_SPLIT,
                           geometries=weighted_cycle(spec.train_geometries(),
                                                     active.pool_weights),
                           options=active.pool_options)
    tests = draw_candidates(oracle, active.test_size, seed=seed, split=TEST_SPLIT,
                            geometries=spec.train_geometries() + list(spec.test_geometries))
    for cand in tests:  # outside the budget
        oracle.solve(cand)
    oracle.calls = 0
    rng = np.random.default_rng([seed, 12])
    solved = select_random(list(range(len(pool))), active.initial, rng)
    rows: list[dict[str, Any]] = []
    state = predictor = None
    for r in range(active.rounds + 1):
        if r > 0:
            new, info = _pick(active, predictor, oracle, pool, solved, rng)
            solved += new
        else:
            new, info = solved, {}
        for i in new:
            oracle.solve(pool[i])
        result = _train_round(cfg, oracle, [pool[i] for i in solved], r, state, active)
        state = copy.deepcopy(result.surrogate.model.state_dict())
        predictor = _predictor(result.artifact_path)
        row = {"round": r, "solver_calls": oracle.calls, "n_train": len(solved),
               "test_rel_l2": test_error(predictor, oracle, tests) if tests else None,
               "val_rel_l2": result.metrics.get("best_val_rel_l2"), **info}
        log.info("active round %d: %d solver calls, test rel L2 %s", r, oracle.calls,
                 row["test_rel_l2"])
        rows.append(row)
    out = ActiveResult(rows, list(solved), oracle.calls, result.artifact_path)
    _write_history(cfg, active, out)
    return out


def _pick(active: ActiveConfig, predictor: Any, oracle: Oracle, pool: list[Candidate],
          solved: list[int], rng: np.random.Generator) -> tuple[list[int], dict[str, Any]]:
    """The next ``per_round`` pool indices and what the round knew when picking them."""
    done = set(solved)
    free = [i for i in range(len(pool)) if i not in done]
    if active.strategy == "random":
        new = select_random(free, active.per_round, rng)
        return new, {"picked_geometries": [pool[i].geometry for i in new]}
    scores = score_candidates(predictor, oracle, [pool[i] for i in free], active.score)
    geos = [pool[i].geometry for i in free]
    if active.selection == "proportional":
        top = select_proportional(scores, geos, active.per_round, rng, floor=active.floor,
                                  max_share=active.max_share)
    else:
        top = select_top(scores, geos, active.per_round, active.max_share)
    new = [free[j] for j in top]
    return new, {"picked_score": float(np.nanmean(scores[top])),
                 "pool_score": float(np.nanmean(scores)),
                 "picked_geometries": [pool[i].geometry for i in new]}


def _train_round(cfg: Any, oracle: Oracle, cands: list[Candidate], r: int, state: Any,
                 active: ActiveConfig) -> Any:
    """Train round ``r`` on the solved ``cands`` into ``run_dir/round_<r>``."""
    from gnnops.training.trainer import train

    prob = oracle.problem
    inputs = list(cfg.data.inputs or prob.input_fields)
    targets = list(cfg.data.targets or prob.output_fields)
    graphs = [to_graph(oracle, c, inputs, targets) for c in cands]
    cfg_r = dataclasses.replace(cfg, out_dir=str(cfg.run_dir), name=f"round_{r:02d}")
    warm = None
    if active.warm_start and state is not None:
        def warm(sur: Any) -> Any:
            sur.model.load_state_dict(state)
            return sur
    return train(cfg_r, train_data=graphs, make_surrogate=warm)


def _predictor(path: Path) -> Any:
    from gnnops.inference.predictor import Predictor

    return Predictor.from_artifact(path)


def _write_history(cfg: Any, active: ActiveConfig, out: ActiveResult) -> None:
    path = Path(cfg.run_dir) / "active.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"active": dataclasses.asdict(active), "rows": out.rows, "solved": out.solved,
           "solver_calls": out.solver_calls, "artifact": str(out.artifact_path)}
    with atomic_open(path, "w") as fh:
        fh.write(json.dumps(doc, indent=1))

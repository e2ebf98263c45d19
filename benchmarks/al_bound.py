"""How much can ANY choice of solves gain over random selection on this pool? (a bound)

Active learning spends the same solver calls as random selection, only elsewhere. Model:
the test error of a case ``x`` falls with the density ``n(x)`` of training solves near it
as ``e(x) = c(x) n(x)^-alpha`` (the learning curve of the whole set, ``e ~ N^-alpha``,
case by case). Random selection puts ``n`` proportional to the pool's density ``p``; the
allocation that minimises the mean test error under ``sum n = N`` is
``n ~ p c^(1 / (1 + alpha))``, and its error relative to random is

    ratio* = mean(c^beta)^(1 + alpha) / mean(c),   beta = 1 / (1 + alpha),

with ``c`` the per-case errors of the random-selection model (any constant factor cancels).
For log-normal errors with log-spread ``sigma`` this is ``exp(-sigma^2 alpha / (2 (1 +
alpha)))``: the gain needs errors that differ a lot between cases. No selection rule can beat
``ratio*`` in this model; it is a model, not a theorem (a solve may teach more than its
neighbourhood), so it is compared with the measured active-learning ratios.

The script runs the random strategy of ``benchmarks/active_learning.py`` (same settings as
its README row on the evenly varied pool: Transolver 64 x 4, 16 initial solves + 4 rounds
of 16, pool 400, test 70, contrast 4 - 100, smoothness 2 - 5), measures every round's
per-case test errors, fits ``alpha`` to the mean curve over all seeds, and prints ``ratio*``
per round from the pooled per-case errors (and per seed at the last round).

    OMP_NUM_THREADS=1 python benchmarks/al_bound.py --seeds 0 1 2 [--out benchmarks/results]
    python benchmarks/al_bound.py --from-json A.json B.json   # seeds of several runs together
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine  # noqa: E402
from active_learning import run_config  # noqa: E402

EVEN_POOL = '{"a_pos": {"loguniform": [4, 100]}, "tau": {"uniform": [2, 5]}}'


def allocation_bound(c: np.ndarray, alpha: float) -> float:
    """``ratio*`` of the module docstring for per-case errors ``c`` [n] (> 0)."""
    beta = 1.0 / (1.0 + alpha)
    return float(np.mean(c**beta) ** (1.0 + alpha) / np.mean(c))


def fit_alpha(n_train: np.ndarray, err: np.ndarray) -> float:
    """``alpha`` of ``err ~ n_train^-alpha`` (least squares in log-log)."""
    slope = np.polyfit(np.log(n_train), np.log(err), 1)[0]
    return float(-slope)


def per_round_errors(args: argparse.Namespace, seed: int, tmp: str) -> list[dict]:
    """Random selection for ``seed``; per round: solves and the test cases' errors."""
    from gnnops.inference.predictor import Predictor
    from gnnops.problems import get
    from gnnops.runs.active import (
        TEST_SPLIT,
        ActiveConfig,
        Oracle,
        draw_candidates,
        run_active,
        test_errors,
    )

    cfg = run_config(args, seed, f"{tmp}/seed{seed}")
    spec = cfg.data.generate
    oracle = Oracle(get(spec.problem, **spec.solver_options), spec)
    active = ActiveConfig.from_dict({
        "strategy": "random", "initial": args.initial, "rounds": args.rounds,
        "per_round": args.per_round, "pool_size": args.pool, "test_size": args.test,
        "seed": seed})
    res = run_active(cfg, active, oracle=oracle)
    tests = draw_candidates(oracle, args.test, seed=seed, split=TEST_SPLIT,
                            geometries=spec.train_geometries() + list(spec.test_geometries))
    for cand in tests:
        oracle.solve(cand)
    out = []
    for row in res.rows:
        r = row["round"]
        path = res.artifact_path.parents[1] / f"round_{r:02d}" / res.artifact_path.name
        errs = test_errors(Predictor.from_artifact(path), oracle, tests)
        assert abs(errs.mean() - row["test_rel_l2"]) < 1e-6 * max(1.0, errs.mean())
        out.append({"n_train": row["n_train"], "errors": errs.tolist()})
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--epochs", type=int, default=80)
    p.add_argument("--initial", type=int, default=16)
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--per-round", type=int, default=16)
    p.add_argument("--pool", type=int, default=400)
    p.add_argument("--test", type=int, default=70)
    p.add_argument("--problem-options", default=EVEN_POOL)
    p.add_argument("--out", default="benchmarks/results")
    p.add_argument("--name", default=None, help="output file stem (default al_bound_seeds...)")
    p.add_argument("--from-json", nargs="+", default=None,
                   help="no runs: print the table of earlier runs' .json files together")
    args = p.parse_args()
    if args.from_json:
        runs = {}
        for f in args.from_json:
            runs.update({int(k): v for k, v in json.loads(Path(f).read_text()).items()})
        print("\n".join([f"# allocation bound of {', '.join(args.from_json)}"]
                        + bound_table(runs)))
        return
    # the README row's model and data (benchmarks/active_learning.py's run_config)
    args.model, args.width, args.depth, args.batch_size, args.lr = "transolver", 64, 4, 4, 1e-3
    args.h, args.ref_h = 0.08, None
    import torch

    torch.set_num_threads(1)
    logging.basicConfig(level=logging.WARNING)
    t0 = time.perf_counter()
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            runs[seed] = per_round_errors(args, seed, tmp)
            print(f"seed {seed}: " + "  ".join(f"{r['n_train']}:{np.mean(r['errors']):.4f}"
                                               for r in runs[seed]), flush=True)
    lines = bound_table(runs)
    stem = args.name or "al_bound_seeds" + "".join(map(str, args.seeds))
    head = [f"# allocation bound, {date.today()}, {machine()}, 1 thread, "
            f"{time.perf_counter() - t0:.0f} s wall",
            f"# {json.dumps({k: v for k, v in vars(args).items() if k != 'out'})}"]
    text = "\n".join(head + lines) + "\n"
    print(text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.txt").write_text(text)
    (out / f"{stem}.json").write_text(json.dumps({str(k): v for k, v in runs.items()}))


def bound_table(runs: dict[int, list[dict]]) -> list[str]:
    """The table of the module docstring from ``runs[seed] = [{n_train, errors}, ...]``."""
    seeds = sorted(runs)
    n = np.array([r["n_train"] for r in runs[seeds[0]]], dtype=float)
    mean = np.array([np.mean([np.mean(runs[s][k]["errors"]) for s in seeds])
                     for k in range(len(n))])
    alpha = fit_alpha(n, mean)
    lines = [f"learning curve of random selection, mean of {len(seeds)} seed(s): " + ", ".join(
        f"{int(a)}: {b:.4f}" for a, b in zip(n, mean, strict=True))
        + f"  ->  alpha = {alpha:.3f}", "",
        "| solver calls | per-case error median | p90 | max | log-spread sigma | "
        "best allocation / random (ratio*) |", "|---|---|---|---|---|---|"]
    for k, nk in enumerate(n):
        c = np.concatenate([runs[s][k]["errors"] for s in seeds])
        sig = float(np.std(np.log(c)))
        lines.append(f"| {int(nk)} | {np.median(c):.4f} | {np.quantile(c, 0.9):.4f} | "
                     f"{c.max():.4f} | {sig:.3f} | **{allocation_bound(c, alpha):.3f}** |")
    if alpha <= 0:
        return lines + ["", f"alpha = {alpha:.3f} <= 0: the error does not fall with more "
                        "solves here, the model of the docstring does not apply"]
    last = [allocation_bound(np.asarray(runs[s][-1]["errors"]), alpha) for s in seeds]
    return lines + ["", "ratio* at the last round per seed: " + ", ".join(
        f"{s}: {b:.3f}" for s, b in zip(seeds, last, strict=True)),
        f"log-spread needed for ratio* = 0.8 at this alpha (log-normal errors): sigma = "
        f"{np.sqrt(2 * np.log(1 / 0.8) * (1 + alpha) / alpha):.2f}"]


if __name__ == "__main__":
    main()

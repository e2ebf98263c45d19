"""Can I trust a rollout? The rollout error estimate against the ODE's true trajectory.

Fisher--KPP rollout surrogates (``runs/network_fkpp``, ``runs/network_fkpp_weighted``,
MeshGraphNet one-step models trained on 144-node random geometric graphs with Zipf edge
weights) roll out 50 steps (dt = 0.1) on

* their held-out test graphs (``datasets/fisher_kpp-92c7c7073c``: new initial states at
  144 and 1444 nodes, unseen families grid and Watts--Strogatz at both sizes; truth = the
  stored DOP853 solution), and
* other graphs drawn here (larger random geometric, Barabasi--Albert, Voronoi, community,
  log-normal weights; truth = ``FisherKPP.solve`` from the same initial state).

Per case: true relative L2 error over nodes and rolled-out times (the rollout report's
``rel L2``), ``Prediction.error_estimate``, ratio, whether ``error_estimate_high`` fired
(threshold 0.2), and the seconds of the model, of the estimate and of a reference solve
(DOP853, rtol 1e-8, the problem's default). Summary: fraction within 2x, Spearman rank
correlation, flag agreement with ``true > 0.2``, cost ratios.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/rollout_trust.py [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATASET = ROOT / "datasets" / "fisher_kpp-92c7c7073c"
RUNS = ("network_fkpp", "network_fkpp_weighted")
THRESHOLD = 0.2
# (family, nodes, family options): graphs the models never saw
EXTRA = [("random_geometric", 5000, {"edge_weights": "zipf"}),
         ("barabasi_albert", 400, {"edge_weights": "zipf"}),
         ("voronoi", 1000, {"edge_weights": "zipf"}),
         ("community", 400, {"edge_weights": "zipf"}),
         ("random_geometric", 1000, {"edge_weights": "lognormal"}),
         ("erdos_renyi", 300, {})]


def test_cases() -> list[dict[str, Any]]:
    """The stored test samples: graph, x0, true trajectory, times, label."""
    from gnnops.graphs import read_network

    manifest = json.loads((DATASET / "manifest.json").read_text())
    out = []
    for s in manifest["samples"]:
        if not s["split"].startswith("test"):
            continue
        stem = DATASET / s["file"]
        npz = np.load(stem.with_suffix(".npz"))
        out.append({"label": f"{s['split']}/res{s['resolution']}/{stem.stem}",
                    "graph": read_network(stem), "x0": npz["x0"], "true": npz["x"],
                    "times": npz["times"], "ref_s": None})
    return out


def extra_cases(times: np.ndarray) -> list[dict[str, Any]]:
    """Graphs of other families / sizes with region initial states, solved here."""
    from gnnops.graphs.families import make_graph
    from gnnops.problems import get

    prob = get("fisher_kpp")
    rng = np.random.default_rng(2026)
    out = []
    for j, (family, n, opts) in enumerate(EXTRA):
        g = make_graph(family, n, seed=100 + j, **opts)
        x0 = prob.evaluate_inputs(prob.sample_inputs(rng), g)["x0"]
        t0 = time.perf_counter()
        true = prob.solve(g, x0=x0, times=times)["x"]
        out.append({"label": f"{family}/{n}/{opts.get('edge_weights') or 'unweighted'}",
                    "graph": g, "x0": x0, "true": true, "times": times,
                    "ref_s": time.perf_counter() - t0})
    return out


def run_case(pred: Any, case: dict[str, Any]) -> dict[str, Any]:
    """Predict, estimate, compare; times a reference solve when the case has none."""
    from gnnops.problems import get

    p = pred.predict(case["graph"], x0=case["x0"], steps=case["true"].shape[1] - 1)
    v, u = p.fields["x"], case["true"]
    true = float(np.linalg.norm(v[:, 1:] - u[:, 1:]) / np.linalg.norm(u[:, 1:]))
    ref_s = case["ref_s"]
    if ref_s is None:
        t0 = time.perf_counter()
        get("fisher_kpp").solve(case["graph"], x0=case["x0"], times=case["times"])
        ref_s = time.perf_counter() - t0
    flagged = any(f.startswith("error_estimate_high") for f in p.flags)
    return {"label": case["label"], "nodes": int(v.shape[0]), "true": true,
            "est": float(p.error_estimate), "flag": flagged, "model_s": p.timings["model"],
            "est_s": p.timings["estimate"], "ref_s": ref_s}


def summarize(rows: list[dict[str, Any]], title: str) -> list[str]:
    """Within-2x fraction, Spearman, flag agreement, cost ratios."""
    from scipy.stats import spearmanr

    t = np.array([r["true"] for r in rows])
    e = np.array([r["est"] for r in rows])
    ratio = e / t
    within = np.mean((ratio >= 0.5) & (ratio <= 2.0))
    rho = spearmanr(t, e).statistic
    flag = np.array([r["flag"] for r in rows])
    bad = t > THRESHOLD
    est_s = np.array([r["est_s"] for r in rows])
    ref_s = np.array([r["ref_s"] for r in rows])
    return [f"{title}: {len(rows)} cases, within 2x {within:.0%} (ratio {ratio.min():.2f}-"
            f"{ratio.max():.2f}, median {np.median(ratio):.2f}), Spearman {rho:.3f}",
            f"  flag error_estimate_high (> {THRESHOLD}): on {int(flag[bad].sum())}/"
            f"{int(bad.sum())} cases with true error > {THRESHOLD}, on {int(flag[~bad].sum())}/"
            f"{int((~bad).sum())} with true error <= {THRESHOLD}",
            f"  cost: estimate / reference solve (DOP853 rtol 1e-8) median "
            f"{np.median(est_s / ref_s):.2f}x (estimate median {np.median(est_s):.3f} s, "
            f"solve median {np.median(ref_s):.3f} s)"]


def main(argv: list[str] | None = None) -> int:
    import torch

    from gnnops.inference import Predictor

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    cases = test_cases()
    cases += extra_cases(cases[0]["times"])
    lines = ["# rollout_trust: Fisher-KPP rollout error estimate vs the true trajectory",
             f"# {time.strftime('%Y-%m-%d')}, 1 CPU thread; threshold {THRESHOLD}", ""]
    every: list[dict[str, Any]] = []
    for run in RUNS:
        pred = Predictor.from_artifact(ROOT / "runs" / run / "model.pt")
        rows = [run_case(pred, c) for c in cases]
        lines += [f"## {run}", f"{'case':44s} {'nodes':>6s} {'true':>7s} {'est':>7s} "
                  f"{'est/true':>8s} {'flag':>4s} {'model s':>8s} {'est s':>7s} {'solve s':>8s}"]
        lines += [f"{r['label']:44s} {r['nodes']:6d} {r['true']:7.4f} {r['est']:7.4f} "
                  f"{r['est'] / r['true']:8.3f} {'yes' if r['flag'] else 'no':>4s} "
                  f"{r['model_s']:8.3f} {r['est_s']:7.3f} {r['ref_s']:8.3f}" for r in rows]
        lines += summarize(rows, run) + [""]
        every += rows
        print("\n".join(lines[-len(rows) - 6:]), flush=True)
    lines += summarize(every, "all")
    print("\n".join(lines[-3:]))
    out = Path(args.out) / "rollout_trust.txt"
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

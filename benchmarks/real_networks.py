"""Rollouts on a real weighted biological network: the C. elegans connectome.

Issue 14 asks for <= 5 % normalized L1 on real weighted biological networks of a few hundred
nodes, and for the rollout's error estimate to flag the cases it gets wrong. The networks
(``benchmarks/data/celegans_herm_full_edgelist.csv``, Cook et al. 2019 via OpenWorm) are
undirected, weight = number of synapses plus gap junctions between two cells in either
direction, largest connected component, self-loops dropped:

- ``celegans-all``: chemical and electrical connections (448 cells, weights 1 - 162),
- ``celegans-chemical``: chemical synapses only,
- ``celegans-electrical``: gap junctions only.

For every artifact, ``--cases`` seeded-region initial states per network (the Fisher-KPP
problem's ``recipe: region`` draw) are rolled out for the artifact's whole trajectory and
compared with the problem's own solve (DOP853): normalized L1 = mean |x_hat - x| /
mean |x| over nodes and the rolled-out times (the rollout report's metric), the error
estimate and whether ``error_estimate_high`` fired.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/real_networks.py runs/network_fkpp_weighted/model.pt
        [more artifacts] [--cases 8] [--out benchmarks/results/real_networks.txt]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

DATA = Path(__file__).resolve().parent / "data" / "celegans_herm_full_edgelist.csv"


def connectome(kind: str = "all") -> Any:
    """The undirected weighted C. elegans network (networkx), largest component, nodes
    relabelled 0..N-1; ``kind``: ``all``, ``chemical`` or ``electrical``."""
    import networkx as nx

    g = nx.Graph()
    with DATA.open() as fh:
        for row in csv.DictReader(fh):
            s, t, typ = row["Source"].strip(), row["Target"].strip(), row["Type"].strip()
            if s == t or (kind != "all" and typ != kind):
                continue
            w = int(row["Weight"])
            if g.has_edge(s, t):
                g[s][t]["weight"] += w
            else:
                g.add_edge(s, t, weight=w)
    g = g.subgraph(max(nx.connected_components(g), key=len)).copy()
    return nx.convert_node_labels_to_integers(g, ordering="sorted")


def run(artifact: str, graphs: dict[str, Any], n_cases: int) -> list[dict[str, Any]]:
    """One row per (network, initial state)."""
    from gnnops.inference import Predictor
    from gnnops.problems import get

    pred = Predictor.from_artifact(artifact)
    layout = pred.recipe.rollout
    prob = get(layout.problem, **layout.problem_options)
    steps = len(layout.times) - (1 if layout.includes_initial else 0)
    times = layout.t0 + layout.dt * np.arange(steps + 1)
    rows = []
    for name, g in graphs.items():
        rng = np.random.default_rng(7)
        for i in range(n_cases):
            x0 = prob.evaluate_inputs(prob.sample_inputs(rng, recipe="region"), g)["x0"]
            p = pred.predict(g, x0=x0, steps=steps)
            t0 = time.perf_counter()
            true = prob.solve(g, x0=x0, times=times)["x"]
            t_solve = time.perf_counter() - t0
            v = p.fields["x"]
            nl1 = float(np.abs(v[:, 1:] - true[:, 1:]).mean() / np.abs(true[:, 1:]).mean())
            rows.append({"network": name, "case": i, "nodes": g.number_of_nodes(), "nl1": nl1,
                         "est": float(p.error_estimate),
                         "flag": any(f.startswith("error_estimate_high") for f in p.flags),
                         "model_s": p.timings["model"], "solve_s": t_solve})
    return rows


def report(artifact: str, rows: list[dict[str, Any]]) -> list[str]:
    """Per-case lines and per-network summaries."""
    lines = [f"## {artifact}",
             f"{'network':22s} {'case':>4s} {'nodes':>5s} {'NL1 %':>7s} {'estimate':>8s} "
             f"{'flag':>4s} {'model s':>8s} {'solve s':>8s}"]
    lines += [f"{r['network']:22s} {r['case']:4d} {r['nodes']:5d} {100 * r['nl1']:7.2f} "
              f"{r['est']:8.4f} {'yes' if r['flag'] else 'no':>4s} {r['model_s']:8.3f} "
              f"{r['solve_s']:8.3f}" for r in rows]
    for name in dict.fromkeys(r["network"] for r in rows):
        nl1 = np.array([r["nl1"] for r in rows if r["network"] == name])
        flag = np.array([r["flag"] for r in rows if r["network"] == name])
        bad = nl1 > 0.2
        lines.append(f"{name}: NL1 mean {100 * nl1.mean():.2f} %, median "
                     f"{100 * np.median(nl1):.2f} %, max {100 * nl1.max():.2f} %; <= 5 % in "
                     f"{int((nl1 <= 0.05).sum())}/{len(nl1)}; flagged {int(flag[bad].sum())}/"
                     f"{int(bad.sum())} with NL1 > 20 %, {int(flag[~bad].sum())}/"
                     f"{int((~bad).sum())} others")
    return lines + [""]


def main(argv: list[str] | None = None) -> int:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("artifacts", nargs="+")
    ap.add_argument("--cases", type=int, default=8, help="initial states per network")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    graphs = {f"celegans-{k}": connectome(k) for k in ("all", "chemical", "electrical")}
    lines = [f"# real_networks: Fisher-KPP rollouts on the C. elegans connectome "
             f"({time.strftime('%Y-%m-%d %H:%M')}, 1 CPU thread)"]
    for name, g in graphs.items():
        w = np.array([d["weight"] for *_, d in g.edges(data=True)])
        lines.append(f"# {name}: {g.number_of_nodes()} nodes, {g.number_of_edges()} edges, "
                     f"weights {w.min()}-{w.max()} (median {np.median(w):.0f}, mean "
                     f"{w.mean():.1f}, {100 * (w == 1).mean():.0f} % ones)")
    lines.append("")
    print("\n".join(lines), flush=True)
    for a in args.artifacts:
        part = report(a, run(a, graphs, args.cases))
        print("\n".join(part), flush=True)
        lines += part
    if args.out:
        Path(args.out).write_text("\n".join(lines))
    return 0

if __name__ == "__main__":
    sys.exit(main())

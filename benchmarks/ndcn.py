"""NDCN benchmark (Zang & Wang, KDD 2020): learn network dynamics from irregular samples.

Protocol (REFERENCES.md, "Network dynamics"): heat (``network_diffusion``, k = 1),
mutualistic and gene-regulatory dynamics (``gnnops.problems``, NDCN parameters, their
defaults) on 400-node graphs -- grid 20x20 (8-neighbour), Erdos-Renyi p = 0.1,
Barabasi-Albert m = 5, Newman-Watts-Strogatz k = 5 p = 0.5, community 133/133/100/34
(p_in 0.25, p_out 0.01) -- from ``gnnops.graphs.families``. Initial state: the NDCN
blocks on the 20x20 layout; as in the NDCN code, non-grid graphs are laid out by
community (Louvain, seeded; nodes ordered by community) so layout position k is the k-th
node of that order (``--layout none``: node id order). Times: T = 5, 120 of 1000 uniform
ticks drawn at random (sorted, first set to 0); of the first 100, 20 random ticks
(never the first) are the interpolation test and 80 train; ticks 101-120 are the
extrapolation test. Reference trajectories: ``problem.solve`` (DOP853, rtol 1e-8).
Model: ``gnnops.models.NDCN`` (dopri5, rtol 0.01, atol 0.001), Adam lr 0.01 (weight decay
1e-3, the NDCN code's default), L1 loss on the 80 training ticks, full batch.
Metric: normalized L1 = mean|y_hat - y| / mean|y| in %, after the last iteration.

Usage::

    python benchmarks/ndcn.py --iters 2000 --out benchmarks/results/ndcn.md
    python benchmarks/ndcn.py --dynamics heat --graphs grid,community --iters 200
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
from dataclasses import dataclass

import networkx as nx
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import cpu_model  # noqa: E402

from gnnops.graphs import from_networkx  # noqa: E402
from gnnops.graphs.families import make_graph  # noqa: E402
from gnnops.models.ndcn import NDCN  # noqa: E402
from gnnops.problems import get as get_problem  # noqa: E402
from gnnops.problems.network_diffusion import ndcn_initial_state  # noqa: E402

DYNAMICS = {"heat": "network_diffusion", "mutualistic": "mutualistic",
            "gene": "gene_regulatory"}
GRAPHS = {"grid": "grid", "random": "erdos_renyi", "power_law": "barabasi_albert",
          "small_world": "watts_strogatz", "community": "community"}
N_NODES, T_END, N_TICKS, N_SAMPLED, N_FIRST, N_INTERP = 400, 5.0, 1000, 120, 100, 20


@dataclass
class Cell:
    """One dynamics x graph result."""

    dynamics: str
    graph: str
    edges: int
    interp: float
    extrap: float
    train: float
    nfe: float
    seconds: float
    iters: int


def layout_order(g: nx.Graph, layout: str, seed: int) -> np.ndarray:
    """Node order ``[N]``: position k of the 20x20 layout is node ``order[k]``."""
    if layout == "none" or g.graph.get("family") == "grid":
        return np.arange(g.number_of_nodes())
    comms = nx.community.louvain_communities(g, seed=seed)
    comms = sorted((sorted(c) for c in comms), key=lambda c: c[0])
    return np.concatenate([np.asarray(c) for c in comms])


def sample_times(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                   np.ndarray]:
    """NDCN irregular times ``t [120]`` and the train / interpolation / extrapolation ids."""
    ticks = np.linspace(0.0, T_END, N_TICKS)
    t = np.sort(rng.permutation(ticks)[:N_SAMPLED])
    t[0] = 0.0
    interp = np.sort(rng.permutation(np.arange(1, N_FIRST))[:N_INTERP])
    train = np.setdiff1d(np.arange(N_FIRST), interp)
    extrap = np.arange(N_FIRST, N_SAMPLED)
    return t, train, interp, extrap


def normalized_l1(pred: torch.Tensor, true: torch.Tensor) -> float:
    """``100 * mean|pred - true| / mean|true|``."""
    return float(100.0 * (pred - true).abs().mean() / true.abs().mean())


def run_cell(dyn: str, graph: str, args: argparse.Namespace) -> Cell:
    """Generate the data of one cell, train NDCN, evaluate."""
    rng = np.random.default_rng(args.seed)
    g = make_graph(GRAPHS[graph], N_NODES, seed=args.seed)
    x0 = np.zeros(N_NODES)
    x0[layout_order(g, args.layout, args.seed)] = ndcn_initial_state(N_NODES)
    t, id_train, id_interp, id_extrap = sample_times(rng)
    y = get_problem(DYNAMICS[dyn]).solve(g, x0=x0, times=t)["x"]  # [N, 120]
    data = from_networkx(g)
    data.x = torch.as_tensor(x0, dtype=torch.float32)[:, None]
    y_t = torch.as_tensor(y, dtype=torch.float32)
    t_t = torch.as_tensor(t, dtype=torch.float32)

    torch.manual_seed(args.seed)
    model = NDCN(in_channels=1, out_channels=1, hidden=args.hidden, method=args.method)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    sched = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.iters,
                                                        eta_min=args.lr * 0.01)
             if args.schedule == "cosine" else None)
    t_train, y_train = t_t[id_train], y_t[:, id_train]
    start = time.perf_counter()
    done = 0
    for _ in range(args.iters):
        opt.zero_grad()
        loss = torch.nn.functional.l1_loss(model(data, t_train), y_train)
        if not torch.isfinite(loss):
            break
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
        done += 1
    seconds = time.perf_counter() - start
    model.odefunc.nfe = 0
    with torch.no_grad():
        pred = model(data, t_t)
    return Cell(dyn, graph, data.edge_index.shape[1] // 2,
                normalized_l1(pred[:, id_interp], y_t[:, id_interp]),
                normalized_l1(pred[:, id_extrap], y_t[:, id_extrap]),
                normalized_l1(pred[:, id_train], y_train), float(model.odefunc.nfe), seconds,
                done)


def table(cells: list[Cell], args: argparse.Namespace, header: str) -> str:
    """The markdown report."""
    lines = [header, "",
             "| dynamics | graph | edges | interpolation NL1 % | extrapolation NL1 % "
             "| train NL1 % | NFE (eval) | iterations | train time s | ms / iter |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for c in cells:
        lines.append(f"| {c.dynamics} | {c.graph} | {c.edges} | {c.interp:.2f} | "
                     f"{c.extrap:.2f} | {c.train:.2f} | {c.nfe:.0f} | {c.iters} | "
                     f"{c.seconds:.0f} | {1e3 * c.seconds / max(c.iters, 1):.1f} |")
    if cells:
        ex = np.array([c.extrap for c in cells])
        lines += ["", f"Extrapolation NL1: mean {ex.mean():.2f} %, max {ex.max():.2f} % "
                  f"({int((ex <= 2.0).sum())}/{len(cells)} cells <= 2 %, the goal)."]
    return "\n".join(lines) + "\n"


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--iters", type=int, default=2000, help="Adam iterations per cell (NDCN 2000)")
    p.add_argument("--dynamics", default=",".join(DYNAMICS),
                   help=f"comma list of {', '.join(DYNAMICS)}")
    p.add_argument("--graphs", default=",".join(GRAPHS), help=f"comma list of {', '.join(GRAPHS)}")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--weight-decay", type=float, default=1e-3)
    p.add_argument("--hidden", type=int, default=20)
    p.add_argument("--layout", choices=("community", "none"), default="community")
    p.add_argument("--schedule", choices=("constant", "cosine"), default="constant",
                   help="learning rate: constant (NDCN) or cosine to lr / 100 over the iterations")
    p.add_argument("--method", choices=("dopri5", "euler", "rk4"), default="dopri5",
                   help="the model's ODE solver: dopri5 (the paper) or euler (the NDCN code's "
                        "default, used by its README commands: one step per sampled tick)")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--out", default=None, help="write the markdown table here (updated per cell)")
    args = p.parse_args(argv)
    for key, valid in (("dynamics", DYNAMICS), ("graphs", GRAPHS)):
        names = [s.strip() for s in getattr(args, key).split(",") if s.strip()]
        bad = [s for s in names if s not in valid]
        if bad:
            p.error(f"unknown {key} {bad}; expected some of: {', '.join(valid)}")
        setattr(args, key, names)
    return args


def main(argv: list[str] | None = None) -> int:
    """Run every requested cell, print and write the table."""
    args = parse(argv)
    torch.set_num_threads(args.threads)
    note = "" if args.iters == 2000 else " (NDCN published: 2000)"
    header = (f"## NDCN benchmark: normalized L1 (%) after {args.iters} Adam iterations{note}\n\n"
              f"`python benchmarks/ndcn.py {' '.join(sys.argv[1:] if argv is None else argv)}`\n\n"
              f"{datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; {cpu_model()}; "
              f"{torch.get_num_threads()} torch thread(s) of {os.cpu_count()} logical CPUs "
              f"(shared machine); torch {torch.__version__}; seed {args.seed}; "
              f"layout {args.layout}; lr {args.lr} ({args.schedule}), weight decay "
              f"{args.weight_decay}, "
              f"hidden {args.hidden}; model solver {args.method}"
              f"{' rtol 0.01 atol 0.001' if args.method == 'dopri5' else ''}.\n"
              f"Interpolation: 20 held-out ticks among the first 100 of 120 irregular ticks on "
              f"[0, 5]; extrapolation: the last 20 ticks (t > t_100); train: the other 80.")
    cells: list[Cell] = []
    for dyn in args.dynamics:
        for graph in args.graphs:
            cells.append(run_cell(dyn, graph, args))
            c = cells[-1]
            print(f"{dyn:12s} {graph:12s} interp {c.interp:7.2f} %  extrap {c.extrap:7.2f} %  "
                  f"train {c.train:6.2f} %  {c.seconds:6.0f} s", flush=True)
            if args.out:
                with open(args.out, "w", encoding="utf-8") as fh:
                    fh.write(table(cells, args, header))
    print()
    print(table(cells, args, header), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

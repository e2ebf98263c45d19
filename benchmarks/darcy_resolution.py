"""Darcy resolution benchmark: the FNO / GKN protocol on unstructured meshes.

-div(a grad u) = 1 on the unit square, u = 0 on the boundary, a = 12 / 3 thresholded
Gaussian random field N(0, (-Delta + 9I)^-2) (``problem_options: {kind: fno}``). Every input
is solved once on an h = 0.005 reference mesh and transferred by P1 interpolation to every
mesh (``--reference``). The model is trained on ONE resolution (``--train-resolution``,
default the ~1k-node mesh, s ~ 31) and tested, on the same test inputs, at every resolution
(meshes whose node counts match the grids s = 16 / 31 / 61 / 84 / 122). Metric: relative L2
(lumped-mass weighted) per sample, mean over the test set.

Defaults: 1000 train / 50 val / 100 test inputs, the default run's Transolver, 50 epochs,
1 torch thread (about 1.5 h on a shared 2-core machine, data generation included).
``--model gno`` with the GNO flags runs the graph neural operator instead; ``--published``
sets the published sample and epoch counts (1000 / 100, 200 epochs).
``benchmarks/darcy_fno_peer.py`` trains neuraloperator's FNO on the same inputs and
reference for the side by side.

Usage::

    python benchmarks/darcy_resolution.py [--train-resolution 0] [--epochs 50]
        [--out results/darcy_resolution.md]

Prints a markdown table (and writes it to ``--out``) beside the published rows
(GNO 0.0346, MGNO 0.0416, FNO 0.0108 at s = 85).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine  # noqa: E402

PUBLISHED = [  # method, relative L2 at s = 85, 141, 211, 421 (trained and tested at s)
    ("GNO (Li et al.)", [0.0346, 0.0332, 0.0342, 0.0369]),
    ("MGNO (Li et al.)", [0.0416, 0.0428, 0.0428, 0.0420]),
    ("FNO (Li et al.)", [0.0108, 0.0109, 0.0109, 0.0098]),
]
PUBLISHED_PROTOCOL = {"n_train": 1000, "n_test": 100, "epochs": 200}


def build_config(args: argparse.Namespace) -> Any:
    """The RunConfig of this benchmark (train at resolution 0, test at all)."""
    from gnnops.training.config import RunConfig, config_from_dict, config_to_dict

    d = config_to_dict(RunConfig())
    d["name"] = args.name
    d["seed"] = args.seed
    d["out_dir"] = args.runs
    d["data"]["generate"] = {
        "problem": "darcy", "problem_options": {"kind": "fno"},
        "resolutions": list(args.resolutions), "train_resolution": args.train_resolution,
        "n_train": args.n_train, "n_val": args.n_val, "n_test": args.n_test,
        "reference_resolution": args.reference, "seed": args.seed,
    }
    d["data"]["batch_size"] = args.batch_size
    d["data"]["features"] = None  # the run's default: [wall_distance]
    d["model"] = {"name": args.model, "kwargs": None}  # the model's own defaults
    if args.model == "gno":
        d["model"]["kwargs"] = {
            "width": args.width, "depth": args.depth, "radius": args.radius,
            "kernel": args.kernel, "rank": args.rank, "kernel_hidden": args.kernel_hidden,
            "train_neighbors": args.max_neighbors}
    d["optim"].update({"lr": args.lr, "weight_decay": args.weight_decay,
                       "epochs": args.epochs, "scheduler": "cosine", "patience": 0})
    d["train"].update({"progress": False, "device": args.device, "threads": args.threads})
    d["eval"]["plots"] = False
    return config_from_dict(d)


def run(args: argparse.Namespace) -> str:
    """Generate, train at the coarsest mesh, evaluate at all; return the markdown."""
    from gnnops.data import generate, open_dataset
    from gnnops.evaluation.metrics import as_predictor, evaluate
    from gnnops.training.trainer import train

    cfg = build_config(args)
    spec = cfg.data.generate
    t0 = time.perf_counter()
    path = generate(spec, spec.default_dir(cfg.data.cache_dir), workers=args.workers,
                    progress=False)
    t_gen = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = train(cfg)
    t_train = time.perf_counter() - t0
    t0 = time.perf_counter()
    pred = as_predictor(result.artifact_path)
    res = evaluate(pred, open_dataset(path), splits=["test"], examples=False)
    t_eval = time.perf_counter() - t0
    return markdown(args, res, t_gen=t_gen, t_train=t_train, t_eval=t_eval,
                    epochs_run=result.metrics.get("epochs", args.epochs))


def markdown(args: argparse.Namespace, res: dict[str, Any], *, t_gen: float, t_train: float,
             t_eval: float, epochs_run: Any) -> str:
    """The report: protocol, machine, timings, our rows and the published rows."""
    import torch

    rows = sorted(res["rows"], key=lambda r: r["nodes"])
    lines = [
        "## Darcy resolution benchmark (FNO/GKN protocol, unstructured meshes)",
        "",
        f"- date: {dt.datetime.now().strftime('%Y-%m-%d %H:%M')}",
        f"- machine: {machine()} (torch {torch.__version__}, {torch.get_num_threads()} "
        "threads, shared with other jobs)",
        f"- data: a = 12/3 thresholded GRF (alpha 2, tau 3), f = 1; {args.n_train} train / "
        f"{args.n_val} val at the coarsest mesh, {args.n_test} test inputs evaluated at every "
        f"mesh (published: {PUBLISHED_PROTOCOL['n_train']} train / "
        f"{PUBLISHED_PROTOCOL['n_test']} test, {PUBLISHED_PROTOCOL['epochs']} epochs)",
        f"- model: {res['model']} ({res['parameters']:,} parameters): {model_text(args)}",
        f"- targets: every input solved once at h = {args.reference} and transferred by P1 "
        "interpolation to every mesh; relative L2 lumped-mass weighted",
        f"- training: {args.epochs} epochs (ran {epochs_run}), AdamW lr {args.lr}, cosine, "
        f"batch {args.batch_size}; training time {t_train / 60:.1f} min; data generation "
        f"{t_gen / 60:.1f} min; evaluation {t_eval / 60:.1f} min",
        "",
        "| resolution | mesh size h | nodes | s equivalent | relative L2 (mean) | std | max |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        tag = "train + test" if r["resolution"] == args.train_resolution else "test only"
        lines.append(f"| {r['resolution']} ({tag}) | {r['h']} | {r['nodes']:.0f} | "
                     f"{r['nodes'] ** 0.5:.0f} | {r['rel_l2']:.4f} | {r['rel_l2_std']:.4f} | "
                     f"{r['rel_l2_max']:.4f} |")
    worst = max(r["rel_l2"] for r in rows)
    lines += [
        "",
        f"Target <= 0.03 at every resolution: {'met' if worst <= 0.03 else 'MISSED'} "
        f"(worst {worst:.4f}); finest / coarsest error ratio "
        f"{rows[-1]['rel_l2'] / rows[0]['rel_l2']:.2f}.",
        "",
        "Published (1000 train / 100 test, 200 epochs; trained AND tested at s, regular grids):",
        "",
        "| method | s=85 | s=141 | s=211 | s=421 |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {m} | " + " | ".join(f"{v:.4f}" for v in vals) + " |" for m, vals in PUBLISHED]
    return "\n".join(lines) + "\n"


def model_text(args: argparse.Namespace) -> str:
    """The model's settings as the report states them."""
    if args.model != "gno":
        from gnnops.training.config_sections import ModelConfig

        kw = ModelConfig(name=args.model).kwargs
        return ", ".join(f"{k} {v}" for k, v in kw.items()) or "its defaults"
    return (f"width {args.width}, depth {args.depth}, radius {args.radius}, kernel "
            f"{args.kernel} (rank {args.rank}, hidden {args.kernel_hidden}), "
            f"{args.max_neighbors}-node training sample per ball (whole balls when predicting)")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (defaults: the protocol run of the README, ~1.5 h on 2 cores)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-train", type=int, default=1000, help="published: 1000")
    p.add_argument("--n-val", type=int, default=50)
    p.add_argument("--n-test", type=int, default=100, help="published: 100")
    p.add_argument("--epochs", type=int, default=50, help="published: 200")
    p.add_argument("--published", action="store_true",
                   help="1000 train / 100 test / 200 epochs (hours on a CPU)")
    p.add_argument("--resolutions", type=float, nargs="+",
                   default=[0.076, 0.037, 0.018, 0.013, 0.009],
                   help="mesh sizes h, coarsest first (default ~259/974/3.8k/7.0k/14.6k nodes "
                        "= s 16/31/61/84/121)")
    p.add_argument("--train-resolution", type=int, default=1,
                   help="index into --resolutions of the one training mesh (default 1: "
                        "~1k nodes, s = 31; 0 = ~250 nodes, the information-floor run)")
    p.add_argument("--reference", type=float, default=0.005,
                   help="mesh size of the reference solve every target is transferred from")
    p.add_argument("--model", default="transolver",
                   help="registered model (its default kwargs; the GNO flags below apply "
                        "to gno only)")
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--radius", type=float, default=0.25)
    p.add_argument("--kernel", default="lowrank", choices=["lowrank", "full"])
    p.add_argument("--rank", type=int, default=4)
    p.add_argument("--kernel-hidden", type=int, default=64)
    p.add_argument("--max-neighbors", type=int, default=32,
                   help="GNO train_neighbors (prediction always uses the whole ball)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=1, help="data generation processes")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (1 on a shared, oversubscribed machine; 0 = torch's "
                        "default)")
    p.add_argument("--name", default="darcy_resolution")
    p.add_argument("--runs", default="runs")
    p.add_argument("--out", default=None, help="also write the markdown here")
    args = p.parse_args(argv)
    if args.published:
        args.n_train, args.n_test, args.epochs = (PUBLISHED_PROTOCOL[k] for k in
                                                  ("n_train", "n_test", "epochs"))
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table, optionally write it to ``--out``."""
    args = parse(argv)
    text = run(args)
    print(text, end="")
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

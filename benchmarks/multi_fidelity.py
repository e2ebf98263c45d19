"""Multi-fidelity Darcy: does a mix of many cheap and few reference solves help?

Issue 12's reference protocol: every training target can be the converged solution
(solved once at ``reference_resolution`` and transferred), or the training mesh's own cheap
solve (a few % off the converged one at h = 0.08). ``data.generate.reference_train = k``
mixes them: the first k training samples carry reference targets, the rest their own mesh's
solve. This benchmark trains the same model on

- ``ref-K``: K reference samples only,
- ``mix-K+M``: the same K reference samples plus M cheap ones, with the ``fidelity`` feature
  (the model is told which targets are which and predicts at reference fidelity),
- ``mix-K+M, no flag``: the same data without the feature (plain pooling),
- ``cheap-N``: N = K + M cheap samples only,
- ``ref-N``: N reference samples (the upper bound of the mix),

all for the same number of optimizer steps, and reports relative L2 (lumped-mass weighted)
against the reference on the same test inputs at every resolution, with the seconds spent on
reference solves.

Usage::

    python benchmarks/multi_fidelity.py [--k 100 --m 900 --steps 5000]
        [--out results/multi_fidelity.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path
from typing import Any


def variants(k: int, m: int) -> list[tuple[str, dict[str, Any], list[str]]]:
    """(label, data.generate overrides, data.features) per trained model."""
    n = k + m
    return [
        (f"ref-{k}", {"n_train": k}, ["wall_distance"]),
        (f"mix-{k}+{m}", {"n_train": n, "reference_train": k}, ["wall_distance", "fidelity"]),
        (f"mix-{k}+{m}, no flag", {"n_train": n, "reference_train": k}, ["wall_distance"]),
        (f"cheap-{n}", {"n_train": n, "reference_train": 0}, ["wall_distance"]),
        (f"ref-{n}", {"n_train": n}, ["wall_distance"]),
    ]


def config(args: argparse.Namespace, label: str, gen: dict[str, Any],
           features: list[str]) -> Any:
    """The RunConfig of one variant: equal optimizer steps for every variant."""
    from gnnops.training.config import RunConfig, config_from_dict, config_to_dict

    d = config_to_dict(RunConfig())
    spec = {"problem": "darcy", "problem_options": {"kind": "fno"},
            "resolutions": list(args.resolutions), "train_resolution": 0,
            "n_val": args.n_val, "n_test": args.n_test,
            "reference_resolution": args.reference, "seed": args.seed, **gen}
    epochs = max(1, round(args.steps * args.batch_size / spec["n_train"]))
    name = label.replace(" ", "").replace(",", "_").replace("+", "p")
    d.update(name=f"mf_{name}", seed=args.seed, out_dir=args.runs)
    d["data"].update(generate=spec, features=features, batch_size=args.batch_size)
    d["optim"].update(epochs=epochs, patience=0)
    d["train"].update(progress=False, threads=args.threads)
    d["eval"]["plots"] = False
    return config_from_dict(d)


def run_variant(args: argparse.Namespace, label: str, gen: dict[str, Any],
                features: list[str]) -> dict[str, Any]:
    """Generate (timed), train, evaluate the test split; one result row."""
    from gnnops.data import generate, open_dataset
    from gnnops.evaluation.metrics import as_predictor, evaluate
    from gnnops.training.trainer import train

    cfg = config(args, label, gen, features)
    spec = cfg.data.generate
    t0 = time.perf_counter()
    path = generate(spec, spec.default_dir(cfg.data.cache_dir), progress=False)
    t_gen = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = train(cfg)
    t_train = time.perf_counter() - t0
    res = evaluate(as_predictor(result.artifact_path), open_dataset(path), splits=["test"],
                   examples=False)
    rows = sorted(res["rows"], key=lambda r: r["resolution"])
    n_ref = spec.n_train if spec.reference_train is None else spec.reference_train
    return {"label": label, "n_ref": n_ref, "n_cheap": spec.n_train - n_ref,
            "epochs": cfg.optim.epochs, "t_gen": t_gen, "t_train": t_train,
            "errors": [r["rel_l2"] for r in rows], "h": [r["h"] for r in rows]}


def markdown(args: argparse.Namespace, results: list[dict[str, Any]]) -> str:
    """The report table."""
    import torch

    hs = results[0]["h"]
    lines = [
        "## Multi-fidelity Darcy (unit square, FNO-protocol inputs)",
        "",
        f"- date: {dt.datetime.now().strftime('%Y-%m-%d %H:%M')}; torch {torch.__version__}, "
        f"{args.threads} thread(s)",
        f"- trained at h = {args.resolutions[0]}; reference h = {args.reference}; "
        f"{args.n_test} test inputs, every resolution; {args.steps} optimizer steps of batch "
        f"{args.batch_size} per model (default Transolver)",
        "- relative L2 (lumped-mass weighted) against the reference-transferred targets",
        "",
        "| training data | reference solves | cheap solves | epochs | "
        + " | ".join(f"h={h}" for h in hs) + " | data gen s | train s |",
        "|---|---|---|---|" + "---|" * len(hs) + "---|---|",
    ]
    for r in results:
        lines.append(f"| {r['label']} | {r['n_ref']} | {r['n_cheap']} | {r['epochs']} | "
                     + " | ".join(f"{e:.4f}" for e in r["errors"])
                     + f" | {r['t_gen']:.0f} | {r['t_train']:.0f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Train every variant, print (and optionally write) the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--k", type=int, default=100, help="reference-solved training samples")
    p.add_argument("--m", type=int, default=900, help="cheap (own-mesh) training samples")
    p.add_argument("--steps", type=int, default=5000, help="optimizer steps per model")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--resolutions", type=float, nargs="+", default=[0.08, 0.04, 0.02, 0.01])
    p.add_argument("--reference", type=float, default=0.01)
    p.add_argument("--n-val", type=int, default=10)
    p.add_argument("--n-test", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--only", nargs="*", default=None, help="labels to run (default all)")
    p.add_argument("--runs", default="runs")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    results = []
    for label, gen, feats in variants(args.k, args.m):
        if args.only and label not in args.only:
            continue
        results.append(run_variant(args, label, gen, feats))
        print(f"{label}: " + " / ".join(f"{e:.4f}" for e in results[-1]["errors"]),
              flush=True)
    text = markdown(args, results)
    print(text, end="")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

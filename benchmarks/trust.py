"""Can I trust this prediction? The error estimate and flags against an independent truth.

A Darcy surrogate (``--artifact``, or a run of ``configs/default.yaml`` trained here, with
``--epochs`` to shorten it) predicts held-out cases: the unit square at the training
resolution (h = 0.08), 2x coarser, 2x and 4x finer; unseen geometries (L-shape, plates with
a hole of radius 0.2 and 0.35, a 2 x 1 rectangle); inputs outside the training range
(coefficient contrasts 20/3 and 12/1, a smooth log-normal coefficient, sources f = 2 and a
varying f). Input draws use seeds the training set never used. Truth: the same input solved
on a fine mesh of the geometry (h = ``--ref-h``, ~46k nodes on the unit square) and the
prediction transferred to it by P1 interpolation (``gnnops.problems.transfer``), relative
L2 norm with the fine lumped mass.

Printed per case: the true relative L2 error, the estimate (``Prediction.error_estimate``)
and its two parts, the true parts (algebraic: vs this mesh's discrete solution;
discretization: discrete solution vs truth), estimate / true, and the flag codes. Summary:
fraction of estimates within a factor 2 (target >= 90 %), Spearman rank correlation
(target >= 0.8), flag precision (error < 0.15 at the training resolution and 2x finer: no
flag; error > 0.3: a flag). Then the cost (prediction, estimate, direct solve) and the AMG
correction (error after 1, 2, 5 cycles from the prediction and from zero; time to a
relative algebraic error of 1e-2 / 1e-4) at ~3k and ~50k nodes. Saves a log-log scatter
plot of estimate vs true error.

Usage::

    python benchmarks/trust.py [--artifact runs/darcy_default/model.pt] [--epochs 20]
        [--ref-h 0.005] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Case:
    """One held-out prediction: geometry, mesh size, input draw and its group."""

    name: str
    group: str  # train-res | coarse | 2x | 4x | geometry | input-ood
    geometry: str
    h: float
    seed: int
    options: dict[str, Any] = field(default_factory=dict)
    f: Any = None  # None: the sample's f (= 1); a float or "varying"


def cases() -> list[Case]:
    """The held-out cases (seeds >= 1000; the default dataset draws with seed 0)."""
    out = [Case(f"square h=0.08 #{i}", "train-res", "square", 0.08, 1000 + i) for i in range(4)]
    out += [Case(f"square h=0.16 #{i}", "coarse", "square", 0.16, 1010 + i) for i in range(2)]
    out += [Case(f"square h=0.04 #{i}", "2x", "square", 0.04, 1020 + i) for i in range(3)]
    out += [Case(f"square h=0.02 #{i}", "4x", "square", 0.02, 1030 + i) for i in range(3)]
    seed = 1040
    for geo, k in (("l_shape", 2), ("plate", 2), ("plate35", 1), ("rect2x1", 2)):
        for i in range(k):
            out.append(Case(f"{geo} h=0.04 #{i}", "geometry", geo, 0.04, seed))
            seed += 1
    out += [
        Case("a = 20/3", "input-ood", "square", 0.04, 1060, {"a_pos": 20.0}),
        Case("a = 12/1", "input-ood", "square", 0.04, 1061, {"a_neg": 1.0}),
        Case("lognormal a", "input-ood", "square", 0.04, 1062, {"kind": "lognormal"}),
        Case("f = 2", "input-ood", "square", 0.04, 1063, f=2.0),
        Case("f varying", "input-ood", "square", 0.04, 1064, f="varying"),
    ]
    return out


_MESHES: dict[tuple[str, float], Any] = {}


def mesh(geometry: str, h: float) -> Any:
    """The meshio mesh of a geometry at size h (cached)."""
    from gnnops import meshing

    key = (geometry, h)
    if key not in _MESHES:
        if geometry == "square":
            m = meshing.unit_square(h)
        elif geometry == "l_shape":
            m = meshing.l_shape(h)
        elif geometry == "plate":
            m = meshing.plate_with_hole(h, radius=0.2)
        elif geometry == "plate35":
            m = meshing.plate_with_hole(h, radius=0.35)
        elif geometry == "rect2x1":  # the unit square stretched to 2 x 1: cells 2h x h
            m = meshing.unit_square(h)
            m.points = m.points * np.array([2.0, 1.0, 1.0])[: m.points.shape[1]]
        else:
            raise ValueError(geometry)
        _MESHES[key] = m
    return _MESHES[key]


def inputs_of(case: Case, m: Any) -> dict[str, np.ndarray]:
    """The case's input fields at the nodes of ``m``."""
    from gnnops.problems import get

    darcy = get("darcy")
    sample = darcy.sample_inputs(np.random.default_rng(case.seed), **case.options)
    fields = sample.at(m)
    x = np.asarray(m.points)[:, :2]
    if case.f == "varying":
        fields["f"] = 1.0 + 0.8 * np.sin(2 * np.pi * x[:, 0]) * np.cos(np.pi * x[:, 1])
    elif case.f is not None:
        fields["f"] = np.full(len(x), float(case.f))
    return fields


def l2(mass: np.ndarray, v: np.ndarray) -> float:
    return float(np.sqrt(mass @ v**2))


def evaluate_case(model: Any, case: Case, ref_h: float) -> dict[str, Any]:
    """Predict, estimate, and measure the true error against the fine reference."""
    from gnnops.problems import get
    from gnnops.problems._fem import fem_mesh
    from gnnops.problems.estimators import lumped_mass
    from gnnops.problems.transfer import P1Transfer

    darcy = get("darcy")
    m, ref = mesh(case.geometry, case.h), mesh(case.geometry, ref_h)
    inp = inputs_of(case, m)
    pred = model.predict(m, **{k: inp[k] for k in model.inputs})
    u_pred = np.asarray(pred.fields["u"], dtype=np.float64).reshape(-1)
    fm, fr = fem_mesh(m), fem_mesh(ref)
    u_h = darcy.solve(fm, **inp)["u"]
    u_ref = darcy.solve(fr, **inputs_of(case, ref))["u"]
    transfer = P1Transfer(fm.points, fm.cells).matrix(fr.points)
    mr, mc = lumped_mass(fr), lumped_mass(fm)
    norm = l2(mr, u_ref)
    return {
        "case": case.name, "group": case.group, "nodes": fm.n_nodes,
        "true": l2(mr, transfer @ u_pred - u_ref) / norm,
        "true_alg": l2(mc, u_pred - u_h) / l2(mc, u_h),
        "true_disc": l2(mr, transfer @ u_h - u_ref) / norm,
        "est": pred.error_estimate, "est_alg": pred.error_algebraic,
        "est_disc": pred.error_discretization,
        "flags": [f.split(":")[0] for f in pred.flags],
        "notes": [f.split(":")[0] for f in pred.notes],
        "t_model": pred.timings["model"], "t_estimate": pred.timings.get("estimate", np.nan),
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    print(f"{'case':20s} {'group':9s} {'nodes':>6s} {'true':>7s} {'est':>7s} {'ratio':>6s} "
          f"{'alg t/e':>15s} {'disc t/e':>15s}  flags (notes)")
    for r in rows:
        print(f"{r['case']:20s} {r['group']:9s} {r['nodes']:6d} {r['true']:7.4f} "
              f"{r['est']:7.4f} {r['est'] / r['true']:6.2f} "
              f"{r['true_alg']:7.4f}/{r['est_alg']:7.4f} {r['true_disc']:7.4f}/"
              f"{r['est_disc']:7.4f}  {','.join(r['flags']) or '-'} "
              f"({','.join(r['notes']) or '-'})")


def summarize(rows: list[dict[str, Any]]) -> list[str]:
    """The acceptance numbers (module docstring)."""
    from scipy.stats import spearmanr

    true = np.array([r["true"] for r in rows])
    est = np.array([r["est"] for r in rows])
    ratio = est / true
    within = float(np.mean((ratio >= 0.5) & (ratio <= 2.0)))
    rho = float(spearmanr(true, est).statistic)
    quiet = [r for r in rows if r["group"] in ("train-res", "2x") and r["true"] < 0.15]
    loud = [r for r in rows if r["true"] > 0.3]
    n_quiet = sum(not r["flags"] for r in quiet)
    n_loud = sum(bool(r["flags"]) for r in loud)
    alg = np.array([r["est_alg"] / r["true_alg"] for r in rows])
    disc = np.array([r["est_disc"] / r["true_disc"] for r in rows])
    pyth = np.sqrt(np.array([r["true_alg"] ** 2 + r["true_disc"] ** 2 for r in rows]))
    return [
        f"estimate within a factor 2 of the true error: {within:.0%} of {len(rows)} "
        f"(target >= 90 %); estimate / true in [{ratio.min():.2f}, {ratio.max():.2f}], "
        f"geometric mean {np.exp(np.log(ratio).mean()):.2f}",
        f"Spearman rank correlation: {rho:.3f} (target >= 0.8)",
        f"no flag on error < 0.15 at train res / 2x finer: {n_quiet} of {len(quiet)}; "
        f"flag on error > 0.3: {n_loud} of {len(loud)}",
        f"parts: algebraic est / true in [{alg.min():.2f}, {alg.max():.2f}]; discretization "
        f"est / true in [{disc.min():.2f}, {disc.max():.2f}]; true total / sqrt(alg^2 + "
        f"disc^2) of the true parts in [{(true / pyth).min():.2f}, {(true / pyth).max():.2f}]",
    ]


def scatter(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    groups = sorted({r["group"] for r in rows})
    for g, marker in zip(groups, "osD^v<>p", strict=False):
        sel = [r for r in rows if r["group"] == g]
        ax.scatter([r["true"] for r in sel], [r["est"] for r in sel], label=g, marker=marker)
    lo = min(min(r["true"], r["est"]) for r in rows) / 1.5
    hi = max(max(r["true"], r["est"]) for r in rows) * 1.5
    t = np.array([lo, hi])
    ax.plot(t, t, "k-", lw=1)
    ax.plot(t, 2 * t, "k:", lw=1)
    ax.plot(t, t / 2, "k:", lw=1)
    ax.axhline(0.2, color="r", lw=0.8, ls="--")
    ax.set(xscale="log", yscale="log", xlim=(lo, hi), ylim=(lo, hi),
           xlabel="true relative L2 error (fine-mesh reference)",
           ylabel="error_estimate", title="Darcy surrogate: estimate vs truth")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def train_default(epochs: int, workdir: Path) -> Path:
    """Run configs/default.yaml (``optim.epochs=epochs``) into ``workdir``; the artifact."""
    cmd = [sys.executable, str(ROOT / "train.py"), "--config", str(ROOT / "configs/default.yaml"),
           f"out_dir={workdir / 'runs'}", f"data.cache_dir={workdir / 'datasets'}",
           f"optim.epochs={epochs}", "train.progress=false"]
    print("training:", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    return workdir / "runs" / "darcy_default" / "model.pt"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--artifact", default=None, help="Darcy artifact (default: train one)")
    ap.add_argument("--epochs", type=int, default=20, help="epochs when training here")
    ap.add_argument("--ref-h", type=float, default=0.005, help="reference mesh size")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--no-cost", action="store_true", help="skip the cost / correction tables")
    ap.add_argument("--cost-only", action="store_true", help="only the cost / correction tables")
    args = ap.parse_args()
    from gnnops.inference import Predictor

    t0 = time.perf_counter()
    art = Path(args.artifact) if args.artifact else train_default(
        args.epochs, Path(tempfile.mkdtemp(prefix="trust-")))
    model = Predictor.from_artifact(art)
    desc = model.describe()
    print(f"artifact {art}: {desc['model']} ({desc['parameters']} parameters), problem "
          f"{desc['problem']}, resolution independent: {desc['resolution_independent']}; "
          f"reference h = {args.ref_h}")
    if not args.cost_only:
        rows = [evaluate_case(model, c, args.ref_h) for c in cases()]
        print_table(rows)
        for line in summarize(rows):
            print(line)
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        scatter(rows, out / "trust_scatter.png")
        print(f"scatter plot: {out / 'trust_scatter.png'}")
    if not args.no_cost:
        from trust_cost import cost_tables

        cost_tables(model)
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()

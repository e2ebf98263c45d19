"""Peer of the Darcy resolution benchmark: neuraloperator's FNO on the same inputs and reference.

Side-by-side row for ``benchmarks/darcy_resolution.py`` (issue 12). Same problem (gnnops
Darcy, ``problem_options: {kind: fno}``: a = 12 where the GRF >= 0 else 3, f = 1, u = 0 on
the boundary of the unit square), same inputs (sample ``idx`` of split ``s`` is
``problem.sample_inputs(default_rng([seed, SPLIT_IDS[s], idx]), **problem_options)``, as
``gnnops.data._worker.run_task`` draws it), same reference (every input solved once with
gnnops' solver on ``gnnops.meshing.unit_square(h_ref)`` and P1-transferred with
``P1Transfer``, as ``gnnops.data.generate`` does), but on s x s grids ``x_i = i / (s - 1)``
(boundary included) instead of meshes. The coefficient on a grid is the problem's own
``evaluate_inputs`` at the grid points (a KL series, defined everywhere).

The FNO (``neuralop.models.FNO``, input channel a normalized plus a grid positional
embedding) is trained at ``--train-s`` for a wall-time budget (``--minutes``; cosine
learning rate over the budget, the epoch crossing it is the last) and tested on the test
inputs at every ``--test-s``: zero-shot at the FNO's native resolution transfer, and
"predict at the training grid, bilinear-interpolate to s". Metric: relative L2 with
trapezoid-rule weights per sample; mean / std / max over the test inputs.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/darcy_fno_peer.py [--minutes 45] [--out fno.md]

Needs ``pip install neuraloperator`` (the ``peers`` extra); without it, says so and exits 0.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent


def grid_points(s: int) -> np.ndarray:
    """``[s * s, 2]`` points ``(i / (s-1), j / (s-1))``, row ``i * s + j`` (x index first)."""
    t = np.linspace(0.0, 1.0, s)
    x, y = np.meshgrid(t, t, indexing="ij")
    return np.stack([x.ravel(), y.ravel()], axis=1)


def grid_mesh(s: int) -> Any:
    """The s x s grid as a triangle ``FemMesh`` (what ``evaluate_inputs`` takes)."""
    from gnnops.problems._fem import fem_mesh_from_arrays

    i, j = np.meshgrid(np.arange(s - 1), np.arange(s - 1), indexing="ij")
    n0 = (i * s + j).ravel()
    quads = np.stack([n0, n0 + s, n0 + s + 1, n0 + 1], axis=1)
    tris = np.concatenate([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]])
    return fem_mesh_from_arrays(grid_points(s), tris, "triangle")


def draw(problem: Any, seed: int, split: str, idx: int, options: dict[str, Any]) -> Any:
    """Input sample ``idx`` of ``split``, drawn exactly as the dataset worker draws it."""
    from gnnops.data.spec import SPLIT_IDS

    rng = np.random.default_rng([seed, SPLIT_IDS[split], idx])
    return problem.sample_inputs(rng, **options)


class Reference:
    """The reference mesh of size ``h`` and its P1 transfer to named target point sets.

    Args:
        problem: the gnnops problem (its ``solve`` / ``evaluate_inputs``).
        h: reference mesh size (``gnnops.meshing.unit_square(h)``, as the generator meshes).
        targets: name -> ``[M, 2]`` points the solution is transferred to.
    """

    def __init__(self, problem: Any, h: float, targets: dict[Any, np.ndarray]) -> None:
        from gnnops.meshing import unit_square
        from gnnops.problems._fem import fem_mesh
        from gnnops.problems.transfer import P1Transfer

        mesh = unit_square(h)
        self.problem = problem
        self.handle = fem_mesh(mesh)
        self.nodes = len(mesh.points)
        tr = P1Transfer(mesh.points[:, :2], mesh.cells_dict["triangle"])
        self.transfer = {k: tr.matrix(p) for k, p in targets.items()}

    def solve(self, sample: Any) -> np.ndarray:
        """``[N_ref]`` u of one input sample on the reference mesh."""
        inputs = self.problem.evaluate_inputs(sample, self.handle)
        return np.asarray(self.problem.solve(self.handle, **inputs)["u"]).reshape(-1)

    def to(self, name: Any, u_ref: np.ndarray) -> np.ndarray:
        """``[M]`` the reference solution at the points of target ``name``."""
        return self.transfer[name] @ u_ref


def solve_split(args: argparse.Namespace, split: str, n: int, sizes: list[int]
                ) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """``{s: (a [n, s, s], u [n, s, s])}`` of the first ``n`` inputs of ``split``; cached
    as ``<cache>/darcy_fno_<split>_seed<seed>_h<h>_n<n>_s<s>.npz``."""
    from tqdm import tqdm

    from gnnops.problems import get

    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    name = f"darcy_fno_{split}_seed{args.seed}_h{args.reference:g}_n{n}"
    paths = {s: cache / f"{name}_s{s}.npz" for s in sizes}
    out = {s: (z["a"], z["u"]) for s in sizes if paths[s].is_file()
           for z in [np.load(paths[s])]}
    todo = [s for s in sizes if s not in out]
    if not todo:
        return out
    problem = get("darcy")
    ref = Reference(problem, args.reference, {s: grid_points(s) for s in todo})
    grids = {s: grid_mesh(s) for s in todo}
    a = {s: np.empty((n, s, s)) for s in todo}
    u = {s: np.empty((n, s, s)) for s in todo}
    for i in tqdm(range(n), desc=f"solve {split} at h={args.reference} ({ref.nodes} nodes)",
                  file=sys.stderr):
        sample = draw(problem, args.seed, split, i, {"kind": "fno"})
        u_ref = ref.solve(sample)
        for s in todo:
            a[s][i] = problem.evaluate_inputs(sample, grids[s])["a"].reshape(s, s)
            u[s][i] = ref.to(s, u_ref).reshape(s, s)
    for s in todo:
        np.savez_compressed(paths[s], a=a[s], u=u[s])
        out[s] = (a[s], u[s])
    return out


def trapezoid_weights(s: int) -> np.ndarray:
    """``[s, s]`` trapezoid-rule weights on the grid (sum 1, the lumped mass of Q1)."""
    w = np.full(s, 1.0 / (s - 1))
    w[[0, -1]] *= 0.5
    return np.outer(w, w)


def rel_l2(pred: Any, true: Any, w: Any) -> Any:
    """Per-sample weighted relative L2 of ``[B, s, s]`` arrays (numpy or torch) -> ``[B]``."""
    num = (w * (pred - true) ** 2).sum(axis=(-2, -1))
    den = (w * true ** 2).sum(axis=(-2, -1))
    return (num / den) ** 0.5


def make_fno(args: argparse.Namespace) -> Any:
    """``neuralop.models.FNO`` with an endpoint-inclusive grid embedding (x_i = i / (s-1))."""
    import torch
    from neuralop.layers.embeddings import GridEmbeddingND
    from neuralop.models import FNO

    class EndpointGrid(GridEmbeddingND):
        """neuralop's grid embedding on ``linspace(0, 1, s)`` (its own drops the endpoint,
        ``i / s``, which puts a fixed point at a different coordinate on every grid)."""

        def grid(self, spatial_dims: Any, device: Any, dtype: Any) -> Any:
            if self._grid is None or self._res != spatial_dims:
                axes = [torch.linspace(lo, hi, n) for n, (lo, hi)
                        in zip(spatial_dims, self.grid_boundaries, strict=True)]
                self._grid = [g.to(device, dtype)[None, None]
                              for g in torch.meshgrid(*axes, indexing="ij")]
                self._res = spatial_dims
            return self._grid

    torch.manual_seed(args.seed)
    return FNO(n_modes=(args.modes, args.modes), in_channels=1, out_channels=1,
               hidden_channels=args.width, n_layers=args.layers,
               positional_embedding=EndpointGrid(in_channels=1, dim=2,
                                                 grid_boundaries=[[0, 1], [0, 1]]))


def train_fno(model: Any, a: Any, u: Any, args: argparse.Namespace) -> dict[str, float]:
    """Train on ``a, u: [n, 1, s, s]`` (normalized) for ``args.minutes`` of wall time.

    Adam, lr cosine-annealed over the wall-time budget (per step, from the elapsed
    fraction), batch ``args.batch_size``, weighted relative-L2 loss; the epoch that crosses
    the budget is the last. Returns epochs, seconds and the last epoch's mean loss.
    """
    import torch

    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    w = torch.as_tensor(trapezoid_weights(a.shape[-1]), dtype=a.dtype)
    gen = torch.Generator().manual_seed(args.seed)
    budget, t0, epochs, loss_sum = args.minutes * 60.0, time.perf_counter(), 0, 0.0
    while True:
        model.train()
        loss_sum = 0.0
        for b in torch.randperm(len(a), generator=gen).split(args.batch_size):
            frac = min(1.0, (time.perf_counter() - t0) / budget)
            for g in opt.param_groups:
                g["lr"] = 0.5 * args.lr * (1.0 + math.cos(math.pi * frac))
            loss = rel_l2(model(a[b])[:, 0], u[b, 0], w).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += float(loss.detach()) * len(b)
        epochs += 1
        elapsed = time.perf_counter() - t0
        if epochs == 1 or epochs % 10 == 0 or elapsed >= budget:
            print(f"epoch {epochs}: train rel L2 {loss_sum / len(a):.4f}, "
                  f"{elapsed / 60:.1f} / {args.minutes} min", file=sys.stderr, flush=True)
        if elapsed >= budget:
            return {"epochs": epochs, "seconds": elapsed, "loss": loss_sum / len(a)}


def predict(model: Any, a: np.ndarray, norm: dict[str, float], batch: int = 10) -> np.ndarray:
    """``[n, s, s]`` u predicted from raw ``a: [n, s, s]``."""
    import torch

    model.eval()
    x = torch.as_tensor((a - norm["a_mean"]) / norm["a_std"], dtype=torch.float32)[:, None]
    with torch.no_grad():
        out = [model(x[i:i + batch])[:, 0] for i in range(0, len(x), batch)]
    return torch.cat(out).double().numpy() * norm["u_scale"]


def bilinear(u: np.ndarray, s: int) -> np.ndarray:
    """``[n, t, t]`` grid values (endpoint-inclusive grid) bilinearly interpolated to s x s."""
    import torch
    import torch.nn.functional as F

    x = torch.as_tensor(u)[:, None]
    return F.interpolate(x, size=(s, s), mode="bilinear", align_corners=True)[:, 0].numpy()


def evaluate(model: Any, test: dict[int, tuple[np.ndarray, np.ndarray]],
             norm: dict[str, float], train_s: int) -> list[dict[str, Any]]:
    """Rows ``{s, method, mean, std, max}``: zero-shot at every s, and the training-grid
    prediction bilinearly interpolated to every other s."""
    rows = []
    coarse = predict(model, test[train_s][0], norm)
    for s in sorted(test):
        a, u = test[s]
        w = trapezoid_weights(s)
        runs = [("FNO at s" + (" (train grid)" if s == train_s else " (zero-shot)"),
                 predict(model, a, norm))]
        if s != train_s:
            runs.append((f"FNO at {train_s} + bilinear", bilinear(coarse, s)))
        for method, pred in runs:
            e = rel_l2(pred, u, w)
            rows.append({"s": s, "method": method, "mean": float(e.mean()),
                         "std": float(e.std()), "max": float(e.max())})
    return rows


def run(args: argparse.Namespace) -> str:
    """Solve (or load) the grid data, train, evaluate; return the markdown report."""
    import torch

    torch.set_num_threads(1)
    sizes = sorted(set(args.test_s) | {args.train_s})
    t0 = time.perf_counter()
    a_tr, u_tr = solve_split(args, "train", args.n_train, [args.train_s])[args.train_s]
    test = solve_split(args, "test", args.n_test, sizes)
    t_data = time.perf_counter() - t0
    norm = {"a_mean": float(a_tr.mean()), "a_std": float(a_tr.std()),
            "u_scale": float(np.sqrt((u_tr ** 2).mean()))}
    x = torch.as_tensor((a_tr - norm["a_mean"]) / norm["a_std"], dtype=torch.float32)[:, None]
    y = torch.as_tensor(u_tr / norm["u_scale"], dtype=torch.float32)[:, None]
    model = make_fno(args)
    params = count_params(model)
    print(f"FNO: {params:,} parameters", file=sys.stderr, flush=True)
    fit = train_fno(model, x, y, args)
    t0 = time.perf_counter()
    rows = evaluate(model, test, norm, args.train_s)
    t_eval = time.perf_counter() - t0
    return markdown(args, rows, params=params, fit=fit, t_data=t_data, t_eval=t_eval)


def count_params(model: Any) -> int:
    """Real parameters (a complex weight counts twice, as ``neuralop.utils`` counts)."""
    return sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters())


def machine() -> str:
    """``darcy_resolution.machine()`` (the same machine line as the gnnops rows)."""
    spec = importlib.util.spec_from_file_location("darcy_resolution",
                                                  HERE / "darcy_resolution.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.machine()


def markdown(args: argparse.Namespace, rows: list[dict[str, Any]], *, params: int,
             fit: dict[str, float], t_data: float, t_eval: float) -> str:
    """The report: protocol, machine, versions, timings and the table."""
    import neuralop
    import torch

    lines = [
        "## Darcy resolution benchmark: neuraloperator FNO peer (same inputs and reference)",
        "",
        f"- date: {dt.datetime.now().strftime('%Y-%m-%d %H:%M')}",
        f"- machine: {machine()} (torch {torch.__version__}, neuraloperator "
        f"{neuralop.__version__}, {torch.get_num_threads()} thread, shared with other jobs)",
        f"- data: gnnops darcy {{kind: fno}} (a = 12/3 thresholded GRF, f = 1), seed "
        f"{args.seed}: train inputs 0..{args.n_train - 1} and test inputs "
        f"0..{args.n_test - 1}, drawn as gnnops.data's worker draws them",
        f"- targets: every input solved once with gnnops' solver at h = {args.reference} "
        "(unit_square mesh) and P1-transferred to the s x s grid x_i = i/(s-1); a on the grid "
        "= the problem's evaluate_inputs at the grid points; relative L2 with trapezoid "
        "weights",
        f"- model: neuralop FNO, {params:,} parameters: n_modes ({args.modes}, {args.modes}), "
        f"hidden {args.width}, {args.layers} layers, in = a normalized + grid (x, y) "
        "embedding on linspace(0, 1, s)",
        f"- training: s = {args.train_s}, {args.n_train} inputs, Adam lr {args.lr} "
        f"cosine-annealed over a {args.minutes} min wall-time budget, batch "
        f"{args.batch_size}, relative-L2 loss: {fit['epochs']} epochs in "
        f"{fit['seconds'] / 60:.1f} min (last epoch train rel L2 {fit['loss']:.4f}); grid "
        f"data {t_data / 60:.1f} min (0 when cached), evaluation {t_eval:.0f} s",
        "",
        "| s | points | method | relative L2 (mean) | std | max |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {r['s']} | {r['s'] ** 2} | {r['method']} | {r['mean']:.4f} | "
              f"{r['std']:.4f} | {r['max']:.4f} |" for r in rows]
    lines += ["", "gnnops' rows (benchmarks/darcy_resolution.py, same seed) are measured on "
              "the same train / test inputs and the same reference solutions, on meshes "
              "instead of grids."]
    return "\n".join(lines) + "\n"


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-train", type=int, default=1000)
    p.add_argument("--n-test", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--reference", type=float, default=0.005,
                   help="mesh size h of the reference solve")
    p.add_argument("--train-s", type=int, default=31)
    p.add_argument("--test-s", type=int, nargs="+", default=[16, 31, 61, 85, 121])
    p.add_argument("--minutes", type=float, default=45.0, help="training wall-time budget")
    p.add_argument("--modes", type=int, default=12)
    p.add_argument("--width", type=int, default=32, help="FNO hidden channels")
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=20)
    p.add_argument("--cache", default="datasets/darcy_fno_grids",
                   help="folder of the solved grid data (npz)")
    p.add_argument("--out", default=None, help="also write the markdown here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the peer; print (and write) the report. Exit 0 with a message if neuralop is
    not installed."""
    args = parse(argv)
    try:
        import neuralop  # noqa: F401
    except ImportError as exc:
        print(f"darcy_fno_peer: skipped, neuraloperator is not installed ({exc}); "
              "pip install neuraloperator (the peers extra)", file=sys.stderr)
        return 0
    text = run(args)
    print(text, end="")
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

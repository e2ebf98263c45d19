"""A Darcy artifact on geometries of your choice, against a converged reference.

For each geometry (``gnnops.meshing`` names, e.g. ``disk_with_holes-5``,
``random_polygon-11``) and each of ``--inputs`` new random inputs (FNO protocol, seeds
independent of every generated dataset), the input is solved once on an h = ``--ref-h``
mesh of the geometry, transferred by P1 interpolation to meshes of size ``--h``, and the
artifact's prediction there is compared with it: relative L2 weighted by the lumped mass,
mean over the inputs, with the mean error estimate of the predictions beside it. ``--readme``
also scores the README's Python example (``meshes/plate_with_hole.vtu``, a = 12 / 3 by the
sign of sin 6x cos 5y, f = 1) and the FE solve on that mesh itself.

    python benchmarks/heldout_geometries.py runs/darcy_default/model.pt \\
        --geometries disk_with_holes-5 random_polygon-11 l_shape --inputs 4 --readme
"""

from __future__ import annotations

import argparse
from pathlib import Path

import meshio
import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def weighted_rel_l2(mesh: meshio.Mesh, pred: np.ndarray, ref: np.ndarray) -> float:
    """Lumped-mass weighted relative L2 of ``pred`` against ``ref`` on ``mesh``."""
    from gnnops.evaluation.metrics import relative_l2
    from gnnops.problems._fem import fem_mesh
    from gnnops.problems.estimators import lumped_mass

    return relative_l2(pred, ref, lumped_mass(fem_mesh(mesh)))


def reference(geometry: str, ref_h: float):
    """The reference mesh of ``geometry`` and its P1 transfer operator."""
    from gnnops.meshing import make_geometry
    from gnnops.problems.transfer import P1Transfer

    ref = make_geometry(geometry, ref_h)
    return ref, P1Transfer(ref.points[:, :2], ref.cells_dict["triangle"])


def score_geometry(model, geometry: str, hs: list[float], n: int, ref_h: float
                   ) -> dict[float, tuple[float, float]]:
    """``{h: (mean rel L2, mean error estimate)}`` over ``n`` new inputs."""
    from gnnops.meshing import make_geometry
    from gnnops.problems import get

    prob = get("darcy")
    ref, tr = reference(geometry, ref_h)
    meshes = {h: make_geometry(geometry, h) for h in hs}
    out: dict[float, list[tuple[float, float]]] = {h: [] for h in hs}
    for i in range(n):
        sample = prob.sample_inputs(np.random.default_rng([9901, i]))
        u = prob.solve(ref, **prob.evaluate_inputs(sample, ref))["u"]
        for h, m in meshes.items():
            p = model.predict(m, **prob.evaluate_inputs(sample, m))
            err = weighted_rel_l2(m, p.fields["u"].ravel(), tr(u, m.points[:, :2]))
            est = p.error_estimate if p.error_estimate is not None else float("nan")
            out[h].append((err, est))
    return {h: tuple(np.mean(v, axis=0)) for h, v in out.items()}


def score_readme(model, ref_h: float) -> tuple[float, float]:
    """README example: (prediction error, the 286-node mesh's own FE solve's error)."""
    from gnnops.problems import get

    def coef(p: np.ndarray) -> np.ndarray:
        return np.where(np.sin(6 * p[:, 0]) * np.cos(5 * p[:, 1]) > 0, 12.0, 3.0)

    prob = get("darcy")
    ref, tr = reference("plate_with_hole", ref_h)
    u = prob.solve(ref, a=coef(ref.points), f=1.0)["u"]
    mesh = meshio.read(ROOT / "meshes" / "plate_with_hole.vtu")
    u_ref = tr(u, mesh.points[:, :2])
    pred = model.predict(mesh, a=coef(mesh.points), f=1.0).fields["u"].ravel()
    own = prob.solve(mesh, a=coef(mesh.points), f=1.0)["u"]
    return weighted_rel_l2(mesh, pred, u_ref), weighted_rel_l2(mesh, own, u_ref)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("artifact")
    ap.add_argument("--geometries", nargs="+", default=["disk_with_holes-5",
                                                        "random_polygon-11"])
    ap.add_argument("--h", nargs="+", type=float, default=[0.08, 0.02])
    ap.add_argument("--inputs", type=int, default=4)
    ap.add_argument("--ref-h", type=float, default=0.01)
    ap.add_argument("--readme", action="store_true")
    args = ap.parse_args()
    import gnnops

    model = gnnops.load(args.artifact)
    print("| geometry | " + " | ".join(f"h = {h:g}: rel L2 (estimate)" for h in args.h) + " |")
    print("|---|" + "---|" * len(args.h))
    for geo in args.geometries:
        res = score_geometry(model, geo, args.h, args.inputs, args.ref_h)
        print(f"| {geo} | " + " | ".join(f"{res[h][0]:.4f} ({res[h][1]:.3f})"
                                         for h in args.h) + " |", flush=True)
    if args.readme:
        err, own = score_readme(model, args.ref_h)
        print(f"README example (meshes/plate_with_hole.vtu): prediction {err:.4f}, the mesh's "
              f"own FE solve {own:.4f} (both against h = {args.ref_h:g})")


if __name__ == "__main__":
    main()

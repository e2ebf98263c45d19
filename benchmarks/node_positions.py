"""Has a model learned its training mesh's node positions? (issue 12's elasticity diagnosis)

A model trained on ONE mesh can be accurate at that mesh's nodes and worse in between.
This script refines the training mesh uniformly (``skfem`` ``refined``: the original nodes
are kept, the polygonal domain is identical) and prints, for an elasticity artifact:

1. for ``--inputs`` new inputs, the RMS error of the refined-mesh prediction at the
   original nodes and at the new (in-between) nodes, against the refined mesh's own FE solve
   (h / 8, same polygon), beside the training-mesh prediction at its nodes;
2. for E = 1, the relative difference between the refined-mesh prediction and the
   training-mesh prediction interpolated (P1) to it, at 1, 2 and 3 refinements: a model
   that does not depend on where the nodes are gives a small number that does not jump at
   the first refinement.

Measured (2026-11-30): one training mesh 0.0095 / 0.0152 and 1.2 % at every level;
``mesh_variants: 8`` 0.0098 / 0.0119 and 0.69 %.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/node_positions.py <dataset folder> <model.pt>
"""

from __future__ import annotations

import argparse

import numpy as np


def refined(mesh, levels: int):  # noqa: ANN001, ANN201
    """``mesh`` (meshio, triangles) refined ``levels`` times; original nodes first."""
    import meshio
    import skfem

    m = skfem.MeshTri(mesh.points[:, :2].T.copy(), mesh.cells_dict["triangle"].T.copy())
    r = m.refined(levels)
    return meshio.Mesh(np.c_[r.p.T, np.zeros(r.p.shape[1])], [("triangle", r.t.T)])


def node_errors(model, coarse, inputs: int) -> tuple[float, float, float]:  # noqa: ANN001
    """RMS relative error at the original / new nodes of a 3x refinement, and the
    training-mesh prediction's at its own nodes (means over ``inputs`` inputs)."""
    from gnnops.problems import get

    fine, n0 = refined(coarse, 3), len(coarse.points)
    prob = get("elasticity")
    rng = np.random.default_rng(5)
    old, new, own = [], [], []
    for _ in range(inputs):
        s = prob.sample_inputs(rng)
        e_f, e_c = prob.evaluate_inputs(s, fine)["E"], prob.evaluate_inputs(s, coarse)["E"]
        u = np.asarray(prob.solve(fine, E=e_f)["u"]).reshape(len(e_f), -1)
        p_f = model.predict(fine, E=e_f).fields["u"]
        p_c = model.predict(coarse, E=e_c).fields["u"]
        norm = np.sqrt((u ** 2).sum(1).mean())
        old.append(np.sqrt(((p_f[:n0] - u[:n0]) ** 2).sum(1).mean()) / norm)
        new.append(np.sqrt(((p_f[n0:] - u[n0:]) ** 2).sum(1).mean()) / norm)
        own.append(np.sqrt(((p_c - u[:n0]) ** 2).sum(1).mean()) / norm)
    return float(np.mean(old)), float(np.mean(new)), float(np.mean(own))


def constant_input_gap(model, coarse, level: int) -> float:  # noqa: ANN001
    """Relative difference (lumped mass) of the refined prediction for E = 1 and the
    interpolated training-mesh prediction."""
    from gnnops.problems._fem import fem_mesh
    from gnnops.problems.estimators import lumped_mass
    from gnnops.problems.transfer import P1Transfer

    fine = refined(coarse, level)
    q, w = fine.points[:, :2], lumped_mass(fem_mesh(fine))
    p0 = model.predict(coarse, E=np.ones(len(coarse.points))).fields["u"]
    pr = model.predict(fine, E=np.ones(len(q))).fields["u"]
    tr = P1Transfer(coarse.points[:, :2], coarse.cells_dict["triangle"])
    ip = np.stack([tr(p0[:, c], q) for c in range(p0.shape[1])], 1)
    return float(np.sqrt((w[:, None] * (pr - ip) ** 2).sum() / (w[:, None] * ip ** 2).sum()))


def main(argv: list[str] | None = None) -> int:
    import meshio
    import torch

    import gnnops
    from gnnops.data import open_dataset

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", help="the elasticity dataset folder the model trained on")
    ap.add_argument("artifact")
    ap.add_argument("--inputs", type=int, default=4)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    ds = open_dataset(args.dataset)
    model = gnnops.load(args.artifact)
    coarse = meshio.read(ds.root / "meshes" / "res0.vtu")
    old, new, own = node_errors(model, coarse, args.inputs)
    print(f"refined 3x: RMS error at the training mesh's nodes {old:.4f}, at the new nodes "
          f"{new:.4f}; training-mesh prediction at its nodes {own:.4f}")
    for level in (1, 2, 3):
        print(f"E = 1, refined {level}x: refined vs interpolated training-mesh prediction "
              f"{constant_input_gap(model, coarse, level):.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

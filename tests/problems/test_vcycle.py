"""The lean V-cycle (gnnops.problems._vcycle) against pyamg's cycle on the same levels."""

from __future__ import annotations

import numpy as np
import pytest

from gnnops import meshing
from gnnops.problems import estimators as est
from gnnops.problems import get
from gnnops.problems._amg_levels import vcycle
from gnnops.problems._fem import fem_mesh
from gnnops.problems._vcycle import VCycle


def _darcy_system(h: float, seed: int):
    darcy = get("darcy")
    fm = fem_mesh(meshing.unit_square(h))
    inputs = darcy.sample_inputs(np.random.default_rng(seed)).at(fm)
    return darcy, fm, inputs, darcy.system(fm, **inputs)


@pytest.mark.parametrize("smoother", est.SMOOTHERS)
def test_equals_pyamgs_vcycle_on_the_same_levels(smoother):
    darcy, fm, _, system = _darcy_system(0.04, seed=3)
    unit = darcy._unit_matrix(fm)
    ml = est.amg_solver(fm, system, unit, smoother=smoother)
    lean = vcycle(fm, system, unit, smoother)
    assert isinstance(lean, VCycle) and len(lean.levels) == len(ml.levels) - 1 >= 2
    m = ml.aspreconditioner(cycle="V")
    rng = np.random.default_rng(0)
    for r in rng.standard_normal((3, ml.levels[0].A.shape[0])):
        ref = m @ r
        assert np.abs(lean @ r - ref).max() <= 1e-12 * np.abs(ref).max()
    assert vcycle(fm, system, unit, smoother) is lean  # cached on the system
    with pytest.raises(ValueError, match="V-cycles only"):
        lean.aspreconditioner(cycle="W")


def test_estimate_and_correction_unchanged_by_the_lean_cycle(monkeypatch):
    """The estimate's numbers through the lean cycle equal those through pyamg's solver."""
    monkeypatch.setenv("GNNOPS_NATIVE", "0")  # the Python path (the compiled one: test_native)
    darcy, fm, inputs, system = _darcy_system(0.03, seed=4)
    uh = darcy.solve(fm, **inputs)["u"]
    x, y = fm.points.T
    u = uh * (1 + 0.2 * np.sin(3 * np.pi * x) * np.cos(2 * np.pi * y))
    unit = darcy._unit_matrix(fm)
    lean = est.estimate_error(fm, system, u, darcy._flux(fm, darcy._inputs(fm, inputs)),
                              unit=unit)
    ml = est.amg_solver(fm, system, unit, smoother="single")
    system.__dict__["_vcycle:single"] = ml  # the pyamg solver in the lean one's place
    ref = est.estimate_error(fm, system, u, darcy._flux(fm, darcy._inputs(fm, inputs)),
                             unit=unit)
    assert lean.iterations == ref.iterations
    assert lean.algebraic == pytest.approx(ref.algebraic, rel=1e-9)
    assert lean.total == pytest.approx(ref.total, rel=1e-9)
    m = est.lumped_mass(fm)
    true = np.sqrt(m @ (u - uh) ** 2) / np.sqrt(m @ uh**2)
    assert lean.algebraic == pytest.approx(true, rel=0.05)


def test_vector_problems_keep_pyamgs_block_smoother():
    prob = get("elasticity")
    fm = fem_mesh(meshing.unit_square(0.1))
    system = prob.system(fm, E=np.full(fm.n_nodes, 2.0))
    ml = vcycle(fm, system, None, "single")
    assert not isinstance(ml, VCycle) and hasattr(ml, "levels")

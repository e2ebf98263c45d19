"""The compiled kernel of the estimate's algebraic part (gnnops.problems._native) against the
Python path it replaces, its fallbacks, and a known answer through it."""

from __future__ import annotations

import numpy as np
import pytest

from gnnops import meshing
from gnnops.problems import _native, get
from gnnops.problems import estimators as est
from gnnops.problems._amg_levels import native_plan
from gnnops.problems._estimator_ops import _digest
from gnnops.problems._fem import fem_mesh

needs_compiler = pytest.mark.skipif(_native.library() is None,
                                    reason=f"no compiled kernel: {_native.build_error()}")


def _warm_case(mesh, seed: int):
    """A mesh on which two coefficients were estimated (the Galerkin maps exist), the
    system of a third, and a perturbed solution of it."""
    darcy = get("darcy")
    fm = fem_mesh(mesh)
    draws = [darcy.sample_inputs(np.random.default_rng(seed + k)).at(fm) for k in range(3)]
    for inp in draws[:2]:
        uh = darcy.solve(fm, **inp)["u"]
        darcy.error_estimate(fm, {"u": 1.1 * uh}, **inp)
    inputs = draws[2]
    uh = darcy.solve(fm, **inputs)["u"]
    x, y = fm.points.T
    u = uh * (1 + 0.2 * np.sin(3 * np.pi * x) * np.cos(2 * np.pi * y)) + 0.01
    return darcy, fm, inputs, uh, u


def _plan(fm, system):
    return fm._store.get(f"native:{_digest(system.fixed)}")


@needs_compiler
@pytest.mark.parametrize("quad", [False, True])
def test_estimate_equals_the_python_path(quad, monkeypatch):
    darcy, fm, inputs, _, u = _warm_case(meshing.unit_square(0.04, quad=quad), seed=11)
    system = darcy.system(fm, **inputs)
    flux = darcy._flux(fm, darcy._inputs(fm, inputs))
    unit = darcy._unit_matrix(fm)
    fast = est.estimate_error(fm, system, u, flux, unit=unit)
    assert _plan(fm, system) is not None  # the compiled kernel ran
    monkeypatch.setenv("GNNOPS_NATIVE", "0")
    ref = est.estimate_error(fm, system, u, flux, unit=unit)
    assert fast.iterations == ref.iterations >= 2 and fast.converged == ref.converged
    assert fast.algebraic == pytest.approx(ref.algebraic, rel=1e-10)
    assert fast.total == pytest.approx(ref.total, rel=1e-10)
    assert np.abs(fast.correction - ref.correction).max() <= 1e-10 * np.abs(ref.correction).max()
    fixed = system.fixed
    assert np.array_equal(fast.correction[fixed], (system.g - u)[fixed])


@needs_compiler
@pytest.mark.parametrize("cycles", [0, 1, 3])
def test_correction_equals_the_python_path(cycles, monkeypatch):
    darcy, fm, inputs, uh, u = _warm_case(meshing.unit_square(0.04), seed=21)
    fast, info = darcy.correct(fm, {"u": u}, cycles=cycles, **inputs)
    assert _plan(fm, darcy.system(fm, **inputs)) is not None
    monkeypatch.setenv("GNNOPS_NATIVE", "0")
    ref, ref_info = darcy.correct(fm, {"u": u}, cycles=cycles, **inputs)
    assert info["cycles"] == ref_info["cycles"] == cycles
    np.testing.assert_allclose(info["residuals"], ref_info["residuals"], rtol=1e-9)
    scale = np.abs(ref["u"]).max()
    assert np.abs(fast["u"] - ref["u"]).max() <= 1e-10 * scale
    assert np.array_equal(fast["u"][fm.boundary], np.zeros(fm.boundary.sum()))  # g = 0
    if cycles == 3:  # three symmetric-V-cycle CG steps cut the error by > 100x
        m = est.lumped_mass(fm)
        err = np.sqrt(m @ (fast["u"] - uh) ** 2) / np.sqrt(m @ (u - uh) ** 2)
        assert err < 1e-2


@needs_compiler
def test_known_perturbation_through_the_kernel():
    """e = u - u_h is known when u is the discrete solution plus a chosen field."""
    darcy, fm, inputs, uh, _ = _warm_case(meshing.unit_square(0.03), seed=31)
    delta = 0.05 * np.sin(3 * np.pi * fm.points[:, 0]) * ~fm.boundary
    e = darcy.error_estimate(fm, {"u": uh + delta}, **inputs)
    assert _plan(fm, darcy.system(fm, **inputs)) is not None
    mass = est.lumped_mass(fm)
    assert e.algebraic * e.norm == pytest.approx(np.sqrt(mass @ delta**2), rel=0.01)
    assert e.converged


def test_disabled_kernel_leaves_the_python_path(monkeypatch):
    monkeypatch.setenv("GNNOPS_NATIVE", "0")
    assert not _native.enabled() and _native.library() is None
    darcy, fm, inputs, uh, _ = _warm_case(meshing.unit_square(0.047), seed=41)  # a mesh of its own
    delta = 0.05 * np.sin(2 * np.pi * fm.points[:, 1]) * ~fm.boundary
    e = darcy.error_estimate(fm, {"u": uh + delta}, **inputs)
    assert _plan(fm, darcy.system(fm, **inputs)) is None
    mass = est.lumped_mass(fm)
    assert e.algebraic * e.norm == pytest.approx(np.sqrt(mass @ delta**2), rel=0.01)


def test_failed_build_is_reported_and_not_fatal(monkeypatch, tmp_path):
    import shutil

    if shutil.which("cc") is None:
        pytest.skip("no C compiler")
    monkeypatch.setattr(_native, "_STATE", {})
    monkeypatch.setenv("GNNOPS_CACHE", str(tmp_path))
    monkeypatch.setenv("CC", "cc -fgnnops-no-such-option")
    assert _native.library() is None
    assert "gnnops-no-such-option" in (_native.build_error() or "")
    assert not list(tmp_path.rglob("*.so"))  # nothing half-written left in the cache
    monkeypatch.setenv("CC", "gnnops-no-such-compiler")
    monkeypatch.setattr(_native, "_STATE", {})
    assert _native.library() is None
    assert "no C compiler 'gnnops-no-such-compiler'" in _native.build_error()


@needs_compiler
def test_build_is_cached_by_source_hash(monkeypatch, tmp_path):
    monkeypatch.setattr(_native, "_STATE", {})
    monkeypatch.setenv("GNNOPS_CACHE", str(tmp_path))
    assert _native.library() is not None
    built = list(tmp_path.rglob("estimate-*.so"))
    assert len(built) == 1
    stamp = built[0].stat().st_mtime_ns
    monkeypatch.setattr(_native, "_STATE", {})
    assert _native.library() is not None  # loaded, not rebuilt
    assert built[0].stat().st_mtime_ns == stamp


def test_vector_problems_take_the_python_path():
    prob = get("elasticity")
    fm = fem_mesh(meshing.unit_square(0.1))
    inputs = {"E": np.full(fm.n_nodes, 2.0)}
    system = prob.system(fm, **inputs)
    assert native_plan(fm, system, None) is None


@needs_compiler
def test_plan_shares_the_hierarchys_arrays():
    """The plan holds addresses of the Python path's cached arrays, not copies (at 515k nodes
    the Galerkin maps alone are ~170 MB)."""
    darcy, fm, inputs, _, _ = _warm_case(meshing.unit_square(0.05), seed=51)
    plan = _plan(fm, darcy.system(fm, **inputs))
    assert plan is not None
    maps = fm._store[f"galerkin:{_digest(fm.boundary)}"]
    for arr in (maps[0].t1.data, maps[0].t1.indices, maps[0].t2.data, maps[-1].c_indices):
        assert any(np.shares_memory(arr, kept) for kept in plan._keep)


@needs_compiler
def test_plan_refuses_arrays_of_other_lengths():
    darcy, fm, inputs, uh, _ = _warm_case(meshing.unit_square(0.05), seed=61)
    system = darcy.system(fm, **inputs)
    plan = _plan(fm, system)
    w = est.lumped_mass(fm)[system.free]
    with pytest.raises(ValueError, match="do not fit this plan"):
        plan.algebraic_error(_native.library(), system.A, system.b, system.g, uh[:-1], w,
                             cycles=2, min_cycles=1, rtol=None, symmetric=True)


@needs_compiler
def test_library_in_a_writable_by_others_folder_is_not_loaded(monkeypatch, tmp_path):
    monkeypatch.setattr(_native, "_STATE", {})
    monkeypatch.setenv("GNNOPS_CACHE", str(tmp_path))
    assert _native.library() is not None
    folder = tmp_path / "native"
    folder.chmod(0o777)  # e.g. a shared scratch folder: another user could plant a library
    monkeypatch.setattr(_native, "_STATE", {})
    assert _native.library() is None
    assert "no group / other write permission" in _native.build_error()

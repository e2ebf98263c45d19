"""One sample of data generation (data/_worker.py): seeds, records, VTU files, run_task on a
mesh and a network problem against direct solves, reference transfer, completeness checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import skfem
from skfem.io.meshio import to_meshio

from gnnops.data import _worker as W
from gnnops.errors import DataError
from gnnops.problems import get
from gnnops.problems._fem import fem_mesh


@pytest.fixture
def mesh_ctx(tmp_path: Path):
    mesh = to_meshio(skfem.MeshTri().refined(3))
    prob = get("darcy")
    ctx = W.Context(root=tmp_path, problem=prob, seed=11, sample_options={}, family_options={},
                    meshes={0: mesh}, handles={0: fem_mesh(mesh)}, node_counts=[81])
    W.init_context(ctx)
    yield ctx
    W.init_context(None)


def test_sample_seed_and_record():
    want = int(np.random.SeedSequence([5, 2, 7]).generate_state(1)[0])
    assert W.sample_seed(5, 2, 7) == want
    task = W.Task("test", 2, 7, 1, "test/res1/00007.vtu")
    assert W.record_of(task, 5, np.int64(40)) == {
        "file": "test/res1/00007.vtu", "split": "test", "resolution": 1, "index": 7,
        "seed": want, "rng": [5, 2, 7], "nodes": 40}


def test_mesh_fields_shapes_and_errors():
    out = W.mesh_fields({"u": np.arange(3), "v": np.ones((3, 2, 2))}, 3)
    assert out["u"].dtype == np.float64 and out["u"].shape == (3,)
    assert out["v"].shape == (3, 4) and out["v"].flags.c_contiguous
    with pytest.raises(DataError, match=r"field 'u' has shape \[4\]; expected \[3, \.\.\.\]"):
        W.mesh_fields({"u": np.zeros(4)}, 3)


def test_run_task_mesh_equals_a_direct_solve(mesh_ctx):
    task = W.Task("train", 0, 3, 0, "train/res0/00003.vtu")
    result = W.run_task(task)
    assert result["record"] == W.record_of(task, 11, 81)
    assert result["shapes"] == {"a": [], "f": [], "u": []}
    assert set(result["times"]) == {"graph", "inputs", "solve", "write"}
    prob, handle = mesh_ctx.problem, mesh_ctx.handles[0]
    sample = prob.sample_inputs(np.random.default_rng([11, 0, 3]))  # the recorded rng
    inputs = prob.evaluate_inputs(sample, handle)
    written = W.read_vtu(mesh_ctx.root / task.file)
    np.testing.assert_array_equal(written.point_data["a"], inputs["a"])
    np.testing.assert_allclose(written.point_data["u"], prob.solve(handle, **inputs)["u"],
                               rtol=0, atol=1e-14)
    assert W.check_done(mesh_ctx.root, task, 81) == {"a": [], "f": [], "u": []}
    assert W.check_done(mesh_ctx.root, task, 80) is None  # another mesh: redo
    assert W.check_done(mesh_ctx.root, W.Task("train", 0, 4, 0, "missing.vtu"), 81) is None
    (mesh_ctx.root / task.file).write_bytes(b"<VTKFile truncated")
    assert W.check_done(mesh_ctx.root, task, 81) is None


def test_reference_solution_transfers_the_fine_solve(mesh_ctx):
    fine = mesh_ctx.handles[0]
    ident = sp.identity(81, format="csr")
    half = sp.csr_matrix(np.full((1, 81), 1 / 81))  # a one-node "mesh": the mean
    mesh_ctx.reference = W.Reference(handle=fine, transfer={0: ident, 1: half}, nodes=81)
    task = W.Task("val", 1, 0, 0, "val/res0/00000.vtu")
    prob = mesh_ctx.problem
    sample = prob.sample_inputs(np.random.default_rng([11, 1, 0]))
    u = prob.solve(fine, **prob.evaluate_inputs(sample, fine))["u"]
    np.testing.assert_allclose(W.reference_solution(mesh_ctx, task, sample, target=0)["u"], u,
                               atol=1e-15)
    np.testing.assert_allclose(W.reference_solution(mesh_ctx, task, sample, target=1)["u"],
                               [u.mean()], rtol=1e-12)


def test_run_task_network(tmp_path: Path):
    prob = get("network_diffusion", t_end=0.5, n_times=3)
    ctx = W.Context(root=tmp_path, problem=prob, seed=1, sample_options={}, family_options={},
                    meshes={}, handles={}, node_counts=[25], reference=None)
    W.init_context(ctx)
    try:
        task = W.Task("train", 0, 0, 0, "train/res0/00000.graphml", family="grid")
        result = W.run_task(task)
    finally:
        W.init_context(None)
    assert result["record"]["nodes"] == 25 and result["shapes"] == {"x0": [], "x": [3]}
    from gnnops.data._network import read_network_sample

    g, arrays = read_network_sample(tmp_path / task.file)
    np.testing.assert_allclose(arrays["x"], prob.solve(g, x0=arrays["x0"])["x"], atol=1e-12)
    assert W.check_done(tmp_path, task, None) == {"x0": [], "x": [3]}

"""Mesh variants in generation (``mesh_variants``): train / val samples cycle over moved
copies of the training mesh, the manifest records each sample's ``variant``, loading uses
its mesh, and reference targets are transferred to the variant's nodes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gnnops.data import generate, open_dataset, run_generation
from gnnops.data._worker import read_vtu
from gnnops.data.variants import boundary_nodes, mesh_variant
from gnnops.errors import DataError
from gnnops.meshing import make_geometry, unit_square
from gnnops.problems import get
from gnnops.problems.transfer import P1Transfer


def _spec(**kw) -> dict:
    return {"problem": "darcy", "resolutions": [0.2, 0.1], "n_train": 5, "n_val": 2,
            "n_test": 2, "seed": 4, "mesh_variants": 3, **kw}


@pytest.fixture(scope="module")
def ref_ds(tmp_path_factory) -> Path:
    return generate(_spec(reference_resolution=0.05), tmp_path_factory.mktemp("mv") / "ds",
                    progress=False)


def test_manifest_records_the_variants_and_the_meshes_are_written(ref_ds: Path) -> None:
    ds = open_dataset(ref_ds)
    assert sorted(p.name for p in (ref_ds / "meshes").iterdir()) == [
        "res0.vtu", "res0_v1.vtu", "res0_v2.vtu", "res1.vtu"]
    assert [s.get("variant") for s in ds.samples("train")] == [None, 1, 2, None, 1]
    assert [s.get("variant") for s in ds.samples("val")] == [None, 1]
    assert all("variant" not in s for s in ds.samples("test"))
    assert ds.manifest["spec"]["mesh_variants"] == 3
    canon = unit_square(0.2)
    for j in (1, 2):
        var = read_vtu(ref_ds / f"meshes/res0_v{j}.vtu")
        np.testing.assert_allclose(var.points, mesh_variant(canon, 4, "unit_square", j).points)
        fixed = boundary_nodes(canon)
        np.testing.assert_array_equal(var.points[fixed], canon.points[fixed])
    again = run_generation(_spec(reference_resolution=0.05), ref_ds, progress=False)
    assert again.new == 0 and again.skipped == 5 + 2 + 2 * 2  # a rerun keeps every sample


def test_loading_builds_each_sample_on_its_variant(ref_ds: Path) -> None:
    ds = open_dataset(ref_ds)
    graphs = ds.load("train")
    canon = graphs[0]
    for g, s in zip(graphs, ds.samples("train"), strict=True):
        j = s.get("variant", 0)
        name = f"meshes/res0_v{j}.vtu" if j else "meshes/res0.vtu"
        np.testing.assert_allclose(g.pos.numpy(), read_vtu(ref_ds / name).points[:, :2],
                                   rtol=1e-6, atol=1e-7)
        assert g.num_nodes == canon.num_nodes
        assert np.array_equal(g.edge_index.numpy(), canon.edge_index.numpy())
        assert (j == 0) == bool(np.allclose(g.pos.numpy(), canon.pos.numpy()))
    assert graphs[1].pos is graphs[4].pos  # one template per (resolution, variant)


def test_reference_targets_on_a_variant_are_the_transfer_to_its_nodes(ref_ds: Path) -> None:
    """y on a variant = the P1 interpolation of an independent solve on the reference mesh
    at the variant's node positions; the input is evaluated there too."""
    ds = open_dataset(ref_ds)
    prob = get("darcy")
    fine = unit_square(0.05)
    tr = P1Transfer(fine.points[:, :2], fine.cells_dict["triangle"])
    for i in (1, 2):
        rec, g = ds.samples("train")[i], ds.load("train")[i]
        sample = prob.sample_inputs(np.random.default_rng(rec["rng"]))
        u = np.asarray(prob.solve(fine, **prob.evaluate_inputs(sample, fine))["u"]).ravel()
        var = read_vtu(ref_ds / f"meshes/res0_v{rec['variant']}.vtu")
        np.testing.assert_allclose(g.y.numpy()[:, 0], tr(u, var.points[:, :2]),
                                   rtol=1e-5, atol=1e-7)
        a = np.asarray(prob.evaluate_inputs(sample, var)["a"]).ravel()
        np.testing.assert_allclose(g.x.numpy()[:, 0], a, rtol=1e-6)


def test_without_reference_each_variant_is_its_own_solve(tmp_path: Path) -> None:
    ds = open_dataset(generate(_spec(n_val=0, n_test=1), tmp_path / "own", progress=False))
    prob = get("darcy")
    rec, g = ds.samples("train")[2], ds.load("train")[2]
    var = read_vtu(tmp_path / "own" / "meshes/res0_v2.vtu")
    sample = prob.sample_inputs(np.random.default_rng(rec["rng"]))
    u = prob.solve(var, **prob.evaluate_inputs(sample, var))["u"]
    np.testing.assert_allclose(g.y.numpy()[:, 0], np.asarray(u).ravel(), rtol=1e-5, atol=1e-7)


def test_variants_cycle_once_per_round_of_geometries(tmp_path: Path) -> None:
    spec = _spec(n_train=6, n_val=0, n_test=1, mesh_variants=2, resolutions=[0.2],
                 geometries=["unit_square", "l_shape"], test_geometries=["random_polygon-2"])
    root = generate(spec, tmp_path / "multi", progress=False)
    ds = open_dataset(root)
    got = [(s["geometry"], s.get("variant", 0)) for s in ds.samples("train")]
    assert got == [("unit_square", 0), ("l_shape", 0), ("unit_square", 1), ("l_shape", 1),
                   ("unit_square", 0), ("l_shape", 0)]
    assert sorted(p.name for p in (root / "meshes").iterdir()) == [
        "l_shape_res0.vtu", "l_shape_res0_v1.vtu", "random_polygon-2_res0.vtu",
        "unit_square_res0.vtu", "unit_square_res0_v1.vtu"]
    g = ds.load("train")[3]
    want = mesh_variant(make_geometry("l_shape", 0.2), 4, "l_shape", 1).points[:, :2]
    np.testing.assert_allclose(g.pos.numpy(), want, rtol=1e-6, atol=1e-7)


def test_a_missing_variant_mesh_is_named(tmp_path: Path) -> None:
    root = generate(_spec(n_val=0, n_test=1), tmp_path / "gone", progress=False)
    (root / "meshes/res0_v1.vtu").unlink()
    with pytest.raises(DataError, match="mesh variant 1"):
        open_dataset(root).load("train")
    man = json.loads((root / "manifest.json").read_text())
    assert [s.get("variant") for s in man["samples"] if s["split"] == "train"] == \
        [None, 1, 2, None, 1]

"""Multi-geometry datasets: samples cycle over ``geometries``, one mesh per (geometry,
resolution), held-out ``test_geometries`` splits at every resolution, a reference mesh per
geometry, and unchanged digests for specs that do not use them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gnnops.data import GenerateSpec, generate, open_dataset
from gnnops.errors import ConfigError
from gnnops.meshing import make_geometry
from gnnops.problems import get
from gnnops.problems.transfer import P1Transfer

TRAIN = ["unit_square", "disk_with_holes-1", "random_polygon-2"]


def _spec(**kw) -> dict:
    return {"problem": "darcy", "resolutions": [0.2, 0.1], "n_train": 5, "n_val": 2,
            "n_test": 3, "seed": 4, "geometries": TRAIN, "test_geometries": ["l_shape"], **kw}


@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> Path:
    return generate(_spec(), tmp_path_factory.mktemp("mixed") / "ds", progress=False)


def test_samples_cycle_over_the_geometries(mixed: Path) -> None:
    man = json.loads((mixed / "manifest.json").read_text())
    assert man["geometries"] == TRAIN and man["test_geometries"] == ["l_shape"]
    splits = man["splits"]
    assert splits["train"]["geometries"] == {"unit_square": 2, "disk_with_holes-1": 2,
                                             "random_polygon-2": 1}
    assert splits["val"]["geometries"] == {"unit_square": 1, "disk_with_holes-1": 1}
    assert splits["test"]["geometries"] == dict.fromkeys(TRAIN, 1)
    assert splits["test_l_shape"] == {"resolution": None, "resolutions": [0, 1], "count": 3,
                                      "geometries": {"l_shape": 3}}
    for s in man["samples"]:
        want = "l_shape" if s["split"] == "test_l_shape" else TRAIN[s["index"] % 3]
        assert s["geometry"] == want
    files = sorted(p.name for p in (mixed / "meshes").iterdir())
    assert files == sorted(f"{g}_res{k}.vtu" for g in TRAIN + ["l_shape"] for k in (0, 1))
    for g in TRAIN + ["l_shape"]:
        assert man["nodes_per_geometry"][g] == [len(make_geometry(g, h).points)
                                                for h in (0.2, 0.1)]
    assert man["nodes_per_resolution"] == [
        round(np.mean([man["nodes_per_geometry"][g][k] for g in TRAIN])) for k in (0, 1)]


def test_loading_picks_each_samples_mesh(mixed: Path) -> None:
    ds = open_dataset(mixed)
    assert ds.splits == ["train", "val", "test", "test_l_shape"]
    for split in ds.splits:
        for k in ds.manifest["splits"][split]["resolutions"]:
            for rec, g in zip(ds.samples(split, k), ds.load(split, k), strict=True):
                mesh = make_geometry(rec["geometry"], (0.2, 0.1)[k])
                np.testing.assert_allclose(g.pos.numpy(), mesh.points[:, :2], atol=1e-6)
                assert g.num_nodes == rec["nodes"]
    # test and test_l_shape draw the same inputs (same split id and index)
    same = [(a["rng"], b["rng"]) for a, b in zip(ds.samples("test", 0),
                                                  ds.samples("test_l_shape", 0), strict=True)]
    assert all(a == b for a, b in same)


def test_held_out_geometry_is_evaluated_at_every_resolution(mixed: Path, toy_model: str,
                                                             tmp_path: Path) -> None:
    from gnnops.evaluation.metrics import evaluate
    from gnnops.training.config import config_from_dict
    from gnnops.training.trainer import train

    cfg = config_from_dict({
        "name": "mixed", "out_dir": str(tmp_path / "runs"),
        "data": {"generate": None, "path": str(mixed), "features": ["pos"]},
        "model": {"name": toy_model, "kwargs": {}}, "optim": {"epochs": 1},
        "train": {"progress": False, "device": "cpu"}})
    result = train(cfg)
    assert result.test_splits == ["test", "test_l_shape"]
    rows = evaluate(result.artifact_path, result.datasets, splits=result.test_splits,
                    examples=False)["rows"]
    assert [(r["split"], r["resolution"], r["samples"]) for r in rows] == [
        ("test", 0, 3), ("test", 1, 3), ("test_l_shape", 0, 3), ("test_l_shape", 1, 3)]
    assert [r["h"] for r in rows] == [0.2, 0.1, 0.2, 0.1]
    assert all(np.isfinite(r["rel_l2"]) and r["residual"] is not None for r in rows)


def test_reference_per_geometry(tmp_path: Path) -> None:
    spec = _spec(geometries=["unit_square", "random_polygon-2"], n_train=2, n_val=0, n_test=2,
                 test_geometries=["disk_with_holes-1"], reference_resolution=0.05)
    ds = open_dataset(generate(spec, tmp_path / "ref", progress=False))
    prob = get("darcy")
    for split in ("test", "test_disk_with_holes-1"):
        for k in (0, 1):
            for rec, g in zip(ds.samples(split, k), ds.load(split, k), strict=True):
                fine = make_geometry(rec["geometry"], 0.05)  # an independent reference solve
                sample = prob.sample_inputs(np.random.default_rng(rec["rng"]))
                u = prob.solve(fine, **prob.evaluate_inputs(sample, fine))["u"]
                tr = P1Transfer(fine.points[:, :2], fine.cells_dict["triangle"])
                want = tr(np.asarray(u).reshape(-1), g.pos.double().numpy())
                np.testing.assert_allclose(g.y.numpy()[:, 0], want, rtol=1e-5, atol=1e-7)


def test_old_specs_keep_their_digest() -> None:
    # computed before geometries / test_geometries existed (gnnops 228988f)
    assert GenerateSpec.from_dict({"problem": "darcy"}).digest() == "1a25e01600"
    assert GenerateSpec.from_dict({"problem": "darcy", "geometry": "l_shape"}).digest() \
        == "664dfffec6"
    base = GenerateSpec.from_dict({"problem": "darcy"})
    multi = GenerateSpec.from_dict({"problem": "darcy", "geometries": ["unit_square"]})
    held = GenerateSpec.from_dict({"problem": "darcy", "test_geometries": ["l_shape"]})
    assert len({base.digest(), multi.digest(), held.digest()}) == 3
    assert "geometries" not in base.to_dict() and "test_geometries" not in base.to_dict()
    assert not base.multi_geometry() and multi.multi_geometry() and held.multi_geometry()


@pytest.mark.parametrize("change, words", [
    ({"geometries": ["unit_square", "circle"]}, ["'data.generate.geometries[1]'", "'circle'"]),
    ({"geometries": ["l_shape"], "geometry": "l_shape"}, ["are exclusive"]),
    ({"geometries": []}, ["at least one geometry"]),
    ({"geometries": ["l_shape", "l_shape"]}, ["distinct", "l_shape"]),
    ({"test_geometries": ["unit_square"]}, ["held out", "unit_square"]),
    ({"geometries": ["box"], "test_geometries": ["l_shape"]}, ["one dimension"]),
    ({"geometry": "l_shape-3"}, ["'data.generate.geometry'", "'-<seed>'"]),
])
def test_bad_geometry_keys(change: dict, words: list[str]) -> None:
    d = {"problem": "darcy", **change}
    with pytest.raises(ConfigError) as exc:
        GenerateSpec.from_dict(d)
    for w in words:
        assert w in str(exc.value)


def test_network_problems_refuse_geometries() -> None:
    spec = GenerateSpec.from_dict({"problem": "network_diffusion", "resolutions": [20],
                                   "test_geometries": ["l_shape"]})
    with pytest.raises(ConfigError, match="for mesh problems"):
        spec.check_problem()

"""Tests of gnnops.surrogate.artifact_checks (through load_artifact): integrity over every part,
old artifacts, and malformed fields refused with ArtifactError before anything large is built."""

from __future__ import annotations

import json
import time
import zipfile
from pathlib import Path

import meshio
import numpy as np
import pytest
import torch
from training_fixtures import make_graphs

import gnnops.models
from gnnops.errors import ArtifactError
from gnnops.models import build, names
from gnnops.surrogate.artifact import load_artifact, save_artifact
from gnnops.surrogate.integrity import INTEGRITY_KEY, content_digest
from gnnops.surrogate.recipe import make_recipe
from gnnops.surrogate.surrogate import Surrogate

KW = dict(latent=8, depth=2, hidden_layers=1)


def _save(path: Path, name: str = "meshgraphnet", **kwargs) -> Path:
    torch.manual_seed(0)
    graphs = make_graphs(2, 0)
    recipe = make_recipe(graphs, inputs=["a"], input_dims=[1], targets=["u"], target_dims=[1],
                         features=["pos"], problem=None)
    net = build(name, in_channels=3, out_channels=1, edge_dim=3, pos_dim=2, **kwargs)
    norms = {"x.mean": torch.tensor([0.5, 0.5, 0.5]), "x.std": torch.tensor([2.0, 0.3, 0.3]),
             "y.mean": torch.tensor([0.1]), "y.std": torch.tensor([0.05])}
    sur = Surrogate(net, model_name=name, model_kwargs=net.config(), recipe=recipe,
                    normalizers=norms)
    return save_artifact(path, sur.to_artifact(problem=None, config={"name": "t"}, metrics={}))


@pytest.fixture
def art(tmp_path) -> Path:
    return _save(tmp_path / "model.pt", **KW)


def _edit(art: Path, out: Path, change, *, reseal: bool = True) -> Path:
    """Load the payload, apply ``change(payload, meta)``, optionally recompute the digest."""
    p = torch.load(art, weights_only=True)
    meta = json.loads(p["meta"])
    change(p, meta)
    if reseal:
        meta[INTEGRITY_KEY] = content_digest(meta, p["state_dict"], p["normalizers"])
    p["meta"] = json.dumps(meta)
    torch.save(p, out)
    return out


# ------------------------------------------------------------------------------- integrity
def test_saved_artifact_carries_a_digest_and_loads(art) -> None:
    meta = json.loads(torch.load(art, weights_only=True)["meta"])
    assert meta[INTEGRITY_KEY].startswith("sha256:")
    a = load_artifact(art)
    assert a.model_name == "meshgraphnet" and float(a.normalizers["y.mean"]) == pytest.approx(0.1)


@pytest.mark.parametrize("part", ["normalizers", "recipe", "config", "model_name", "problem"])
def test_edit_of_any_part_fails_to_load(art, tmp_path, part) -> None:
    def change(p, meta):
        if part == "normalizers":
            p["normalizers"]["y.mean"] = p["normalizers"]["y.mean"] + 1.0  # shifts predictions
        elif part == "recipe":
            meta["recipe"]["train_stats"]["input_max"] = [1e9]
        elif part == "config":
            meta["config"]["name"] = "other"
        elif part == "model_name":
            meta["model_name"] = "meshgraphnet "
        else:
            meta["problem"] = "darcy"

    bad = _edit(art, tmp_path / "bad.pt", change, reseal=False)
    with pytest.raises(ArtifactError, match=r"integrity check failed: its normalizers, recipe "
                                            r"or metadata differ from what was saved"):
        load_artifact(bad)


def test_old_artifact_without_digest_loads_with_a_warning(art, tmp_path) -> None:
    old = _edit(art, tmp_path / "old.pt", lambda p, m: m.pop(INTEGRITY_KEY), reseal=False)
    with pytest.warns(UserWarning, match=r"predates whole-artifact integrity checks: only its "
                                         r"weights are verified.*re-save"):
        a = load_artifact(old)
    torch.testing.assert_close(a.normalizers["x.std"], torch.tensor([2.0, 0.3, 0.3]))
    back = load_artifact(save_artifact(tmp_path / "resaved.pt", a))  # re-saved: sealed
    assert back.recipe == a.recipe

    def weights(p, m):
        m.pop(INTEGRITY_KEY)
        k = sorted(p["state_dict"])[0]
        p["state_dict"][k] = p["state_dict"][k] + 1.0

    with pytest.raises(ArtifactError, match="weights checksum does not match"):
        load_artifact(_edit(art, tmp_path / "oldw.pt", weights, reseal=False))
    bare = _edit(art, tmp_path / "bare.pt",
                 lambda p, m: (m.pop(INTEGRITY_KEY), m.pop("checksum")), reseal=False)
    with pytest.raises(ArtifactError, match="carries no checksum"):
        load_artifact(bare)


# --------------------------------------------------------------------------- not artifacts
def test_mesh_file_given_as_artifact_is_named(tmp_path) -> None:
    m = meshio.Mesh(np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0]]), [("triangle", [[0, 1, 2]])])
    m.write(tmp_path / "in.vtu")
    with pytest.raises(ArtifactError, match=r"in\.vtu' is a mesh file \(\.vtu\), not a model "
                                            r"artifact"):
        load_artifact(tmp_path / "in.vtu")
    (tmp_path / "in.vtu").rename(tmp_path / "renamed.pt")
    with pytest.raises(ArtifactError, match=r"is an XML file .*not a model artifact"):
        load_artifact(tmp_path / "renamed.pt")
    (tmp_path / "g.graphml").write_text("<graphml/>")
    with pytest.raises(ArtifactError, match=r"is a network file \(\.graphml\)"):
        load_artifact(tmp_path / "g.graphml")
    with pytest.raises(ArtifactError, match="not a regular file"):
        load_artifact(tmp_path)


def test_compressed_entry_is_refused_as_a_possible_bomb(art, tmp_path) -> None:
    with zipfile.ZipFile(art) as src, zipfile.ZipFile(tmp_path / "z.pt", "w",
                                                      zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
    with pytest.raises(ArtifactError, match=r"is compressed .*decompression bomb"):
        load_artifact(tmp_path / "z.pt")


# ----------------------------------------------------------------------- malformed metadata
def test_metadata_nested_200k_deep(art, tmp_path) -> None:
    p = torch.load(art, weights_only=True)
    p["meta"] = '{"model_name": "meshgraphnet", "config": ' + "[" * 200_000 + "]" * 200_000 + "}"
    torch.save(p, tmp_path / "deep.pt")
    with pytest.raises(ArtifactError, match="nested at most 64 levels"):
        load_artifact(tmp_path / "deep.pt")
    shallow = _edit(art, tmp_path / "d100.pt",  # parses, but deeper than any real metadata
                    lambda p, m: m["metrics"].update(x=json.loads("[" * 100 + "]" * 100)))
    with pytest.raises(ArtifactError, match="nested at most 64 levels"):
        load_artifact(shallow)


@pytest.mark.parametrize("key,value,match", [
    ("model_kwargs", [8], "metadata 'model_kwargs' of type dict"),
    ("recipe", "mesh", "metadata 'recipe' of type dict"),
    ("version", 3, "metadata 'version' of type str"),
    ("problem", ["darcy"], "metadata 'problem' of type str or null"),
])
def test_metadata_field_of_wrong_type(art, tmp_path, key, value, match) -> None:
    with pytest.raises(ArtifactError, match=match):
        load_artifact(_edit(art, tmp_path / "t.pt", lambda p, m: m.update({key: value})))


def test_wide_latent_is_refused_without_allocating(art, tmp_path, monkeypatch) -> None:
    """A 200,000-wide latent (about 480 GB of weights) is compared on the meta device."""
    devices = []
    real = gnnops.models.build

    def spy(*a, **k):
        devices.append(torch.empty(0).device.type)
        return real(*a, **k)

    monkeypatch.setattr(gnnops.models, "build", spy)
    bad = _edit(art, tmp_path / "w.pt", lambda p, m: m["model_kwargs"].update(latent=200_000))
    t0 = time.monotonic()
    with pytest.raises(ArtifactError, match=r"weights do not fit model 'meshgraphnet' .*file "
                                            r"\[8, .*\] vs model \[200000"):
        load_artifact(bad)
    assert time.monotonic() - t0 < 5.0 and devices == ["meta"]


def test_huge_depth_stops_early(art, tmp_path) -> None:
    bad = _edit(art, tmp_path / "d.pt", lambda p, m: m["model_kwargs"].update(depth=10**9))
    t0 = time.monotonic()
    with pytest.raises(ArtifactError, match=r"far more layers than the \d+ weight tensors"):
        load_artifact(bad)
    assert time.monotonic() - t0 < 5.0


@pytest.mark.parametrize("kwargs", [
    {"latent": "8"}, {"latent": [8]}, {"latent": 8.5}, {"depth": -1}, {"hidden_layers": None},
    {"unknown": 1}, {"in_channels": {"a": 1}},
])
def test_kwargs_of_wrong_type(art, tmp_path, kwargs) -> None:
    bad = _edit(art, tmp_path / "k.pt", lambda p, m: m["model_kwargs"].update(kwargs))
    with pytest.raises(ArtifactError, match="cannot rebuild model 'meshgraphnet' from the "
                                            "artifact"):
        load_artifact(bad)


def test_zero_stride_tensor_claiming_terabytes(art, tmp_path) -> None:
    def change(p, m):
        p["normalizers"]["x.mean"] = torch.zeros(1).expand(10**6, 10**6)  # 4 TB view of 4 B

    with pytest.raises(ArtifactError, match=r"tensor 'x.mean' of shape \[1000000, 1000000\] to "
                                            r"be backed by 4000000000000 bytes"):
        load_artifact(_edit(art, tmp_path / "s.pt", change, reseal=False))  # checked first


@pytest.mark.parametrize("change,match", [
    (lambda p, m: p["normalizers"].update({"x.mean": torch.zeros(5)}),
     r"normalizer 'x.mean' to be a float vector of 3 values \(got torch.float32 of shape \[5\]"),
    (lambda p, m: p["normalizers"].update({"y.std": torch.zeros(1)}), "positive stds"),
    (lambda p, m: p["normalizers"].update({"x.std": torch.tensor([1.0, float("nan"), 1.0])}),
     "finite values"),
    (lambda p, m: m["recipe"].update(num_node_types=10**9, features=["node_type_onehot"]),
     r"'num_node_types' as an integer in \[1, 3\]"),
    (lambda p, m: m["recipe"].update(input_dims=[7]), "input widths \\[7\\] to fit the model's 3"),
    (lambda p, m: m["recipe"].update(inputs=5), "recipe 'inputs' as a list of names"),
    (lambda p, m: m["recipe"].update(target_dims=["1"]), "recipe 'target_dims' as a list of int"),
    (lambda p, m: m["recipe"]["train_stats"].update(input_min=[0.0, 1.0]),
     r"input_min/input_max with 1 values each"),
    (lambda p, m: m["recipe"]["train_stats"].update(nodes_max="many"), "'nodes_max' as a number"),
])
def test_recipe_and_normalizers_must_fit_the_model(art, tmp_path, change, match) -> None:
    with pytest.raises(ArtifactError, match=match):
        load_artifact(_edit(art, tmp_path / "r.pt", change))


def test_oversized_metadata(art, tmp_path) -> None:
    p = torch.load(art, weights_only=True)
    p["meta"] = json.dumps({"model_name": "meshgraphnet", "version": "x" * (17 * 2**20)})
    torch.save(p, tmp_path / "big.pt")
    with pytest.raises(ArtifactError, match="metadata of at most 16777216 characters"):
        load_artifact(tmp_path / "big.pt")


@pytest.mark.parametrize("name", names())
def test_every_registered_model_passes_the_meta_check(tmp_path, name) -> None:
    """A new model must build on the meta device, or no artifact of it would load."""
    path = _save(tmp_path / f"{name}.pt", name)
    a = load_artifact(path)
    sur = Surrogate.from_artifact(a)
    for k, v in sur.model.state_dict().items():
        torch.testing.assert_close(v, a.state_dict[k], rtol=0, atol=0, equal_nan=True)

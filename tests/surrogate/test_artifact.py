"""Tests of gnnops.surrogate.artifact: the recipe in the file (typed in memory, the same JSON
on disk, pre-typed artifacts still load) and the model name held once."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import torch
from training_fixtures import make_graphs

from gnnops.errors import ArtifactError
from gnnops.models import build
from gnnops.surrogate.artifact import (
    FORMAT_VERSION,
    MAGIC,
    load_artifact,
    save_artifact,
    weights_checksum,
)
from gnnops.surrogate.recipe import Recipe, make_recipe
from gnnops.surrogate.surrogate import Surrogate

KW = dict(latent=8, depth=2, hidden_layers=1)
NORMS = {"x.mean": torch.tensor([0.5, 0.5, 0.5]), "x.std": torch.tensor([2.0, 0.3, 0.3]),
         "y.mean": torch.tensor([0.1]), "y.std": torch.tensor([0.05])}
CONFIG = {"name": "run", "model": {"name": "meshgraphnet", "kwargs": KW}}


def _surrogate() -> Surrogate:
    torch.manual_seed(0)
    recipe = make_recipe(make_graphs(2, 0), inputs=["a"], input_dims=[1], targets=["u"],
                         target_dims=[1], features=["pos"], problem=None)
    net = build("meshgraphnet", in_channels=3, out_channels=1, edge_dim=3, pos_dim=2, **KW)
    return Surrogate(net, model_kwargs=net.config(), recipe=recipe, normalizers=NORMS)


def _meta(path: Path) -> dict:
    return json.loads(torch.load(path, weights_only=True)["meta"])


def test_recipe_is_typed_in_memory_and_plain_json_in_the_file(tmp_path) -> None:
    sur = _surrogate()
    path = save_artifact(tmp_path / "m.pt", sur.to_artifact(problem=None, config=CONFIG,
                                                            metrics={}))
    stored = _meta(path)["recipe"]
    assert stored == sur.recipe.to_json()  # a JSON object, loaded with weights_only=True
    assert set(stored) == {"kind", "inputs", "input_dims", "targets", "target_dims",
                           "features", "problem", "num_node_types", "undirected",
                           "train_stats"}  # the keys of the pre-typed dict, no more
    back = load_artifact(path)
    assert isinstance(back.recipe, Recipe) and back.recipe == sur.recipe


def test_model_name_is_stored_once_and_derived_elsewhere(tmp_path) -> None:
    sur = _surrogate()
    assert sur.model_name == "meshgraphnet"  # from the model's registry name
    path = save_artifact(tmp_path / "m.pt", sur.to_artifact(problem=None, config=CONFIG,
                                                            metrics={}))
    meta = _meta(path)
    assert meta["model_name"] == "meshgraphnet"
    assert meta["config"]["model"] == {"kwargs": KW}  # no second copy in the file
    back = load_artifact(path)
    assert back.config["model"] == {"name": "meshgraphnet", "kwargs": KW}  # derived
    assert Surrogate.from_artifact(back).model_name == "meshgraphnet"


def test_a_disagreeing_model_name_is_refused() -> None:
    from gnnops.errors import ModelError

    sur = _surrogate()
    with pytest.raises(ModelError, match=r"'gno' does not match the model's registry name "
                                         r"'meshgraphnet'"):
        Surrogate(sur.model, model_name="gno", model_kwargs={}, recipe=sur.recipe,
                  normalizers=NORMS)


def _pre_typed_file(path: Path, recipe: dict, config: dict) -> Path:
    """An artifact exactly as gnnops wrote it before the recipe was typed: a plain recipe
    dict, ``model.name`` in the config too, a weights checksum and nothing newer."""
    sur = _surrogate()
    state = {k: v.detach().clone() for k, v in sur.model.state_dict().items()}
    meta = {"model_name": "meshgraphnet", "model_kwargs": sur.model_kwargs, "recipe": recipe,
            "problem": None, "config": config, "metrics": {"val": 0.5}, "version": "0.1.0",
            "checksum": weights_checksum(state)}
    torch.save({"magic": MAGIC, "format_version": FORMAT_VERSION,
                "meta": json.dumps(meta, sort_keys=True), "state_dict": state,
                "normalizers": dict(NORMS)}, path)
    return path


def test_artifact_written_before_the_typed_recipe_loads(tmp_path) -> None:
    plain = _surrogate().recipe.to_json()
    del plain["undirected"]  # a field added after the first artifacts were written
    path = _pre_typed_file(tmp_path / "old.pt", plain, CONFIG)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # it may warn that it predates newer checks
        art = load_artifact(path)
    assert isinstance(art.recipe, Recipe) and art.recipe.inputs == ["a"]
    assert art.recipe.undirected is False and art.recipe.train_stats.nodes_min == 25
    assert art.config["model"]["name"] == "meshgraphnet"
    batch = _surrogate().prepare(make_graphs(1, 0)[0])
    with torch.no_grad():
        assert Surrogate.from_artifact(art)(batch).shape == (25, 1)


def test_malformed_recipe_in_a_file_names_the_field(tmp_path) -> None:
    bad = {**_surrogate().recipe.to_json(), "kind": "grid"}
    path = _pre_typed_file(tmp_path / "bad.pt", bad, CONFIG)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ArtifactError, match=r"'.*bad.pt' is malformed: recipe field "
                                                r"'recipe.kind' expects one of 'mesh', "
                                                r"'network', got 'grid'"):
            load_artifact(path)

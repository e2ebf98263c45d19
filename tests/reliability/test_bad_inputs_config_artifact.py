"""Bad-input corpus, run configs, data-generation specs and model artifacts from strangers:
unknown keys, wrong types, broken YAML; wrong magic, truncation, another format version, a
payload carrying a pickled object (never run), a weights checksum that does not match, an
artifact of a different model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from reliability_fixtures import make_artifact, reseal

from gnnops.data import GenerateSpec
from gnnops.data.spec import load_spec
from gnnops.errors import ArtifactError, ConfigError
from gnnops.inference import Predictor
from gnnops.surrogate.artifact import FORMAT_VERSION, MAGIC, load_artifact
from gnnops.training.config import load_config


# ------------------------------------------------------------------------------- configs
def test_config_unknown_key_is_named(tmp_path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text("optim:\n  lr: 0.001\n  learning_rate: 0.01\n")
    with pytest.raises(ConfigError, match="optim.learning_rate") as exc:
        load_config(p)
    assert "lr" in str(exc.value)  # lists the valid keys


def test_config_wrong_type_and_bad_override(tmp_path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text("optim:\n  epochs: many\n")
    with pytest.raises(ConfigError, match=r"optim.epochs.*expects int.*'many'"):
        load_config(p)
    with pytest.raises(ConfigError, match="optim.lr"):
        load_config(overrides=["optim.lr=abc"])


def test_config_broken_yaml_and_missing_file(tmp_path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text("optim: {lr: 0.1\n")
    with pytest.raises(ConfigError, match="c.yaml"):
        load_config(p)
    with pytest.raises(ConfigError, match="none.yaml"):
        load_config(tmp_path / "none.yaml")


def test_generate_spec_unknown_key_type_and_values(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"unknown config key 'data.generate.n_trian'; expected "
                                          r"one of: .*n_train.*; did you mean 'n_train'\?"):
        GenerateSpec.from_dict({"problem": "darcy", "n_trian": 3})
    with pytest.raises(ConfigError, match=r"config key 'data.generate.n_train' expects int, "
                                          r"got '3'"):
        GenerateSpec.from_dict({"problem": "darcy", "n_train": "3"})
    with pytest.raises(ConfigError, match=r"'data.generate.resolutions' expects positive "
                                          r"numbers, got \[0.1, -0.05\]"):
        GenerateSpec.from_dict({"problem": "darcy", "resolutions": [0.1, -0.05]})
    with pytest.raises(ConfigError, match=r"config key 'data.generate.geometry' expects one of "
                                          r"'unit_square'.*, got 'circle'"):
        GenerateSpec.from_dict({"problem": "darcy", "geometry": "circle"})
    with pytest.raises(ConfigError,
                       match="missing required config key 'data.generate.problem'"):
        GenerateSpec.from_dict({"n_train": 3})
    p = tmp_path / "d.yaml"
    p.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="expected a mapping of spec keys"):
        load_spec(p)


# ----------------------------------------------------------------------------- artifacts
@pytest.fixture
def art(tmp_path) -> Path:
    return make_artifact(tmp_path / "model.pt")


def _payload(path: Path) -> dict:
    return torch.load(path, weights_only=True)


def test_good_artifact_loads_and_predicts(art) -> None:
    """Control: the untouched artifact loads, so every failure below is the damage."""
    a = load_artifact(art)
    assert a.model_name == "meshgraphnet" and a.recipe.inputs == ["a"]


def test_wrong_magic(art, tmp_path) -> None:
    p = _payload(art)
    p["magic"] = "someone-elses-format"
    torch.save(p, tmp_path / "x.pt")
    with pytest.raises(ArtifactError, match=rf"not a gnnops artifact \(expected magic "
                                            rf"'{MAGIC}', got 'someone-elses-format'\)"):
        load_artifact(tmp_path / "x.pt")
    torch.save({"weight": torch.zeros(2)}, tmp_path / "plain.pt")  # a bare state dict
    with pytest.raises(ArtifactError, match="not a gnnops artifact"):
        load_artifact(tmp_path / "plain.pt")


@pytest.mark.parametrize("keep", [0.0, 0.1, 0.5, 0.99])
def test_truncated_artifact(art, tmp_path, keep) -> None:
    raw = art.read_bytes()
    (tmp_path / "t.pt").write_bytes(raw[: int(len(raw) * keep)])
    with pytest.raises(ArtifactError, match=r"cannot read model artifact .*t\.pt"):
        load_artifact(tmp_path / "t.pt")


def test_text_file_as_artifact(tmp_path) -> None:
    (tmp_path / "m.pt").write_text("this is not a model\n")
    with pytest.raises(ArtifactError, match=r"cannot read model artifact .*m\.pt"):
        load_artifact(tmp_path / "m.pt")


@pytest.mark.parametrize("version", [0, FORMAT_VERSION + 1, "1"])
def test_format_version_mismatch(art, tmp_path, version) -> None:
    p = _payload(art)
    p["format_version"] = version
    torch.save(p, tmp_path / "v.pt")
    with pytest.raises(ArtifactError, match=rf"format version {version!r}; this gnnops reads "
                                            rf"version {FORMAT_VERSION}"):
        load_artifact(tmp_path / "v.pt")


class _Payload:
    """Unpickling this would create the marker file: proof that code ran."""

    marker = ""

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_pickled_object_is_refused_and_never_run(art, tmp_path) -> None:
    marker = tmp_path / "pwned"
    evil = _Payload()
    evil.marker = str(marker)
    p = _payload(art)
    p["normalizers"]["x.mean"] = evil  # hidden deep inside the payload
    torch.save(p, tmp_path / "evil.pt")
    with pytest.raises(ArtifactError, match="refusing to load .*pickled objects"):
        load_artifact(tmp_path / "evil.pt")
    with pytest.raises(ArtifactError, match="refusing to load"):
        Predictor.from_artifact(tmp_path / "evil.pt")
    assert not marker.exists()


def test_weights_checksum_mismatch(art, tmp_path) -> None:
    p = _payload(art)
    name = sorted(p["state_dict"])[0]
    p["state_dict"][name] = p["state_dict"][name] + 1e-3  # silently modified weights
    torch.save(p, tmp_path / "w.pt")
    with pytest.raises(ArtifactError, match="weights checksum does not match"):
        load_artifact(tmp_path / "w.pt")


def test_artifact_of_a_different_model(art, tmp_path) -> None:
    p = _payload(art)
    meta = json.loads(p["meta"])
    meta["model_name"] = "gno"  # weights and kwargs of a MeshGraphNet
    p["meta"] = json.dumps(meta)
    torch.save(reseal(p), tmp_path / "other.pt")  # a consistent digest: the model check fails
    with pytest.raises(ArtifactError, match="cannot rebuild model 'gno' from the artifact"):
        Predictor.from_artifact(tmp_path / "other.pt")
    meta["model_name"], meta["model_kwargs"]["latent"] = "meshgraphnet", 16
    p["meta"] = json.dumps(meta)
    torch.save(reseal(p), tmp_path / "wider.pt")
    with pytest.raises(ArtifactError, match="weights do not fit model 'meshgraphnet'"):
        Predictor.from_artifact(tmp_path / "wider.pt")


def test_malformed_metadata(art, tmp_path) -> None:
    p = _payload(art)
    meta = json.loads(p["meta"])
    del meta["model_name"]
    p["meta"] = json.dumps(meta)
    torch.save(p, tmp_path / "m1.pt")
    with pytest.raises(ArtifactError, match="malformed: expected metadata with a 'model_name'"):
        load_artifact(tmp_path / "m1.pt")
    p = _payload(art)
    meta = json.loads(p["meta"])
    meta["recipe"]["inputs"] = ["a", "b"]
    p["meta"] = json.dumps(meta)
    torch.save(p, tmp_path / "m2.pt")
    with pytest.raises(ArtifactError, match=r"recipe 'inputs' \['a', 'b'\] and 'input_dims'"):
        load_artifact(tmp_path / "m2.pt")
    p = _payload(art)
    p["meta"] = "{not json"
    torch.save(p, tmp_path / "m3.pt")
    with pytest.raises(ArtifactError, match="malformed metadata"):
        load_artifact(tmp_path / "m3.pt")
    with pytest.raises(ArtifactError, match="not found"):
        load_artifact(tmp_path / "missing.pt")

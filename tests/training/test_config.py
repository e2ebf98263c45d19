"""Tests of gnnops.training.config: YAML, overrides, unknown keys, types, model kwargs."""

from __future__ import annotations

from pathlib import Path

import pytest

from gnnops.errors import ConfigError
from gnnops.training.config import (
    RunConfig,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    load_config,
)

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_yaml_values_and_defaults(tmp_path: Path) -> None:
    p = tmp_path / "run.yaml"
    p.write_text("name: r1\nseed: 7\noptim:\n  lr: 0.002\n  epochs: 3\n"
                 "data:\n  batch_size: 2\n  features: [pos, boundary]\n")
    cfg = load_config(p)
    assert (cfg.name, cfg.seed, cfg.optim.lr, cfg.optim.epochs) == ("r1", 7, 0.002, 3)
    assert cfg.data.batch_size == 2 and cfg.data.features == ["pos", "boundary"]
    assert cfg.optim.weight_decay == RunConfig().optim.weight_decay  # untouched default
    assert cfg.run_dir == Path("runs") / "r1"


def test_overrides_parse_yaml_and_nest() -> None:
    cfg = load_config(overrides=["optim.lr=3e-4", "model.kwargs.width=32", "train.bf16=true",
                                 "data.generate.n_train=7", "eval.splits=[test]"])
    assert cfg.optim.lr == pytest.approx(3e-4) and isinstance(cfg.optim.lr, float)
    assert cfg.model.kwargs == {**RunConfig().model.kwargs, "width": 32}
    assert cfg.train.bf16 is True
    assert cfg.data.generate.n_train == 7 and cfg.data.generate.n_val == 10  # rest default
    assert cfg.eval.splits == ["test"]
    cfg = load_config(overrides=["optim.epochs=4"])
    assert isinstance(cfg.optim.epochs, int) and cfg.optim.epochs == 4


def test_wrong_type_names_key_and_value() -> None:
    with pytest.raises(ConfigError) as e:
        load_config(overrides=["optim.lr=abc"])
    assert str(e.value) == "config key 'optim.lr' expects float, got 'abc'"
    with pytest.raises(ConfigError, match=r"'data.batch_size' expects int, got 2.5"):
        load_config(overrides=["data.batch_size=2.5"])
    with pytest.raises(ConfigError, match=r"'train.device' expects one of 'auto', 'cpu'"):
        load_config(overrides=["train.device=gpu"])
    with pytest.raises(ConfigError, match=r"'optim.epochs' expects an integer >= 1, got 0"):
        load_config(overrides=["optim.epochs=0"])


def test_unknown_keys_named_with_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        load_config(overrides=["optim.lrr=1"])
    assert "'optim.lrr'" in str(e.value) and "lr, weight_decay, epochs" in str(e.value)
    p = tmp_path / "bad.yaml"
    p.write_text("train:\n  bf17: true\n")
    with pytest.raises(ConfigError, match=r"unknown config key 'train.bf17'.*bf16"):
        load_config(p)
    with pytest.raises(ConfigError, match=r"unknown config key 'colour'"):
        config_from_dict({"colour": 1})


def test_model_kwargs_checked_against_constructor() -> None:
    with pytest.raises(ConfigError, match=r"'model.kwargs.widht' for model 'gno'.*width"):
        load_config(overrides=["model.name=gno", "model.kwargs.widht=3"])
    with pytest.raises(ConfigError, match=r"'model.kwargs.in_channels' is set from the data"):
        load_config(overrides=["model.kwargs.in_channels=3"])
    with pytest.raises(ConfigError, match=r"unknown model 'mgn'; expected one of: gno, "):
        load_config(overrides=["model.name=mgn", "model.kwargs={}"])


def test_another_model_gets_its_own_default_kwargs(tmp_path: Path) -> None:
    assert load_config().model.kwargs["slices"] == 32  # the default transolver
    assert load_config(overrides=["model.name=gno"]).model.kwargs == {}
    assert load_config(overrides=["model.name=gno", "model.kwargs.width=8"]
                       ).model.kwargs == {"width": 8}
    p = tmp_path / "mgn.yaml"
    p.write_text("model:\n  name: meshgraphnet\n")
    assert load_config(p).model.kwargs == {}


def test_data_path_replaces_default_generate() -> None:
    cfg = load_config(overrides=["data.path=meshes/*.vtu"])
    assert cfg.data.generate is None and cfg.data.path == "meshes/*.vtu"
    with pytest.raises(ConfigError, match="exclusive"):
        load_config(overrides=["data.path=x", "data.generate.n_train=3"])


def test_data_generate_is_typed_and_checked_at_load(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        load_config(overrides=["data.generate.n_trian=3"])
    msg = str(e.value)
    assert msg.startswith("unknown config key 'data.generate.n_trian'; expected one of: ")
    assert "n_train, n_val, n_test" in msg and msg.endswith("did you mean 'n_train'?")
    p = tmp_path / "typo.yaml"
    p.write_text("data:\n  generate:\n    problem: darcy\n    resolutins: [0.1]\n")
    with pytest.raises(ConfigError, match=r"'data.generate.resolutins'.*did you mean "
                                          r"'resolutions'\?"):
        load_config(p)
    with pytest.raises(ConfigError, match=r"'data.generate.n_val' expects int, got 'x'"):
        load_config(overrides=["data.generate.n_val=x"])
    with pytest.raises(ConfigError, match=r"'data.generate.train_resolution'.*\[0, 3\]"):
        load_config(overrides=["data.generate.train_resolution=5"])


def test_problem_and_its_options_checked_at_load() -> None:
    with pytest.raises(ConfigError, match=r"unknown config key "
                                          r"'data.generate.problem_options.kindd' for problem "
                                          r"'darcy'.*expected one of: kind, .*did you mean 'kind'"):
        load_config(overrides=["data.generate.problem_options={kindd: fno}"])
    with pytest.raises(ConfigError, match=r"'data.generate.solver_options.n_mode' .*"
                                          r"expected one of: box, n_modes"):
        load_config(overrides=["data.generate.solver_options={n_mode: 4}"])
    with pytest.raises(ConfigError, match=r"'data.generate.problem' expects one of: darcy, .*"
                                          r"did you mean 'darcy'\?"):
        load_config(overrides=["data.generate.problem=darcyy"])
    cfg = load_config(overrides=["data.generate.problem_options={kind: lognormal}"])
    assert cfg.data.generate.problem_options == {"kind": "lognormal"}


def test_did_you_mean_in_every_section() -> None:
    with pytest.raises(ConfigError, match=r"'optim.lrr'.*did you mean 'lr'\?"):
        load_config(overrides=["optim.lrr=1"])
    with pytest.raises(ConfigError, match=r"'train.device' expects one of .*got 'cpuu'; "
                                          r"did you mean 'cpu'\?"):
        load_config(overrides=["train.device=cpuu"])
    with pytest.raises(ConfigError, match=r"unknown model 'gnoo'.*did you mean 'gno'\?"):
        load_config(overrides=["model.name=gnoo", "model.kwargs={}"])
    with pytest.raises(ConfigError, match=r"'model.kwargs.widht'.*did you mean 'width'\?"):
        load_config(overrides=["model.kwargs.widht=3"])
    with pytest.raises(ConfigError) as e:
        load_config(overrides=["optim.zzz=1"])
    assert "did you mean" not in str(e.value)  # no near miss, no suggestion


def test_override_syntax_errors() -> None:
    with pytest.raises(ConfigError, match="key.sub=value"):
        apply_overrides({}, ["optim.lr"])
    with pytest.raises(ConfigError, match="'seed' is not a section"):
        apply_overrides({"seed": 1}, ["seed.x=2"])
    with pytest.raises(ConfigError, match="not found"):
        load_config("/nonexistent/run.yaml")


def test_dict_round_trip() -> None:
    cfg = load_config(overrides=["optim.lr=0.01", "name=x"])
    assert config_from_dict(config_to_dict(cfg)) == cfg


def test_default_yaml_equals_dataclass_defaults() -> None:
    assert (CONFIGS / "default.yaml").is_file()
    cfg = load_config()
    # the one difference: the default run trains as 2 CPU ranks; a config that does not say
    # so gets one process (rollout configs, batch sizes below 2, your own data)
    assert cfg.train.processes == 2 and RunConfig().train.processes == 1
    cfg.train.processes = 1
    assert cfg == RunConfig()


@pytest.mark.parametrize("name", ["default", "darcy_gno", "darcy_meshgraphnet",
                                  "darcy_multiscale", "darcy_transolver",
                                  "elasticity_meshgraphnet", "elasticity_transolver"])
def test_shipped_configs_load(name: str) -> None:
    cfg = load_config(CONFIGS / f"{name}.yaml")
    assert cfg.data.generate is not None and cfg.model.name in ("gno", "meshgraphnet",
                                                                 "multiscale", "transolver")

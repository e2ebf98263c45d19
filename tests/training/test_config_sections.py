"""Tests of gnnops.training.config_sections: section defaults and the value checks."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from gnnops.data.spec import GenerateSpec
from gnnops.errors import ConfigError
from gnnops.training import config as config_module
from gnnops.training.config_sections import DataConfig, RunConfig, check_values


def test_defaults_are_the_darcy_run() -> None:
    cfg = RunConfig()
    spec = cfg.data.generate
    assert isinstance(spec, GenerateSpec) and spec.problem == "darcy"
    assert (spec.n_train, spec.n_val, spec.n_test, spec.resolutions) == (
        2200, 10, 30, [0.08, 0.04, 0.02, 0.01])
    assert spec.reference_resolution == 0.01 and len(spec.geometries) == 8
    assert spec.test_geometries and not set(spec.test_geometries) & set(spec.geometries)
    assert cfg.model.name == "transolver" and cfg.model.kwargs["width"] == 64
    assert cfg.run_dir == Path("runs") / "darcy_default"
    check_values(cfg)  # the defaults pass their own checks
    # every instance gets its own mutable defaults
    assert DataConfig().generate is not DataConfig().generate
    assert RunConfig().model.kwargs is not RunConfig().model.kwargs


def test_the_loading_module_re_exports_the_sections() -> None:
    for name in ("RunConfig", "DataConfig", "ModelConfig", "OptimConfig", "TrainConfig",
                 "EvalConfig", "RolloutConfig"):
        assert name in config_module.__all__
    assert config_module.RunConfig is RunConfig


@pytest.mark.parametrize("change, message", [
    ({"seed": -1}, "config key 'seed' expects an integer >= 0, got -1"),
    ({"optim": {"lr": 0.0}}, "config key 'optim.lr' expects a float > 0, got 0.0"),
    ({"data": {"val_fraction": 1.0}},
     "config key 'data.val_fraction' expects a float in (0, 1), got 1.0"),
    ({"rollout": {"steps": 0}}, "config key 'rollout.steps' expects an integer >= 1 or null, "
                                "got 0"),
    ({"train": {"tensorboard_image_every": -1}},
     "config key 'train.tensorboard_image_every' expects an integer >= 0, got -1"),
])
def test_value_checks_name_key_expectation_and_value(change, message) -> None:
    cfg = RunConfig()
    for section, values in change.items():
        if isinstance(values, dict):
            setattr(cfg, section, dataclasses.replace(getattr(cfg, section), **values))
        else:
            setattr(cfg, section, values)
    with pytest.raises(ConfigError) as e:
        check_values(cfg)
    assert str(e.value) == message


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "a\\b", "x" * 201])
def test_run_name_must_be_a_plain_folder_name(name) -> None:
    with pytest.raises(ConfigError, match="config key 'name' expects a plain folder name"):
        check_values(RunConfig(name=name))


def test_exclusive_and_task_dependent_keys() -> None:
    cfg = RunConfig(data=DataConfig(path="meshes/*.vtu"))  # generate still the default
    with pytest.raises(ConfigError, match="'data.generate' and 'data.path' are exclusive"):
        check_values(cfg)
    cfg = RunConfig(task="rollout")
    cfg.train.physics_weight = 0.5
    with pytest.raises(ConfigError, match=r"'train.physics_weight' expects 0 with task "
                                          r"'rollout'.*got 0.5"):
        check_values(cfg)

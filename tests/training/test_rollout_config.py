"""The ``rollout`` config section (training/rollout_config.py): defaults, typed loading,
value checks."""

from __future__ import annotations

import pytest

from gnnops.errors import ConfigError
from gnnops.training.config import load_config
from gnnops.training.rollout_config import RolloutConfig


def test_defaults_and_overrides():
    assert RolloutConfig() == RolloutConfig(noise_std=0.0, dt_feature=True, steps=None,
                                            max_samples=None, write_trajectories=True,
                                            anchor=None)
    cfg = load_config(overrides=["task=rollout", "rollout.noise_std=0.01", "rollout.steps=20",
                                 "rollout.anchor=0", "rollout.dt_feature=false"])
    r = cfg.rollout
    assert isinstance(r, RolloutConfig)
    assert (r.noise_std, r.steps, r.anchor, r.dt_feature) == (0.01, 20, 0.0, False)
    assert isinstance(r.anchor, float)  # an int in YAML widens to float
    assert load_config().rollout == RolloutConfig()


@pytest.mark.parametrize("override,msg", [
    ("rollout.stpes=3", r"unknown config key 'rollout.stpes'; expected one of: noise_std, "
                        r"dt_feature, steps, max_samples, write_trajectories, anchor; did you "
                        r"mean 'steps'\?"),
    ("rollout.steps=2.5", r"config key 'rollout.steps' expects int or null, got 2.5"),
    ("rollout.noise_std=-0.1", r"config key 'rollout.noise_std' expects a float >= 0"),
    ("rollout.max_samples=0", r"config key 'rollout.max_samples' expects"),
])
def test_bad_values_name_the_key(override, msg):
    with pytest.raises(ConfigError, match=msg):
        load_config(overrides=["task=rollout", override])

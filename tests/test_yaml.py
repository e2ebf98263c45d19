"""gnnops._yaml: configs and specs load like yaml.safe_load, but alias bombs, recursive
aliases, deep nesting and oversized documents fail fast with a ConfigError."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from gnnops._yaml import MAX_DEPTH, load_yaml, read_yaml
from gnnops.data.spec import load_spec
from gnnops.errors import ConfigError
from gnnops.training.config import apply_overrides, load_config


def _bomb(levels: int = 9) -> str:
    """The "billion laughs" of YAML: 9 levels of 9 aliases, 9^9 = 387M leaves."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        refs = ",".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "\n".join(lines) + "\n"


def test_plain_documents_and_benign_aliases_load() -> None:
    assert load_yaml("a: 1\nb: [x, 2.5]\n", "'t'") == {"a": 1, "b": ["x", 2.5]}
    doc = load_yaml("base: &b {lr: 0.1, depth: 3}\nrun: {opts: *b}\nmerged: {<<: *b, lr: 1}\n",
                    "'t'")
    assert doc["run"]["opts"] == {"lr": 0.1, "depth": 3}
    assert doc["merged"] == {"lr": 1, "depth": 3}
    assert load_yaml("", "'t'") is None
    with pytest.raises(ConfigError, match="'t' is not valid YAML"):
        load_yaml("a: [1, 2\n", "'t'")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_yaml("!!python/object:os.system {}\n", "'t'")  # still a safe loader


def test_alias_bomb_fails_fast() -> None:
    text = _bomb()
    assert len(text) < 1024
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match=r"more than 200,000 values once its aliases are "
                                          r"expanded \(an alias bomb\?\)"):
        load_yaml(text, "config file 'x.yaml'")
    assert time.perf_counter() - t0 < 1.0


def test_recursive_alias_deep_nesting_and_size() -> None:
    with pytest.raises(ConfigError, match="recursive alias"):
        load_yaml("a: &a [1, *a]\n", "'t'")
    deep = "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5)
    with pytest.raises(ConfigError, match=f"nesting deeper than {MAX_DEPTH}"):
        load_yaml(deep, "'t'")
    with pytest.raises(ConfigError, match="nesting too deep|nesting deeper"):
        load_yaml("[" * 50_000, "'t'")
    with pytest.raises(ConfigError, match="YAML configs are limited"):
        load_yaml("a: " + "x" * (17 << 20), "'t'")


def test_run_config_spec_and_overrides_use_the_bounded_loader(tmp_path: Path) -> None:
    cfg = tmp_path / "run.yaml"
    cfg.write_text("data:\n  generate:\n    problem: darcy\n    problem_options:\n"
                   + "".join(f"      {line}\n" for line in _bomb().splitlines()))
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match=r"config file '.*run.yaml' is refused: .*alias bomb"):
        load_config(cfg)
    with pytest.raises(ConfigError, match=r"data config '.*run.yaml' is refused"):
        load_spec(cfg)
    with pytest.raises(ConfigError, match="the value of config key 'data.x' is refused"):
        apply_overrides({}, ["data.x=" + _bomb().replace("\n", ", ").join("{}")])
    assert time.perf_counter() - t0 < 2.0


def test_read_yaml_refuses_a_fifo(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "c.yaml")
    with pytest.raises(ConfigError, match="regular file"):
        read_yaml(tmp_path / "c.yaml")
    with pytest.raises(ConfigError, match="cannot read config file"):
        read_yaml(tmp_path / "missing.yaml")

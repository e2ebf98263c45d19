"""The one config validator (gnnops/_typed.py): type names, coercion rules, dataclass
sections with dotted keys, valid keys listed and near misses suggested."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import pytest

from gnnops._typed import build_dataclass, coerce, did_you_mean, type_name
from gnnops.errors import ArtifactError, ConfigError


@dataclass
class Inner:
    n_train: int = 8
    kind: Literal["fno", "smooth"] = "fno"

    def validate(self, *, where: str) -> None:
        if self.n_train < 1:
            raise ConfigError(f"config key '{where}.n_train' expects >= 1, got {self.n_train}")


@dataclass
class Outer:
    name: str
    lr: float = 1e-3
    sizes: list[int] = field(default_factory=list)
    inner: Inner = field(default_factory=Inner)
    maybe: Inner | None = None
    extra: dict[str, float] = field(default_factory=dict)
    anything: Any = None


def test_did_you_mean_and_type_names():
    assert did_you_mean("n_trian", ["n_train", "n_val"]) == "; did you mean 'n_train'?"
    assert did_you_mean("zzz", ["n_train"]) == ""
    assert type_name(int) == "int" and type_name(type(None)) == "null"
    assert type_name(Literal["a", "b"]) == "one of 'a', 'b'"
    assert type_name(int | None) == "int or null"
    assert type_name(list[float]) == "list of float" and type_name(list) == "list"
    assert type_name(dict[str, int]) == "mapping" and type_name(Inner) == "mapping"


def test_coerce_rules():
    assert coerce(3, float, "k") == 3.0 and isinstance(coerce(3, float, "k"), float)
    assert coerce("3e-4", float, "k") == pytest.approx(3e-4)  # YAML 1.1 reads it as a string
    assert coerce([1, 2], list[int], "k") == [1, 2] and coerce((1,), list[int], "k") == [1]
    assert coerce(None, int | None, "k") is None and coerce(2, int | None, "k") == 2
    assert coerce({"a": 1}, dict[str, float], "k") == {"a": 1.0}
    assert coerce(object, Any, "k") is object
    with pytest.raises(ConfigError, match=r"^config key 'k' expects int, got True$"):
        coerce(True, int, "k")  # a bool is not an int
    with pytest.raises(ConfigError, match=r"^config key 'k' expects bool, got 1$"):
        coerce(1, bool, "k")
    with pytest.raises(ConfigError, match=r"config key 'k' expects float, got 'abc'"):
        coerce("abc", float, "k")
    with pytest.raises(ConfigError, match=r"config key 'k\[1\]' expects int, got 'x'"):
        coerce([1, "x"], list[int], "k")
    with pytest.raises(ConfigError, match=r"config key 'k.b' expects float, got 'no'"):
        coerce({"a": 1, "b": "no"}, dict[str, float], "k")
    with pytest.raises(ConfigError, match="expects a mapping with string keys"):
        coerce({1: 2.0}, dict[str, float], "k")
    with pytest.raises(ConfigError, match=r"expects one of 'fno', 'smooth', got 'fn0'; did you "
                                          r"mean 'fno'\?"):
        coerce("fn0", Literal["fno", "smooth"], "k")


def test_build_dataclass_nested_sections():
    cfg = build_dataclass(Outer, {"name": "run", "lr": 1, "sizes": [4, 8],
                                  "inner": {"n_train": 3}, "maybe": {"kind": "smooth"}}, "")
    assert cfg == Outer(name="run", lr=1.0, sizes=[4, 8], inner=Inner(3, "fno"),
                        maybe=Inner(8, "smooth"))
    assert build_dataclass(Inner, None, "data") == Inner()  # empty section: defaults


def test_build_dataclass_errors_name_the_dotted_key():
    with pytest.raises(ConfigError, match=r"^unknown config key 'inner.n_trian'; expected one "
                                          r"of: n_train, kind; did you mean 'n_train'\?$"):
        build_dataclass(Outer, {"name": "x", "inner": {"n_trian": 3}}, "")
    with pytest.raises(ConfigError, match=r"^missing required config key 'name' \(str\)$"):
        build_dataclass(Outer, {}, "")
    with pytest.raises(ConfigError, match=r"config section 'run.inner' expects a mapping, "
                                          r"got 3"):
        build_dataclass(Outer, {"name": "x", "inner": 3}, "run")
    with pytest.raises(ConfigError, match=r"config key 'run.inner.n_train' expects >= 1, got 0"):
        build_dataclass(Outer, {"name": "x", "inner": {"n_train": 0}}, "run")  # validate(where)
    with pytest.raises(ArtifactError, match=r"^unknown recipe field 'recipe.bogus'; expected "
                                            r"one of: n_train, kind$"):
        build_dataclass(Inner, {"bogus": 1}, "recipe", error=ArtifactError,
                        label="recipe field")

"""Tests of gnnops.surrogate.integrity: one digest over metadata, weights and normalizers."""

from __future__ import annotations

import hashlib

import pytest
import torch

from gnnops.surrogate.integrity import INTEGRITY_KEY, canonical_meta, content_digest

META = {"model_name": "m", "model_kwargs": {"latent": 8}, "recipe": {"inputs": ["a"]},
        "config": {"lr": 0.001}, "metrics": {}, "version": "1", "checksum": "abc"}
STATE = {"w": torch.arange(6.0).reshape(2, 3), "b": torch.zeros(2)}
NORMS = {"x.mean": torch.tensor([1.0]), "x.std": torch.tensor([2.0])}


def test_digest_is_sha256_and_ignores_key_order_and_its_own_field() -> None:
    d = content_digest(META, STATE, NORMS)
    assert d.startswith("sha256:") and len(d) == len("sha256:") + 64
    shuffled = dict(reversed(list(META.items())))
    assert content_digest({**shuffled, INTEGRITY_KEY: "sha256:old"},
                          dict(reversed(list(STATE.items()))), NORMS) == d
    assert canonical_meta(META) == canonical_meta({INTEGRITY_KEY: "x", **META})
    assert b" " not in canonical_meta(META)  # no whitespace: one spelling per value


@pytest.mark.parametrize("edit", [
    lambda m, s, n: m["config"].update(lr=0.002),
    lambda m, s, n: m["recipe"].update(inputs=["b"]),
    lambda m, s, n: m.update(metrics={"val": 1.0}),
    lambda m, s, n: n.update({"x.mean": torch.tensor([1.0001])}),
    lambda m, s, n: n.update({"x.mean": torch.tensor([1.0], dtype=torch.float64)}),
    lambda m, s, n: s.update(w=s["w"].reshape(3, 2)),  # same bytes, another shape
    lambda m, s, n: s.update(extra=torch.zeros(0)),  # an added empty tensor
    lambda m, s, n: (s.update(x=s.pop("w"))),  # a renamed weight
])
def test_every_part_changes_the_digest(edit) -> None:
    import copy

    m, s, n = copy.deepcopy(META), dict(STATE), dict(NORMS)
    edit(m, s, n)
    assert content_digest(m, s, n) != content_digest(META, STATE, NORMS)


def test_moving_a_tensor_between_sections_changes_the_digest() -> None:
    moved = content_digest(META, {**STATE, "x.mean": NORMS["x.mean"]},
                           {"x.std": NORMS["x.std"]})
    assert moved != content_digest(META, STATE, NORMS)


def test_known_answer_of_an_empty_artifact() -> None:
    """The serialization is fixed: length-prefixed fields in a documented order."""
    def field(b: bytes) -> bytes:
        return len(b).to_bytes(8, "little") + b

    stream = (field(b"gnnops-artifact-integrity/1") + field(b"{}")
              + field(b"state_dict") + field(b"0") + field(b"normalizers") + field(b"0"))
    assert content_digest({}, {}, {}) == "sha256:" + hashlib.sha256(stream).hexdigest()
    one = (field(b"gnnops-artifact-integrity/1") + field(b"{}") + field(b"state_dict")
           + field(b"1") + field(b"w") + field(b"torch.float32") + field(b"(1,)")
           + field(torch.tensor([1.0]).numpy().tobytes()) + field(b"normalizers") + field(b"0"))
    assert content_digest({}, {"w": torch.tensor([1.0])}, {}) == \
        "sha256:" + hashlib.sha256(one).hexdigest()

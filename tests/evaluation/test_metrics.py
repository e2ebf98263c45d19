"""relative_l2 against hand numbers; evaluate() on a dataset with known errors."""

from __future__ import annotations

import numpy as np
import pytest

from gnnops.errors import DataError
from gnnops.evaluation import evaluate, relative_l2


def test_relative_l2_hand_numbers():
    assert relative_l2([3.3, 4.4], [3.0, 4.0]) == pytest.approx(0.1, abs=1e-12)  # 0.5 / 5
    true = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert relative_l2(true + [[0, 1], [0, 0]], true) == pytest.approx(2 ** -0.5, abs=1e-12)
    assert relative_l2(true, true) == 0.0
    with pytest.raises(DataError, match=r"shape \[2\] .* shape \[3\]"):
        relative_l2([1, 2], [1, 2, 3])
    with pytest.raises(DataError, match="zero reference"):
        relative_l2([1, 2], [0, 0])


def test_relative_l2_weights_are_node_volumes():
    # error 1 at a node of volume 3, reference 1 and 2 at volumes 3 and 1: sqrt(3 / 7)
    assert relative_l2([2.0, 2.0], [1.0, 2.0], [3.0, 1.0]) == pytest.approx((3 / 7) ** 0.5)
    # refining a node into two halves leaves the weighted error unchanged
    assert relative_l2([2.0, 2.0, 2.0], [1.0, 1.0, 2.0], [1.5, 1.5, 1.0]) == pytest.approx(
        (3 / 7) ** 0.5)
    with pytest.raises(DataError, match="1 weights for 2 nodes"):
        relative_l2([1, 2], [1, 2], [1.0])


def test_evaluate_averages_per_resolution(hand):
    res = evaluate(hand.model, hand.dataset)
    rows = res["rows"]
    assert [(r["split"], r["resolution"], r["nodes"], r["samples"]) for r in rows] == [
        ("test", 0, 9.0, 2), ("test", 1, 25.0, 2)]
    for r in rows:
        # samples u = 1 and u = 2, prediction u + 0.1: errors 0.1 and 0.05
        assert r["rel_l2"] == pytest.approx(0.075, abs=1e-6)
        assert r["rel_l2_std"] == pytest.approx(0.025, abs=1e-6)
        assert r["rel_l2_max"] == pytest.approx(0.1, abs=1e-6)
        assert r["residual"] is None and r["residual_reference"] is None
    assert [r["h"] for r in rows] == [0.5, 0.25]
    assert len(res["examples"]) == 2 and res["examples"][1]["pred"].shape == (25, 1)
    assert res["parameters"] == 3


def test_evaluate_unknown_split_is_an_error(hand):
    with pytest.raises(DataError, match="unknown split 'nope'.*expected one of: train, test"):
        evaluate(hand.model, hand.dataset, splits=["nope"])

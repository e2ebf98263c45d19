"""Karhunen-Loeve random fields: coefficients, evaluation, box mapping."""

import json

import numpy as np
import pytest

from gnnops.errors import ProblemError
from gnnops.problems.random_fields import evaluate_field, kl_std, sample_field


def test_kl_std_matches_closed_form():
    std = kl_std(4, 2, alpha=2.0, tau=3.0)
    assert std[0, 0] == 0.0  # mean mode removed
    # tau^(alpha-1) (pi^2 |k|^2 + tau^2)^(-alpha/2)
    assert std[1, 0] == pytest.approx(3.0 / (np.pi**2 + 9.0))
    assert std[2, 3] == pytest.approx(3.0 / (13 * np.pi**2 + 9.0))
    assert kl_std(3, 3, basis="sin")[0, 0, 0] == pytest.approx(3.0 / (3 * np.pi**2 + 9.0))


def _direct(coeffs, pts, basis):
    out = np.zeros(len(pts))
    for idx in np.ndindex(*coeffs.shape):
        term = np.full(len(pts), coeffs[idx])
        for axis, k in enumerate(idx):
            if basis == "cos":
                term *= (1.0 if k == 0 else np.sqrt(2)) * np.cos(np.pi * k * pts[:, axis])
            else:
                term *= np.sqrt(2) * np.sin(np.pi * (k + 1) * pts[:, axis])
        out += term
    return out


@pytest.mark.parametrize("dim,basis", [(2, "cos"), (3, "cos"), (2, "sin"), (3, "sin")])
def test_evaluate_matches_direct_sum(dim, basis):
    rng = np.random.default_rng(1)
    params = sample_field(rng, dim=dim, n_modes=5, basis=basis)
    pts = rng.random((7, dim))
    got = evaluate_field(params, pts, chunk=3)  # several chunks
    np.testing.assert_allclose(got, _direct(np.array(params["coeffs"]), pts, basis), atol=1e-12)


def test_sine_field_vanishes_on_box_and_box_is_mapped():
    rng = np.random.default_rng(2)
    params = sample_field(rng, dim=2, n_modes=8, basis="sin", box=[[0, 0], [2, 4]])
    edge = np.array([[0.0, 1.3], [2.0, 0.7], [0.5, 0.0], [1.1, 4.0]])
    np.testing.assert_allclose(evaluate_field(params, edge), 0.0, atol=1e-12)
    unit = dict(params, box=[[0, 0], [1, 1]])
    x = np.array([[0.3, 0.9], [0.77, 0.1]])
    np.testing.assert_allclose(evaluate_field(params, x * [2, 4]), evaluate_field(unit, x))
    json.dumps(params)  # parameters are JSON-serializable


def test_variance_matches_sum_of_squared_std():
    rng = np.random.default_rng(3)
    pt = np.array([[0.0, 0.0]])  # every cosine mode is c_k there
    vals = np.array([evaluate_field(sample_field(rng, n_modes=6), pt)[0] for _ in range(4000)])
    std = kl_std(6, 2)
    c = np.where(np.arange(6) == 0, 1.0, 2.0)  # c_k^2
    expected = float((std**2 * c[:, None] * c[None, :]).sum())
    assert vals.var() == pytest.approx(expected, rel=0.08)


def test_dimension_mismatch_raises():
    params = sample_field(np.random.default_rng(0), dim=2, n_modes=3)
    with pytest.raises(ProblemError, match=r"\[N, 2\]"):
        evaluate_field(params, np.zeros((4, 3)))


def test_outside_the_box_the_cosine_field_is_mirrored():
    """Documented behaviour for shapes outside the box: the even, 2-periodic extension."""
    params = sample_field(np.random.default_rng(4), dim=2, n_modes=8)
    rng = np.random.default_rng(5)
    pts = rng.random((20, 2))
    g = evaluate_field(params, pts)
    np.testing.assert_allclose(evaluate_field(params, 2.0 - pts), g, atol=1e-12)  # x -> 2 - x
    np.testing.assert_allclose(evaluate_field(params, -pts), g, atol=1e-12)
    np.testing.assert_allclose(evaluate_field(params, pts + 2.0), g, atol=1e-12)
    wide = dict(params, box=[[0.0, 0.0], [2.0, 2.0]])  # a bounding box: no mirror inside
    np.testing.assert_allclose(evaluate_field(wide, 2.0 * pts), g, atol=1e-12)

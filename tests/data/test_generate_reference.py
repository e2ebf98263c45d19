"""Reference protocol: solve once on a fine mesh, transfer to every resolution."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gnnops.data import GenerateSpec, generate, open_dataset
from gnnops.errors import ConfigError
from gnnops.meshing import unit_square
from gnnops.problems import get
from gnnops.problems.transfer import P1Transfer


def _spec(**kw) -> dict:
    return {"problem": "darcy", "resolutions": [0.1, 0.05], "n_train": 1, "n_val": 0,
            "n_test": 2, "seed": 3, **kw}


def test_reference_targets_are_closer_to_the_converged_solution(tmp_path: Path) -> None:
    own = open_dataset(generate(_spec(), tmp_path / "own", progress=False))
    ref = open_dataset(generate(_spec(reference_resolution=0.025), tmp_path / "ref",
                                progress=False))
    prob = get("darcy")
    fine = unit_square(0.0125)  # an independent, finer solve as the truth
    tr = P1Transfer(fine.points[:, :2], fine.cells_dict["triangle"])
    for k in (0, 1):
        g_own, g_ref = own.load("test", k)[0], ref.load("test", k)[0]
        np.testing.assert_allclose(g_own.x.numpy(), g_ref.x.numpy())  # same inputs
        u_fine = _fine_solution(prob, ref, k, fine)
        truth = tr(u_fine, g_ref.pos.numpy()[:, :2])
        e_own = np.linalg.norm(g_own.y.numpy()[:, 0] - truth) / np.linalg.norm(truth)
        e_ref = np.linalg.norm(g_ref.y.numpy()[:, 0] - truth) / np.linalg.norm(truth)
        assert e_ref < 0.5 * e_own, (k, e_ref, e_own)


def _fine_solution(prob, ds, k, fine) -> np.ndarray:
    """Solve test sample 0 on ``fine`` with the generator's own input draw."""
    rec = ds.samples("test", k)[0]
    rng = np.random.default_rng(rec["rng"])
    sample = prob.sample_inputs(rng)
    inputs = prob.evaluate_inputs(sample, fine)
    return np.asarray(prob.solve(fine, **inputs)["u"]).reshape(-1)


def test_reference_must_be_finer_than_every_resolution() -> None:
    with pytest.raises(ConfigError, match="reference_resolution"):
        GenerateSpec.from_dict(_spec(reference_resolution=0.2)).validate()


def test_digest_unchanged_without_reference() -> None:
    spec = GenerateSpec.from_dict(_spec())
    assert "reference_resolution" not in spec.to_dict()
    assert GenerateSpec.from_dict(_spec(reference_resolution=0.02)).digest() != spec.digest()


def test_multi_fidelity_mix(tmp_path: Path) -> None:
    """reference_train = 2 of 4: samples 0, 1 carry the reference targets, 2, 3 their own
    mesh's solve (bit-identical to a dataset without reference), val / test the reference."""
    kw = {"n_train": 4, "n_val": 1, "n_test": 1}
    own = open_dataset(generate(_spec(**kw), tmp_path / "own", progress=False))
    ref = open_dataset(generate(_spec(reference_resolution=0.025, **kw), tmp_path / "ref",
                                progress=False))
    mix = open_dataset(generate(_spec(reference_resolution=0.025, reference_train=2, **kw),
                                tmp_path / "mix", progress=False))
    g_own, g_ref, g_mix = (d.load("train", 0) for d in (own, ref, mix))
    assert [g.fidelity for g in g_mix] == [1.0, 1.0, 0.0, 0.0]
    assert [s["fidelity"] for s in mix.samples("train", 0)] == ["reference"] * 2 + ["mesh"] * 2
    for i in range(4):
        np.testing.assert_array_equal(g_mix[i].x.numpy(), g_own[i].x.numpy())
        same = g_ref[i] if i < 2 else g_own[i]
        other = g_own[i] if i < 2 else g_ref[i]
        np.testing.assert_array_equal(g_mix[i].y.numpy(), same.y.numpy())
        assert not np.allclose(g_mix[i].y.numpy(), other.y.numpy())
    for split in ("val", "test"):
        assert all(g.fidelity == 1.0 for g in mix.load(split))
        np.testing.assert_array_equal(mix.load(split, 0)[0].y.numpy(),
                                      ref.load(split, 0)[0].y.numpy())
    assert not hasattr(own.load("train", 0)[0], "fidelity")


def test_multi_fidelity_needs_a_reference_and_a_valid_count() -> None:
    with pytest.raises(ConfigError, match="reference_train"):
        GenerateSpec.from_dict(_spec(reference_train=1)).validate()
    with pytest.raises(ConfigError, match="reference_train"):
        GenerateSpec.from_dict(_spec(reference_resolution=0.02, reference_train=5)).validate()
    spec = GenerateSpec.from_dict(_spec(reference_resolution=0.02))
    assert "reference_train" not in spec.to_dict()
    assert GenerateSpec.from_dict(_spec(reference_resolution=0.02, reference_train=1)
                                  ).digest() != spec.digest()

"""Error estimate, flags and correction of predictions (gnnops.inference.trust)."""

from __future__ import annotations

import csv
import json
from types import SimpleNamespace

import meshio
import numpy as np
import pytest
from inference_fixtures import coefficient, make_artifact, square_mesh

import gnnops
from gnnops.cli import main
from gnnops.errors import ProblemError
from gnnops.inference import Predictor
from gnnops.inference.trust import flag_code, trust_flags
from gnnops.problems import get
from gnnops.problems._fem import fem_mesh
from gnnops.problems.estimators import lumped_mass

SPACING = "spacing_out_of_range: mean edge length 0.01 outside the training range [0.1, 0.1]"
INPUT = "input_out_of_range: 'a' spans [30, 30], training range [3, 12]"


def _est(total=0.05, alg=0.04, disc=0.03, converged=True):
    return SimpleNamespace(total=total, algebraic=alg, discretization=disc,
                           converged=converged, iterations=3)


def test_trust_flags_estimate_decides_and_training_range_becomes_notes():
    # a verified, small estimate: the training-range facts are notes, nothing is flagged
    flags, notes = trust_flags([SPACING, INPUT], _est(), 0.2)
    assert flags == [] and notes == [SPACING, INPUT]
    # above the threshold: flagged with both parts in the message
    flags, notes = trust_flags([INPUT], _est(total=0.31, alg=0.3, disc=0.08), 0.2)
    assert [flag_code(f) for f in flags] == ["error_estimate_high"]
    assert "0.31 > 0.2 (algebraic 0.3, discretization 0.08)" in flags[0] and notes == [INPUT]
    # an unconverged estimate cannot vouch: the training-range flags stay flags
    flags, notes = trust_flags([INPUT], _est(converged=False), 0.2)
    assert [flag_code(f) for f in flags] == ["input_out_of_range", "estimate_unverified"]
    assert notes == []
    # a mesh too coarse for the solution (discretization part beyond the asymptotic range)
    flags, _ = trust_flags([], _est(total=0.7, alg=0.1, disc=0.69), 0.2)
    assert [flag_code(f) for f in flags] == ["estimate_unverified", "error_estimate_high"]
    # no estimate: the old training-range flags, plus why it is missing
    flags, notes = trust_flags([SPACING], None, 0.2, "estimate_unavailable: boom")
    assert flags == [SPACING, "estimate_unavailable: boom"] and notes == []
    # non-finite flags are never notes
    flags, _ = trust_flags(["non_finite_input: x"], _est(), 0.2)
    assert flags == ["non_finite_input: x"]


@pytest.fixture
def darcy_art(tmp_path):
    return make_artifact(tmp_path / "d.pt", problem="darcy", inputs=("a", "f"))


def _reference(model, m, a):
    pred = model.predict(m, a=a, f=1.0)
    return pred, get("darcy").solve(pred.data, a=a, f=np.ones(len(a)))["u"]


def test_predict_reports_estimate_indicator_and_flags(darcy_art, tmp_path):
    model = gnnops.load(darcy_art)
    m = square_mesh(33)  # 4x finer than training (a resolution-dependent MeshGraphNet)
    a = coefficient(m)
    pred, u_ref = _reference(model, m, a)
    # the untrained network is far off; its estimate says so (algebraic part ~ true error)
    fm = fem_mesh(pred.data)
    w = lumped_mass(fm)
    true_alg = np.sqrt(w @ (pred.fields["u"] - u_ref) ** 2 / (w @ u_ref**2))
    assert pred.error_algebraic == pytest.approx(true_alg, rel=0.1)
    assert pred.error_estimate == pytest.approx(np.hypot(pred.error_algebraic,
                                                         pred.error_discretization))
    assert [flag_code(f) for f in pred.flags] == ["error_estimate_high"]
    assert sorted(flag_code(f) for f in pred.notes) == ["spacing_out_of_range",
                                                        "too_many_nodes"]
    assert "estimate" in pred.timings and pred.residual is not None
    summary = pred.summary()
    assert summary["error_estimate"] == pred.error_estimate and summary["notes"] == pred.notes
    back = meshio.read(pred.write(tmp_path / "p.vtu"))
    np.testing.assert_allclose(back.point_data["error_indicator"], pred.error_indicator,
                               rtol=1e-6)
    assert "residual" in back.point_data  # the raw residual keeps its own name
    # a prediction a few % off the discrete solution: estimated within 10 %, no flag;
    # cycles=0 only re-estimates (Dirichlet values set to the data)
    x, y = m.points[:, 0], m.points[:, 1]
    pred.fields = {"u": u_ref * (1 + 0.06 * np.sin(np.pi * x) * np.sin(np.pi * y))}
    good = model.correct(pred, cycles=0)
    want = np.sqrt(w @ (pred.fields["u"] - u_ref) ** 2 / (w @ u_ref**2))
    assert good.error_algebraic == pytest.approx(want, rel=0.1)
    assert good.error_estimate < 0.2 and good.flags == []
    # without a residual there is no estimate, and the training-range flags are flags
    bare = model.predict(m, a=a, f=1.0, residual=False)
    assert bare.error_estimate is None and bare.error_indicator is None
    assert sorted(flag_code(f) for f in bare.flags) == ["spacing_out_of_range",
                                                        "too_many_nodes"]


def test_correct_reduces_the_algebraic_error_and_clears_the_flag(darcy_art):
    model = gnnops.load(darcy_art)
    m = square_mesh(17)
    a = coefficient(m)
    pred, u_ref = _reference(model, m, a)
    prev = pred.error_algebraic
    for k in (1, 3, 8):
        fixed = model.correct(pred, cycles=k)
        assert fixed.error_algebraic < prev
        prev = fixed.error_algebraic
        assert fixed.notes[-1].startswith(f"corrected: {k} AMG cycles")
        assert "correct" in fixed.timings
    np.testing.assert_allclose(fixed.fields["u"], u_ref, atol=1e-6 * np.abs(u_ref).max())
    assert fixed.flags == [] and fixed.error_algebraic < 1e-5
    assert fixed.residual < pred.residual
    with pytest.raises(ProblemError, match="integer >= 0"):
        model.correct(pred, cycles=-2)


def test_flag_threshold_option(darcy_art):
    m = square_mesh(9)
    a = coefficient(m)
    loose = Predictor.from_artifact(darcy_art, flag_threshold=1e6)
    pred = loose.predict(m, a=a, f=1.0)
    assert pred.error_estimate > 0.2 and pred.flags == []
    assert loose.describe()["flag_threshold"] == 1e6
    with pytest.raises(ProblemError, match="flag threshold > 0"):
        Predictor.from_artifact(darcy_art, flag_threshold=0)


def test_correct_needs_a_problem(artifact):
    model = gnnops.load(artifact)  # names no problem
    with pytest.raises(ProblemError, match="multigrid correction"):
        model.correct(square_mesh(9), a=5.0)


def test_resolution_independent_model_has_no_spacing_flag(tmp_path):
    art = make_artifact(tmp_path / "g.pt", model="gno", width=8, depth=2, radius=0.3,
                        kernel="diagonal")
    model = gnnops.load(art)
    assert model.describe()["resolution_independent"] is True
    fine = square_mesh(33)
    codes = [flag_code(f) for f in model.predict(fine, a=coefficient(fine)).flags]
    assert codes == ["too_many_nodes"]  # no estimate (no problem): node count still flagged


def test_cli_correct_and_threshold_write_estimates(darcy_art, tmp_path, capsys):
    d = tmp_path / "in"
    d.mkdir()
    for n in (9, 17):
        m = square_mesh(n)
        m.point_data["a"] = coefficient(m)
        m.point_data["f"] = np.ones(n * n)
        meshio.write(d / f"m{n}.vtu", m)
    out = tmp_path / "out"
    assert main(["predict", str(darcy_art), str(d), "--out", str(out), "--no-progress",
                 "--correct", "10", "--flag-threshold", "0.3"]) == 0
    with open(out / "summary.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2
    for r in rows:
        assert float(r["error_algebraic"]) < 1e-4 and r["flags"] == ""
        assert "corrected: 10 AMG cycles" in r["notes"]
        back = meshio.read(r["output"])
        assert {"u", "u_gnn", "residual", "error_indicator"} <= set(back.point_data)
    js = json.loads((out / "summary.json").read_text())
    assert js[0]["error_estimate"] == pytest.approx(float(rows[0]["error_estimate"]))
    # without --correct the untrained network is flagged above the threshold
    out2 = tmp_path / "out2"
    assert main(["predict", str(darcy_art), str(d), "--out", str(out2), "--no-progress"]) == 0
    with open(out2 / "summary.csv", newline="") as fh:
        assert all("error_estimate_high" in r["flags"] for r in csv.DictReader(fh))
    assert main(["info", str(darcy_art)]) == 0
    assert "error estimate: yes" in capsys.readouterr().out


def test_cli_correct_without_problem_is_a_usage_error(artifact, tmp_path, capsys):
    m = square_mesh(9)
    m.point_data["a"] = coefficient(m)
    meshio.write(tmp_path / "m.vtu", m)
    assert main(["predict", str(artifact), str(tmp_path / "m.vtu"), "--out",
                 str(tmp_path / "o"), "--correct", "2"]) == 2
    assert "--correct needs a stationary mesh problem" in capsys.readouterr().err

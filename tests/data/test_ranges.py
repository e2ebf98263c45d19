import meshio
import numpy as np
import pytest

from gnnops.data import GenerateSpec, generate, open_dataset
from gnnops.data.ranges import check_ranges, draw_options, is_range, probe_options
from gnnops.errors import ConfigError


def test_draws_follow_their_distributions():
    opts = {"kind": "fno", "tau": {"uniform": [2.0, 4.0]},
            "a_pos": {"loguniform": [4.0, 100.0]}, "f": {"choice": [1.0, 2.0, 5.0]}}
    check_ranges(opts)
    rng = np.random.default_rng(0)
    draws = [draw_options(opts, rng) for _ in range(4000)]
    assert all(d["kind"] == "fno" for d in draws)
    tau = np.array([d["tau"] for d in draws])
    assert tau.min() >= 2.0 and tau.max() <= 4.0
    assert abs(tau.mean() - 3.0) < 0.05 and abs(tau.var() - 4 / 12) < 0.03
    log_a = np.log([d["a_pos"] for d in draws])
    assert log_a.min() >= np.log(4.0) and log_a.max() <= np.log(100.0)
    # log-uniform: the median is the geometric mean of the bounds (20), not the mean (52)
    assert abs(np.median(log_a) - np.log(20.0)) < 0.1
    counts = np.unique([d["f"] for d in draws], return_counts=True)
    np.testing.assert_array_equal(counts[0], [1.0, 2.0, 5.0])
    assert np.all(np.abs(counts[1] / 4000 - 1 / 3) < 0.03)


def test_fixed_options_draw_nothing():
    rng = np.random.default_rng(3)
    assert draw_options({"kind": "fno", "a_pos": 12.0}, rng) == {"kind": "fno", "a_pos": 12.0}
    assert rng.random() == np.random.default_rng(3).random()


@pytest.mark.parametrize("value, words", [
    ({"uniform": [4.0, 2.0]}, "lo <= hi"),
    ({"uniform": [1.0]}, "[lo, hi]"),
    ({"uniform": [0.0, float("inf")]}, "finite"),
    ({"loguniform": [0.0, 1.0]}, "lo > 0"),
    ({"choice": []}, "non-empty"),
    ({"normal": [0.0, 1.0]}, "uniform"),
])
def test_bad_ranges_name_the_key(value, words):
    with pytest.raises(ConfigError, match="problem_options.tau") as err:
        check_ranges({"tau": value})
    assert words in str(err.value)


def test_probe_reaches_every_end():
    opts = {"a": {"uniform": [1, 2]}, "k": {"choice": ["x", "y", "z"]}, "c": 3}
    assert is_range(opts["a"]) and not is_range(opts["c"]) and not is_range({"a": 1, "b": 2})
    probes = probe_options(opts)
    assert {(p["a"], p["k"]) for p in probes} == {(1, "x"), (2, "x"), (1, "y"), (1, "z")}
    assert all(p["c"] == 3 for p in probes)


def test_a_choice_the_problem_rejects_fails_the_spec_check():
    spec = GenerateSpec.from_dict({"problem": "darcy",
                                   "problem_options": {"kind": {"choice": ["fno", "bad"]}}})
    with pytest.raises(ConfigError, match="unknown darcy input kind 'bad'"):
        spec.check_problem()


def test_dataset_with_a_contrast_range(tmp_path):
    spec = {"problem": "darcy", "resolutions": [0.1], "n_train": 6, "n_val": 1, "n_test": 1,
            "seed": 2, "problem_options": {"a_pos": {"loguniform": [4.0, 100.0]}}}
    root = generate(spec, tmp_path / "d", progress=False)
    ds = open_dataset(root)
    highs = [float(np.max(meshio.read(ds.path(s)).point_data["a"]))
             for s in ds.samples("train")]
    assert all(4.0 <= a <= 100.0 for a in highs)
    assert len(set(highs)) == len(highs)  # a new contrast per sample
    again = generate(spec, tmp_path / "again", progress=False)
    for s in ds.samples("train"):
        assert (again / s["file"]).read_bytes() == ds.path(s).read_bytes()


def test_mixture_draws_components_by_weight():
    opts = {"a_pos": {"mixture": [[0.8, {"uniform": [4.0, 10.0]}], [0.2, 50.0]]}}
    check_ranges(opts)
    rng = np.random.default_rng(1)
    a = np.array([draw_options(opts, rng)["a_pos"] for _ in range(5000)])
    fixed = a == 50.0
    assert abs(fixed.mean() - 0.2) < 0.02
    assert a[~fixed].min() >= 4.0 and a[~fixed].max() <= 10.0
    assert abs(a[~fixed].mean() - 7.0) < 0.1  # the uniform component's mean
    probes = {p["a_pos"] for p in probe_options(opts)}
    assert probes == {4.0, 10.0, 50.0}


@pytest.mark.parametrize("value, words", [
    ({"mixture": []}, "non-empty list"),
    ({"mixture": [[0.0, 1.0]]}, "weight > 0"),
    ({"mixture": [[1.0]]}, "[weight, value]"),
    ({"mixture": [[1.0, {"mixture": [[1.0, 2.0]]}]]}, "uniform / loguniform / choice range"),
    ({"mixture": [[1.0, {"uniform": [3.0, 1.0]}]]}, "lo <= hi"),
])
def test_bad_mixtures_name_the_key(value, words):
    with pytest.raises(ConfigError, match="problem_options.tau") as err:
        check_ranges({"tau": value})
    assert words in str(err.value)

from pathlib import Path

import pytest

from gnnops.data.spec import GenerateSpec, load_spec
from gnnops.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_defaults_and_roundtrip():
    spec = GenerateSpec.from_dict({"problem": "darcy", "resolutions": [0.1, 0.05]})
    assert spec.n_train == 100 and spec.n_val == 20 and spec.n_test == 20 and spec.seed == 0
    assert spec.geometry == "unit_square" and spec.train_resolution == 0
    assert spec.resolutions == [0.1, 0.05]
    again = GenerateSpec.from_dict(spec.to_dict())
    assert again == spec and again.digest() == spec.digest()
    assert len(spec.digest()) == 10
    assert spec.default_dir("ds") == Path("ds") / f"darcy-{spec.digest()}"


def test_digest_changes_with_any_field():
    base = GenerateSpec.from_dict({"problem": "darcy"})
    digests = {base.digest()}
    for change in ({"seed": 1}, {"n_train": 99}, {"problem_options": {"kind": "lognormal"}},
                   {"resolutions": [0.08, 0.04]}):
        digests.add(GenerateSpec.from_dict({"problem": "darcy", **change}).digest())
    assert len(digests) == 5


@pytest.mark.parametrize("d, words", [
    ({"problem": "darcy", "n_trian": 3}, ["unknown config key 'data.generate.n_trian'",
                                          "expected one of: problem,", "n_train",
                                          "did you mean 'n_train'?"]),
    ({"n_train": 3}, ["missing required config key 'data.generate.problem'"]),
    ({"problem": "darcy", "n_train": "3"}, ["'data.generate.n_train'", "expects int",
                                            "got '3'"]),
    ({"problem": "darcy", "seed": True}, ["'data.generate.seed'", "expects int", "got True"]),
    ({"problem": "darcy", "resolutions": [0.1, "a"]}, ["'data.generate.resolutions[1]'",
                                                       "int or float", "got 'a'"]),
    ({"problem": "darcy", "resolutions": []}, ["'data.generate.resolutions'", "at least one"]),
    ({"problem": "darcy", "resolutions": [0.1, -1]}, ["positive"]),
    ({"problem": "darcy", "train_resolution": 3}, ["'data.generate.train_resolution'",
                                                   "[0, 2]", "got 3"]),
    ({"problem": "darcy", "n_test": -1}, ["'data.generate.n_test'", ">= 0"]),
    ({"problem": "darcy", "geometry": "circle"}, ["'data.generate.geometry'", "l_shape",
                                                  "got 'circle'"]),
    ({"problem": "darcy", "geometry": "l_shap"}, ["did you mean 'l_shape'?"]),
    ({"problem": "darcy", "problem_options": [1]}, ["'data.generate.problem_options'",
                                                    "mapping"]),
    ({"problem": "darcy", "problem_options": {1: 2}}, ["'data.generate.problem_options'",
                                                       "string keys"]),
    ({"problem": "darcy", "test_families": ["grid", 3]}, ["'data.generate.test_families[1]'",
                                                          "expects str"]),
    ({"problem": "darcy", "mesh_variants": 0}, ["'data.generate.mesh_variants'",
                                                "a count >= 1", "got 0"]),
    ({"problem": "darcy", "mesh_variants": -2}, ["'data.generate.mesh_variants'", "got -2"]),
    ({"problem": "darcy", "mesh_variants": 2.5}, ["'data.generate.mesh_variants'",
                                                  "expects int", "got 2.5"]),
    ({"problem": "darcy", "mesh_variants": True}, ["'data.generate.mesh_variants'",
                                                   "expects int", "got True"]),
])
def test_bad_dicts_name_the_key(d, words):
    with pytest.raises(ConfigError) as exc:
        GenerateSpec.from_dict(d)
    for w in words:
        assert w in str(exc.value)


def test_not_a_mapping():
    with pytest.raises(ConfigError, match="'data.generate' expects a mapping"):
        GenerateSpec.from_dict(["problem", "darcy"])


def test_load_spec_plain_and_nested(tmp_path):
    spec = load_spec(REPO / "configs" / "data" / "darcy.yaml")
    assert spec.problem == "darcy" and spec.problem_options == {"kind": "fno"}
    assert spec.resolutions == [0.1, 0.05, 0.025]
    nested = tmp_path / "run.yaml"
    nested.write_text("data:\n  generate:\n    problem: heat\n    n_train: 7\n")
    s = load_spec(nested)
    assert (s.problem, s.n_train) == ("heat", 7)


def test_load_spec_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_spec(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("problem: [darcy\n")
    with pytest.raises(ConfigError, match="YAML"):
        load_spec(bad)
    typo = tmp_path / "typo.yaml"
    typo.write_text("problem: darcy\nn_trian: 4\n")
    with pytest.raises(ConfigError, match=r"typo.yaml: unknown config key 'n_trian'; .*"
                                          r"did you mean 'n_train'\?"):
        load_spec(typo)
    nested = tmp_path / "nested.yaml"
    nested.write_text("data:\n  generate:\n    problem: darcy\n    sed: 1\n")
    with pytest.raises(ConfigError, match=r"unknown config key 'data.generate.sed'.*"
                                          r"did you mean 'seed'\?"):
        load_spec(nested)


def test_network_config():
    spec = load_spec(REPO / "configs" / "data" / "fisher_kpp.yaml")
    assert spec.problem == "fisher_kpp" and spec.resolutions == [100, 400]
    assert spec.solver_options == {"t_end": 5.0, "n_times": 51}
    assert spec.test_families == ["grid", "watts_strogatz"]
    assert isinstance(spec.resolutions[0], int)  # node counts stay ints: same digest as before


def test_ints_stay_ints_in_the_digest():
    # the cache folder of a spec written before the typed validator must not move
    spec = GenerateSpec.from_dict({"problem": "fisher_kpp", "resolutions": [100, 400]})
    assert spec.to_dict()["resolutions"] == [100, 400]
    assert GenerateSpec.from_dict({"problem": "darcy", "resolutions": ["1e-1"]}).resolutions \
        == [0.1]  # YAML 1.1 reads 1e-1 (no dot) as a string


@pytest.mark.parametrize("d, words", [
    ({"problem": "darcyy"}, ["'data.generate.problem' expects one of: darcy,",
                             "did you mean 'darcy'?"]),
    ({"problem": "darcy", "problem_options": {"knd": "fno"}},
     ["unknown config key 'data.generate.problem_options.knd' for problem 'darcy'",
      "expected one of: kind, dim,", "did you mean 'kind'?"]),
    ({"problem": "darcy", "solver_options": {"n_mode": 8}},
     ["unknown config key 'data.generate.solver_options.n_mode'", "expected one of: box, n_modes",
      "did you mean 'n_modes'?"]),
    ({"problem": "elasticity", "solver_options": {"nu": 0.7}},
     ["config key 'data.generate.solver_options'", "Poisson ratio nu in (-1, 0.5), got 0.7"]),
    ({"problem": "fisher_kpp", "solver_options": {"t_ned": 3}},
     ["config key 'data.generate.solver_options'", "['t_ned']", "t_end"]),
    ({"problem": "fisher_kpp", "problem_options": {"recipe": "region", "hopz": 2}},
     ["config key 'data.generate.problem_options'", "['hopz']", "hops"]),
    ({"problem": "fisher_kpp", "test_families": ["grid", "watts_strogats"]},
     ["'data.generate.test_families[1]' expects one of:", "did you mean 'watts_strogatz'?"]),
])
def test_check_problem_names_the_option_and_the_valid_ones(d, words):
    spec = GenerateSpec.from_dict(d)  # the types are fine; the problem rejects the values
    with pytest.raises(ConfigError) as exc:
        spec.check_problem()
    for w in words:
        assert w in str(exc.value)


def test_check_problem_accepts_the_shipped_specs():
    for name in ("darcy", "fisher_kpp"):
        load_spec(REPO / "configs" / "data" / f"{name}.yaml")  # load_spec checks the problem
    GenerateSpec.from_dict({"problem": "heat", "solver_options": {"t_end": 0.5},
                            "problem_options": {"amplitude": 2.0}}).check_problem()


def test_load_spec_checks_problem_options(tmp_path):
    p = tmp_path / "opt.yaml"
    p.write_text("problem: darcy\nproblem_options: {kind: fno, tua: 3}\n")
    with pytest.raises(ConfigError, match=r"opt.yaml: unknown config key 'problem_options.tua'"
                                          r".*did you mean 'tau'\?"):
        load_spec(p)


def test_mesh_variants_keep_old_digests_and_pick_train_val_samples():
    # K = 1 is the default and leaves the digest of every spec as it was: the elasticity
    # run config's dataset folder (elasticity-0feb49c957) was written before the key existed
    el = load_spec(REPO / "configs" / "elasticity_transolver.yaml")
    one = GenerateSpec.from_dict({**el.to_dict(), "mesh_variants": 1})
    assert "mesh_variants" not in one.to_dict() and one.digest() == "0feb49c957"
    assert GenerateSpec.from_dict({"problem": "darcy", "mesh_variants": 1}).digest() \
        == "1a25e01600"  # as before geometries existed (test_generate_geometries.py)
    eight = GenerateSpec.from_dict({**el.to_dict(), "mesh_variants": 8})
    assert eight.to_dict()["mesh_variants"] == 8 and eight.digest() != one.digest()
    assert [eight.variant_of("train", i) for i in (0, 1, 7, 8, 9)] == [0, 1, 7, 0, 1]
    assert eight.variant_of("val", 3) == 3 and eight.variant_of("test", 3) == 0
    assert one.variant_of("train", 5) == 0
    two = GenerateSpec.from_dict({"problem": "darcy", "mesh_variants": 3,
                                  "geometries": ["unit_square", "l_shape"]})
    assert [two.variant_of("train", i) for i in range(8)] == [0, 0, 1, 1, 2, 2, 0, 0]


def test_network_problems_refuse_mesh_variants():
    spec = GenerateSpec.from_dict({"problem": "fisher_kpp", "resolutions": [20],
                                   "mesh_variants": 2})
    with pytest.raises(ConfigError, match="'data.generate.mesh_variants' is for mesh problems"):
        spec.check_problem()

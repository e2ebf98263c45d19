"""The problem registry: the finite-element problems are registered and usable by name."""

import json

import numpy as np
import pytest
from skfem import MeshTri
from skfem.io.meshio import to_meshio

from gnnops.errors import ProblemError
from gnnops.problems import get, names
from gnnops.problems.base import InputSample


@pytest.mark.parametrize("name,inputs,outputs,dynamic", [
    ("darcy", ("a", "f"), ("u",), False),
    ("heat", ("u0", "kappa", "f"), ("u",), True),
    ("elasticity", ("E",), ("u",), False),
])
def test_registered_and_sample_round_trip(name, inputs, outputs, dynamic):
    assert name in names()
    prob = get(name)
    assert (prob.name, prob.kind, prob.input_fields, prob.output_fields, prob.time_dependent) \
        == (name, "mesh", inputs, outputs, dynamic)
    sample = prob.sample_inputs(np.random.default_rng(0))
    again = InputSample(**json.loads(json.dumps({"problem": sample.problem,
                                                 "params": sample.params})))
    mesh = to_meshio(MeshTri().refined(2))
    a, b = sample.at(mesh), again.at(mesh)
    assert set(a) == set(inputs)
    for k in inputs:
        assert a[k].shape[0] == 25
        np.testing.assert_array_equal(a[k], b[k])
    out = prob.solve(mesh, **a)
    assert prob.residual(mesh, out, **a) <= 1e-10


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ProblemError, match="unknown problem 'heta'; expected one of: .*darcy, "
                                           ".*elasticity.*heat"):
        get("heta")

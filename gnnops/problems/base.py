"""The interface every physical problem implements, and the problem registry.

A problem bundles a reference solver, the discrete physics residual of the same
discretization, and a sampler of random inputs. Mesh problems accept a
``meshio.Mesh``, a path, or a ``torch_geometric.data.Data`` carrying ``pos``
and ``cell_index`` (see :mod:`gnnops.graphs`); network problems accept a
networkx graph or a ``Data`` with ``edge_index`` (and optional ``edge_weight``).

Field arrays are per node: a scalar field is ``[N]``, a vector field ``[N, d]``,
a trajectory ``[N, T]`` (scalar state at ``T`` saved times, see
``Problem.times``) or ``[N, T, d]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from gnnops.errors import ProblemError

__all__ = ["InputSample", "Problem", "register", "get", "names"]


@dataclass
class InputSample:
    """One random draw of a problem's inputs, as a function of space.

    The draw is stored as parameters (e.g. Karhunen-Loeve coefficients), not as
    nodal values, so the *same* sample can be evaluated on a coarse and a fine
    mesh of one geometry -- the resolution sweep depends on it.

    Attributes:
        problem: name of the problem that drew it.
        params: JSON-serializable parameters of the draw.
    """

    problem: str
    params: dict[str, Any] = field(default_factory=dict)

    def at(self, mesh_or_graph: Any) -> dict[str, np.ndarray]:
        """Evaluate the sample's input fields on a mesh or graph.

        Returns:
            name -> per-node array (``[N]`` or ``[N, d]``).
        """
        return get(self.problem).evaluate_inputs(self, mesh_or_graph)


class Problem:
    """Base class: subclasses set the class attributes and implement the methods.

    Attributes:
        name: registry name.
        kind: ``"mesh"`` or ``"network"``.
        input_fields: names of the input fields, in model-input order.
        output_fields: names of the output (target) fields.
        time_dependent: whether outputs are trajectories ``[N, T, ...]``.
        scaling_laws: exact scaling law of a linear problem, input name -> exponent:
            ``u(s_1 in_1, ...) = prod_k s_k^e_k u(in_1, ...)`` (empty: none declared).
        zero_dirichlet: the solution is 0 on the whole boundary.
        zero_dirichlet_part: the solution is 0 on a part of the boundary that
            :meth:`zero_dirichlet_nodes` names (e.g. elasticity's clamped nodes).
    """

    name: ClassVar[str] = ""
    kind: ClassVar[str] = "mesh"
    input_fields: ClassVar[tuple[str, ...]] = ()
    output_fields: ClassVar[tuple[str, ...]] = ()
    time_dependent: ClassVar[bool] = False
    scaling_laws: ClassVar[dict[str, float]] = {}
    zero_dirichlet: ClassVar[bool] = False
    zero_dirichlet_part: ClassVar[bool] = False

    def zero_dirichlet_nodes(self, mesh_or_graph: Any) -> np.ndarray:
        """[N] bool: the nodes where the solution is prescribed to be 0 (problems with
        ``zero_dirichlet_part``)."""
        raise NotImplementedError(f"problem {self.name!r} names no zero Dirichlet nodes")

    def sample_inputs(self, rng: np.random.Generator, **options: Any) -> InputSample:
        """Draw random inputs (as a function of space) for data generation."""
        raise NotImplementedError

    def evaluate_inputs(self, sample: InputSample, mesh_or_graph: Any) -> dict[str, np.ndarray]:
        """Evaluate a drawn sample's fields at the nodes of ``mesh_or_graph``."""
        raise NotImplementedError

    def solve(self, mesh_or_graph: Any, **inputs: Any) -> dict[str, np.ndarray]:
        """Reference solution, per node: output name -> array."""
        raise NotImplementedError

    def residual_per_node(
        self, mesh_or_graph: Any, outputs: dict[str, np.ndarray], **inputs: Any
    ) -> np.ndarray:
        """Absolute discrete residual per node, ``[N]`` (>= 0)."""
        raise NotImplementedError

    def residual(self, mesh_or_graph: Any, outputs: dict[str, np.ndarray], **inputs: Any) -> float:
        """Relative discrete residual of a candidate solution (reference ~ 0)."""
        raise NotImplementedError

    def residual_torch(self, data: Any, outputs: Any, **inputs: Any) -> Any:
        """Differentiable relative residual (torch scalar) of ``outputs: [N, F_out]``.

        ``data`` may be a PyG batch; the result is the mean over its graphs.
        """
        raise NotImplementedError


_REGISTRY: dict[str, type[Problem]] = {}


def register(cls: type[Problem]) -> type[Problem]:
    """Class decorator adding a problem to the registry under ``cls.name``."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    _REGISTRY[cls.name] = cls
    return cls


def names() -> list[str]:
    """Sorted names of the registered problems."""
    _import_builtin()
    return sorted(_REGISTRY)


def get(name: str, **options: Any) -> Problem:
    """Instantiate the problem registered as ``name``.

    Raises:
        ProblemError: unknown name; the message lists the valid ones.
    """
    _import_builtin()
    if name not in _REGISTRY:
        raise ProblemError(
            f"unknown problem {name!r}; expected one of: {', '.join(sorted(_REGISTRY))}"
        )
    return _REGISTRY[name](**options)


_BUILTIN_MODULES = (
    "darcy", "heat", "elasticity",
    "network_diffusion", "fisher_kpp", "gene_regulatory", "mutualistic",
)


def _import_builtin() -> None:
    import importlib

    for mod in _BUILTIN_MODULES:
        try:
            importlib.import_module(f"gnnops.problems.{mod}")
        except ModuleNotFoundError as exc:  # a module not written yet in this build
            if exc.name != f"gnnops.problems.{mod}":
                raise

"""Reference problems: solvers, physics residuals and input samplers.

``gnnops.problems.get(name)`` returns a :class:`Problem`; ``names()`` lists them.
"""

from gnnops.problems.base import InputSample, Problem, get, names, register

__all__ = ["InputSample", "Problem", "get", "names", "register"]

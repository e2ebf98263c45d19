"""Per-sample parameter ranges in ``data.generate.problem_options``.

A fixed option (``a_pos: 12``) gives every sample the same value. An option written as a
one-key mapping is drawn anew for every sample, from the sample's own generator (so a
dataset regenerates identically, and a spec without ranges draws exactly what it drew
before ranges existed)::

    problem_options:
      tau: {uniform: [2.0, 4.0]}        # float, uniform in [lo, hi]
      a_pos: {loguniform: [4.0, 40.0]}  # float, log-uniform in [lo, hi] (lo > 0)
      kind: {choice: [fno, lognormal]}  # one of the listed values, equally likely
      a_neg: {mixture: [[0.9, {uniform: [2, 4]}], [0.1, 20.0]]}  # a component by weight,
                                        # then its value or one draw of its range

A varied pool is what makes residual-driven active learning (:mod:`gnnops.runs.active`)
worth its cost: with inputs of uneven difficulty, the error estimate can tell the solves
that teach the model most from those it already predicts well.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gnnops.errors import ConfigError, GnnopsError

__all__ = ["RANGE_KINDS", "is_range", "check_ranges", "draw_options", "probe_options",
           "probe_sample_inputs"]

#: the mapping keys that make an option a per-sample draw
RANGE_KINDS = ("uniform", "loguniform", "choice", "mixture")


def is_range(value: Any) -> bool:
    """Whether ``value`` is a per-sample range (a one-key mapping with a range kind)."""
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in RANGE_KINDS


def check_ranges(options: dict[str, Any], *, where: str = "data.generate.problem_options"
                 ) -> None:
    """Check every range of ``options``.

    Raises:
        ConfigError: a mapping that is not exactly one of ``uniform`` / ``loguniform`` /
            ``choice``, bounds that are not two numbers with ``lo <= hi`` (``lo > 0`` for
            ``loguniform``), or an empty ``choice``; the message names the key.
    """
    for key, value in options.items():
        if isinstance(value, dict) and not is_range(value):
            raise ConfigError(f"config key '{where}.{key}' expects a value or one of "
                              f"{{uniform: [lo, hi]}}, {{loguniform: [lo, hi]}}, "
                              f"{{choice: [...]}}, {{mixture: [[w, value], ...]}}, "
                              f"got {value!r}")
        if not is_range(value):
            continue
        kind, arg = next(iter(value.items()))
        if kind == "mixture":
            _check_mixture(arg, f"{where}.{key}.mixture")
            continue
        if kind == "choice":
            if not isinstance(arg, list | tuple) or not arg:
                raise ConfigError(f"config key '{where}.{key}.choice' expects a non-empty "
                                  f"list of values, got {arg!r}")
            continue
        ok = (isinstance(arg, list | tuple) and len(arg) == 2
              and all(isinstance(v, int | float) and not isinstance(v, bool)
                      and math.isfinite(v) for v in arg))
        if not ok or arg[0] > arg[1]:
            raise ConfigError(f"config key '{where}.{key}.{kind}' expects [lo, hi] with two "
                              f"finite numbers lo <= hi, got {arg!r}")
        if kind == "loguniform" and arg[0] <= 0:
            raise ConfigError(f"config key '{where}.{key}.loguniform' expects lo > 0, "
                              f"got {arg!r}")


def _check_mixture(arg: Any, key: str) -> None:
    """A mixture is a non-empty list of ``[weight > 0, value or non-mixture range]``."""
    def fail(got: Any) -> ConfigError:
        return ConfigError(f"config key '{key}' expects a non-empty list of [weight, value] "
                           f"pairs (weight > 0; value a number, string or a uniform / "
                           f"loguniform / choice range), got {got!r}")

    if not isinstance(arg, list | tuple) or not arg:
        raise fail(arg)
    for k, comp in enumerate(arg):
        if not (isinstance(comp, list | tuple) and len(comp) == 2):
            raise fail(comp)
        w, inner = comp
        if (isinstance(w, bool) or not isinstance(w, int | float) or not math.isfinite(w)
                or w <= 0):
            raise fail(comp)
        if is_range(inner) and "mixture" in inner:
            raise fail(comp)
        check_ranges({str(k): inner}, where=key)


def _draw(value: Any, rng: np.random.Generator) -> Any:
    """One draw of a (checked) range; a plain value is returned as it is."""
    if not is_range(value):
        return value
    kind, arg = next(iter(value.items()))
    if kind == "mixture":
        w = np.array([c[0] for c in arg], dtype=float)
        return _draw(arg[int(rng.choice(len(arg), p=w / w.sum()))][1], rng)
    if kind == "choice":
        return arg[int(rng.integers(len(arg)))]
    if kind == "uniform":
        return float(rng.uniform(arg[0], arg[1]))
    return float(math.exp(rng.uniform(math.log(arg[0]), math.log(arg[1]))))


def draw_options(options: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """``options`` with every range replaced by one draw from ``rng`` (in key order; fixed
    options consume no draws).

    Args:
        options: ``problem_options`` (checked with :func:`check_ranges`).
        rng: the sample's generator (then passed on to ``sample_inputs``).

    Returns:
        The keyword arguments of one ``sample_inputs`` call.
    """
    return {key: _draw(value, rng) for key, value in options.items()}


def probe_options(options: dict[str, Any]) -> list[dict[str, Any]]:
    """Keyword sets that reach every end of every range (both bounds, every choice), the
    other ranges at their first value: what a config check passes to ``sample_inputs``
    so a value the problem rejects fails before any sample is drawn."""
    def ends(value: Any) -> list[Any]:
        if not is_range(value):
            return [value]
        kind, arg = next(iter(value.items()))
        if kind == "mixture":
            return [v for comp in arg for v in ends(comp[1])]
        return list(arg)

    base = {k: ends(v)[0] for k, v in options.items()}
    out = [base]
    for key, value in options.items():
        out += [{**base, key: v} for v in ends(value)[1:]]
    return out


def probe_sample_inputs(sample: Any, options: dict[str, Any], key: str) -> None:
    """``sample(rng, **o)`` for every ``o`` of :func:`probe_options`: a value the problem's
    sampler rejects is a ConfigError naming ``key`` before any sample is drawn."""
    for opts in probe_options(options):
        try:
            sample(np.random.default_rng(0), **opts)
        except (GnnopsError, TypeError, ValueError) as exc:
            raise ConfigError(f"config key '{key}': {' '.join(str(exc).split())}") from None

"""``gnnops info ARTIFACT``: describe a model artifact."""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["add_arguments", "run", "format_info"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``gnnops info``."""
    parser.add_argument("artifact", help="model artifact (model.pt)")
    parser.add_argument("--json", action="store_true", help="print the description as JSON")


def _num(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list):
        return "[" + ", ".join(_num(x) for x in v) + "]"
    return str(v)


def format_info(d: dict[str, Any]) -> str:
    """Human-readable lines of :meth:`Predictor.describe`."""
    st = d.get("train_stats", {}) or {}
    kw = ", ".join(f"{k}={v}" for k, v in sorted(d.get("model_kwargs", {}).items()))
    lines = [
        f"artifact:   {d.get('artifact')}",
        f"model:      {d.get('model')} ({d.get('parameters'):,} parameters; {kw})",
        f"problem:    {d.get('problem')}",
        "inputs:     " + (", ".join(f"{k}[{v}]" for k, v in d.get("inputs", {}).items()) or "-")
        + (" (rolled out; one-step model columns: " + ", ".join(d["step_inputs"]) + ")"
           if d.get("step_inputs") else ""),
        "targets:    " + (", ".join(f"{k}[{v}]" for k, v in d.get("targets", {}).items()) or "-"),
        "features:   " + (", ".join(d.get("features", [])) or "-"),
        *([f"edge weights: edge attribute '{d['edge_weight']}'"] if d.get("edge_weight")
          else []),
        f"trained on: {_num(st.get('nodes_min'))}-{_num(st.get('nodes_max'))} nodes, "
        f"mean edge length {_num(st.get('spacing_min'))}-{_num(st.get('spacing_max'))}",
        f"input range: {_num(st.get('input_min'))} .. {_num(st.get('input_max'))}",
        "resolution: " + ("independent (no spacing flag)" if d.get("resolution_independent")
                          else "dependent (flagged outside the training spacing)"),
        "error estimate: " + (f"yes (algebraic + discretization; flagged above "
                              f"{_num(d.get('flag_threshold'))})" if d.get("error_estimate")
                              else "no (training-range flags only)"),
    ]
    metrics = d.get("metrics", {}) or {}
    for k in sorted(metrics):
        v = metrics[k]
        if isinstance(v, (int, float, str)) or v is None:
            lines.append(f"metric {k}: {_num(v)}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Print the description of the artifact; returns 0."""
    from gnnops.inference import Predictor

    desc = Predictor.from_artifact(args.artifact).describe()
    print(json.dumps(desc, indent=1, default=str) if args.json else format_info(desc))
    return 0

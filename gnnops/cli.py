"""The ``gnnops`` command line: ``generate | train | predict | evaluate | info``.

Each subcommand lives in the room that owns it and exposes two functions:
``add_arguments(parser: argparse.ArgumentParser) -> None`` and
``run(args: argparse.Namespace) -> int``. This module only dispatches and turns
a :class:`gnnops.errors.GnnopsError` into one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# Idle OpenMP threads sleep instead of spinning (see train.py); before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from gnnops.errors import GnnopsError  # noqa: E402

# subcommand -> (module implementing add_arguments/run, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "generate": ("gnnops.data.cli", "generate a dataset folder from a data config"),
    "train": ("gnnops.runs.cli", "train a model from a run config"),
    "predict": ("gnnops.inference.cli", "predict over mesh / network files"),
    "evaluate": ("gnnops.evaluation.cli", "evaluate an artifact on a dataset"),
    "info": ("gnnops.inference.info_cli", "describe a model artifact"),
}


def _build_parser() -> argparse.ArgumentParser:
    from gnnops import __version__

    parser = argparse.ArgumentParser(prog="gnnops", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"gnnops {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            p.set_defaults(_module=None, _missing=module_name)
            continue
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``gnnops`` console script.

    Returns:
        The exit code: 0 success, 1 partial failure (batch commands), 2 usage or
        input error (one line on stderr, no traceback).
    """
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    if args._module is None:
        print(f"gnnops {args.command}: not available in this build ({args._missing})",
              file=sys.stderr)
        return 2
    try:
        return int(args._module.run(args) or 0)
    except GnnopsError as exc:
        msg = " ".join(str(exc).split())
        print(f"gnnops {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"gnnops {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # output piped into a reader that closed early (`gnnops info ... | head`): not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

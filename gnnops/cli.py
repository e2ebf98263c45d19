"""The ``gnnops`` command line: ``generate | train | active | predict | evaluate | info``.

Each subcommand lives in the room that owns it and exposes two functions:
``add_arguments(parser: argparse.ArgumentParser) -> None`` and
``run(args: argparse.Namespace) -> int``. This module only dispatches, configures logging
(``--quiet`` / ``--verbose``, see :mod:`gnnops._log`) and turns a
:class:`gnnops.errors.GnnopsError` into one line on stderr and exit code 2.

Help is fast: the subcommand modules import only ``argparse`` and light gnnops modules at
the top; torch and the rest load inside ``run``. Only the chosen subcommand's module is
imported (``gnnops --help`` imports none of them).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable
from types import ModuleType

# Idle OpenMP threads sleep instead of spinning (see train.py); before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from gnnops.errors import GnnopsError  # noqa: E402

# subcommand -> (loader of the module implementing add_arguments/run, one-line help); the
# constant module names let tests/test_architecture.py see these imports
SUBCOMMANDS: dict[str, tuple[Callable[[], ModuleType], str]] = {
    "generate": (lambda: importlib.import_module("gnnops.data.cli"),
                 "generate a dataset folder from a data config"),
    "train": (lambda: importlib.import_module("gnnops.runs.cli"),
              "train a model from a run config"),
    "active": (lambda: importlib.import_module("gnnops.runs.active_cli"),
               "active learning: solve next where the model's estimated error is largest"),
    "predict": (lambda: importlib.import_module("gnnops.inference.cli"),
                "predict over mesh / network files"),
    "evaluate": (lambda: importlib.import_module("gnnops.evaluation.cli"),
                 "evaluate an artifact on a dataset"),
    "info": (lambda: importlib.import_module("gnnops.inference.info_cli"),
             "describe a model artifact"),
}


def _chosen(argv: list[str]) -> str | None:
    """The subcommand named in ``argv`` (the first non-option word), if any."""
    for word in argv:
        if not word.startswith("-"):
            return word if word in SUBCOMMANDS else None
    return None


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The ``gnnops`` parser; the subcommand named in ``argv`` gets its full arguments.

    The other subcommands get only their help line, so parsing imports only the module
    of the command that runs (``argv=None``: every subcommand in full, for docs / tests).
    """
    from gnnops import __version__

    chosen = _chosen(argv) if argv is not None else None
    parser = argparse.ArgumentParser(prog="gnnops", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"gnnops {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (load, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if argv is not None and name != chosen:
            continue
        try:
            module = load()
        except ModuleNotFoundError as exc:  # a room left out of this build
            if not (exc.name or "").startswith("gnnops."):
                raise
            p.set_defaults(_module=None, _missing=exc.name)
            continue
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``gnnops`` console script.

    Returns:
        The exit code: 0 success, 1 partial failure (batch commands), 2 usage or
        input error (one line on stderr, no traceback), 74 an output could not be written
        (disk full, quota, read-only: one line; the previous file is intact), 130 / 143
        interrupted by SIGINT / SIGTERM.
    """
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    from gnnops._log import configure_logging, level_from_args

    configure_logging(level_from_args(args))
    if args._module is None:
        print(f"gnnops {args.command}: not available in this build ({args._missing})",
              file=sys.stderr)
        return 2
    try:
        return int(args._module.run(args) or 0)
    except GnnopsError as exc:
        msg = " ".join(str(exc).split())
        print(f"gnnops {args.command}: error: {msg}", file=sys.stderr)
        return int(getattr(exc, "exit_code", 2))  # StorageError (disk full): 74
    except KeyboardInterrupt:
        print(f"gnnops {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # output piped into a reader that closed early (`gnnops info ... | head`): not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as exc:  # a write outside the atomic writers: disk full, read-only, ...
        from gnnops._atomic import STORAGE_ERRNOS, storage_error

        if exc.errno not in STORAGE_ERRNOS:
            raise
        print(f"gnnops {args.command}: error: "
              f"{storage_error(exc, exc.filename or 'an output', atomic=False)}", file=sys.stderr)
        return 74


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

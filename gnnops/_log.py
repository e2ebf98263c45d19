"""Logging set-up of the command lines (``gnnops ...`` and ``train.py``).

Library modules only create loggers (``logging.getLogger(__name__)``) and log; they never
configure logging. The command lines call :func:`configure_logging` once, after parsing:
INFO by default (per-epoch training lines, what a command did), WARNING with
``--quiet``, DEBUG with ``--verbose``. Records go to stderr, one line each, so they
appear in any output (a ``nohup`` log, a redirected file), not only on a terminal.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TextIO

__all__ = ["add_verbosity_arguments", "configure_logging", "level_from_args",
           "progress_enabled"]

FORMAT = "%(asctime)s %(levelname)s %(message)s"
DEBUG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DATEFMT = "%H:%M:%S"
_HANDLER_FLAG = "_gnnops_cli_handler"


def add_verbosity_arguments(parser: argparse.ArgumentParser, *, quiet_help: str = "") -> None:
    """Add ``--quiet/-q`` and ``--verbose/-v`` (mutually exclusive) to ``parser``."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quiet", "-q", action="store_true",
                       help=quiet_help or "only warnings and errors; no progress bars")
    group.add_argument("--verbose", "-v", action="store_true", help="debug messages")


def level_from_args(args: argparse.Namespace) -> int:
    """WARNING for ``--quiet``, DEBUG for ``--verbose``, INFO otherwise."""
    if getattr(args, "quiet", False):
        return logging.WARNING
    if getattr(args, "verbose", False):
        return logging.DEBUG
    return logging.INFO


def progress_enabled(args: argparse.Namespace, stream: TextIO | None = None) -> bool:
    """Progress bars: not with ``--quiet`` / ``--no-progress``, and only on a terminal."""
    if getattr(args, "quiet", False) or getattr(args, "no_progress", False):
        return False
    stream = sys.stderr if stream is None else stream
    return bool(getattr(stream, "isatty", lambda: False)())


def configure_logging(level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """Send the ``gnnops`` loggers' records at ``level`` and above to ``stream`` (stderr).

    Idempotent: a handler installed by an earlier call is replaced, not duplicated.
    Touches only the ``gnnops`` logger (not the root logger), so an application that
    embeds gnnops keeps its own logging set-up; records still propagate to the root.
    """
    logger = logging.getLogger("gnnops")
    for h in list(logger.handlers):
        if getattr(h, _HANDLER_FLAG, False):
            logger.removeHandler(h)
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler.setFormatter(logging.Formatter(
        DEBUG_FORMAT if level <= logging.DEBUG else FORMAT, DATEFMT))
    setattr(handler, _HANDLER_FLAG, True)
    logger.addHandler(handler)
    logger.setLevel(level)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at emit time (swapped by tests, redirections)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass

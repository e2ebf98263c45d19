"""``gnnops train`` and ``python train.py``: parse a config and overrides, train, evaluate.

``run`` loads the config and calls :func:`gnnops.runs.pipeline.run` (train, evaluate,
report). Exit codes: 0 done; 2 a bad config or input, or another run holding the same run
folder (its process id is named); 74 an output could not be written (disk full, read-only;
the last checkpoint is intact); 130 Ctrl-C, 143 SIGTERM (the last checkpoint is intact;
resume with ``--resume``).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from gnnops._log import add_verbosity_arguments, configure_logging, level_from_args
from gnnops.errors import GnnopsError

__all__ = ["add_arguments", "run", "main"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``train`` options to ``parser``."""
    parser.add_argument("--config", "-c", default=None,
                        help="YAML run config (default: the built-in small Darcy run)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from <out_dir>/<name>/checkpoints/last.pt")
    add_verbosity_arguments(parser, quiet_help="only warnings and errors (no per-epoch "
                                               "lines, no progress bars)")
    parser.add_argument("overrides", nargs="*", metavar="key.sub=value",
                        help="config overrides, e.g. optim.lr=3e-4 model.kwargs.width=32")


def run(args: argparse.Namespace) -> int:
    """Train (and evaluate when available) as ``args`` say; returns the exit code."""
    from gnnops.training.config import load_config

    cfg = load_config(args.config, args.overrides)
    if args.quiet:
        cfg.train.progress = False
    from gnnops.runs.launch import run_processes

    try:
        with _sigterm_raises():
            # several CPU ranks when train.processes asks for them, else this process
            report = run_processes(cfg, resume=args.resume, level=level_from_args(args))
    except Terminated:
        # like Ctrl-C: the checkpoint being written was dropped whole, the last one is intact
        print("train.py: terminated by SIGTERM (resume with --resume)", file=sys.stderr)
        return 143
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"run folder: {cfg.run_dir}")
        print(f"report: {report}")
    return 0


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived (a batch scheduler ending the job); handled like Ctrl-C."""


@contextmanager
def _sigterm_raises() -> Iterator[None]:
    """Turn SIGTERM into :class:`Terminated` in the main thread for the duration."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``train.py``: GnnopsError -> one line on stderr, exit code 2 (74 for a
    StorageError); see the module docstring for every exit code."""
    parser = argparse.ArgumentParser(prog="train.py", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    configure_logging(level_from_args(args))
    try:
        return run(args)
    except GnnopsError as exc:
        print(f"train.py: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return int(getattr(exc, "exit_code", 2))
    except OSError as exc:  # a write outside the atomic writers: disk full, read-only, ...
        from gnnops._atomic import STORAGE_ERRNOS, storage_error

        if exc.errno not in STORAGE_ERRNOS:
            raise
        msg = storage_error(exc, exc.filename or "an output", atomic=False)
        print(f"train.py: error: {msg}", file=sys.stderr)
        return 74
    except KeyboardInterrupt:
        print("train.py: interrupted (resume with --resume)", file=sys.stderr)
        return 130

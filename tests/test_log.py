"""Tests of gnnops._log: verbosity flags, levels, progress only on a terminal, one handler."""

from __future__ import annotations

import argparse
import io
import logging

import pytest

from gnnops._log import (
    add_verbosity_arguments,
    configure_logging,
    level_from_args,
    progress_enabled,
)


@pytest.fixture
def gnnops_logger():
    logger = logging.getLogger("gnnops")
    old = logger.level, list(logger.handlers)
    yield logger
    logger.setLevel(old[0])
    logger.handlers[:] = old[1]


def _parse(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_verbosity_arguments(p)
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(list(argv))


def test_levels() -> None:
    assert level_from_args(_parse()) == logging.INFO
    assert level_from_args(_parse("-q")) == logging.WARNING
    assert level_from_args(_parse("--verbose")) == logging.DEBUG
    with pytest.raises(SystemExit):
        _parse("-q", "-v")


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_only_on_a_terminal_and_not_when_quiet() -> None:
    assert progress_enabled(_parse(), _Tty()) is True
    assert progress_enabled(_parse(), io.StringIO()) is False     # a file, a pipe, nohup
    assert progress_enabled(_parse("-q"), _Tty()) is False
    assert progress_enabled(_parse("--no-progress"), _Tty()) is False


def test_configure_is_idempotent_and_filters_by_level(gnnops_logger) -> None:
    out = io.StringIO()
    configure_logging(logging.INFO, out)
    configure_logging(logging.WARNING, out)  # replaces, does not stack
    log = logging.getLogger("gnnops.training.trainer")
    log.info("hidden")
    log.warning("shown")
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].endswith(" WARNING shown")
    configure_logging(logging.DEBUG, out)
    log.debug("detail")
    assert out.getvalue().splitlines()[-1].endswith(" DEBUG gnnops.training.trainer: detail")


def test_default_stream_follows_sys_stderr(gnnops_logger, capsys) -> None:
    configure_logging(logging.INFO)
    logging.getLogger("gnnops.x").info("epoch 1/2")
    assert capsys.readouterr().err.endswith(" INFO epoch 1/2\n")


def test_library_import_configures_nothing() -> None:
    import gnnops.training.trainer  # noqa: F401

    assert not any(getattr(h, "_gnnops_cli_handler", False)
                   for h in logging.getLogger().handlers)

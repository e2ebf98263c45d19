"""Tests of gnnops.runs.cli and train.py: user errors are one line, exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gnnops.runs.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_bad_override_one_line_exit_2(capsys) -> None:
    assert main(["optim.lr=abc"]) == 2
    err = capsys.readouterr().err
    assert err == "train.py: error: config key 'optim.lr' expects float, got 'abc'\n"


def test_unknown_key_and_missing_config(capsys, tmp_path) -> None:
    assert main(["optim.lrr=1"]) == 2
    assert "unknown config key 'optim.lrr'" in capsys.readouterr().err
    assert main(["--config", str(tmp_path / "none.yaml")]) == 2
    assert "not found" in capsys.readouterr().err


def test_train_py_no_traceback(tmp_path) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "train.py"), "model.kwargs.widht=3"],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert "model.kwargs.widht" in proc.stderr


def test_train_py_verbosity_flags(capsys) -> None:
    import logging

    import pytest

    logger = logging.getLogger("gnnops")
    old = logger.level, list(logger.handlers)
    try:
        for flag, level in (("-q", logging.WARNING), ("--verbose", logging.DEBUG),
                            (None, logging.INFO)):
            assert main([*([flag] if flag else []), "optim.lrr=1"]) == 2
            assert logger.level == level
            assert len(capsys.readouterr().err.splitlines()) == 1
        with pytest.raises(SystemExit) as info:
            main(["--quiet", "--verbose"])
        assert info.value.code == 2
    finally:
        logger.setLevel(old[0])
        logger.handlers[:] = old[1]

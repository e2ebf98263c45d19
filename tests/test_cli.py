"""Tests of the ``gnnops`` dispatcher: fast help (no torch before parsing), exit codes,
logging set-up."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest

from gnnops.cli import SUBCOMMANDS, build_parser, main

HEAVY = ("torch", "torch_geometric", "scipy", "meshio", "matplotlib")

# prints the heavy modules imported by building the parser (argv given: the parser
# ``gnnops <argv>`` uses; none: every subcommand in full) and by ``--help``
PROBE = f"""
import json, sys
from gnnops.cli import build_parser, main
argv = json.loads(sys.argv[1])
build_parser(argv)
try:
    main(argv + ["--help"] if argv is not None else ["--help"])
except SystemExit:
    pass
print(json.dumps(sorted(m for m in {HEAVY} if m in sys.modules)))
"""


def _heavy_after_help(argv: list[str] | None) -> list[str]:
    res = subprocess.run([sys.executable, "-c", PROBE, json.dumps(argv)], capture_output=True,
                         text=True, timeout=120, check=True)
    assert "usage:" in res.stdout  # the help was printed
    return json.loads(res.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("sub", [None, *SUBCOMMANDS])
def test_help_imports_no_torch(sub: str | None) -> None:
    assert _heavy_after_help(None if sub is None else [sub]) == []


def test_full_parser_imports_no_torch() -> None:
    code = ("import sys; from gnnops.cli import build_parser; p = build_parser(); "
            "print((sorted(p._subparsers._group_actions[0].choices), "
            f"[m for m in {HEAVY} if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout.strip()
    assert out == str((sorted(SUBCOMMANDS), []))


def test_only_the_chosen_subcommand_is_built() -> None:
    parser = build_parser(["info"])
    sub = parser._subparsers._group_actions[0].choices
    assert sub["info"].parse_args(["model.pt"]).artifact == "model.pt"
    assert sub["predict"].parse_args([]).__dict__ == {}  # help line only


def test_no_command_prints_help_exit_2(capsys) -> None:
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().err


def test_unknown_command_is_an_argparse_error(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["trian"])
    assert info.value.code == 2 and "invalid choice: 'trian'" in capsys.readouterr().err


@pytest.mark.parametrize(("flag", "level"), [([], logging.INFO), (["-q"], logging.WARNING),
                                             (["--verbose"], logging.DEBUG)])
def test_cli_configures_the_gnnops_logger(flag, level, tmp_path, capsys) -> None:
    logger = logging.getLogger("gnnops")
    old = logger.level, list(logger.handlers)
    try:
        rc = main(["evaluate", str(tmp_path / "missing.pt"), str(tmp_path), *flag])
        assert rc == 2 and len(capsys.readouterr().err.strip().splitlines()) == 1
        assert logger.level == level
        mine = [h for h in logger.handlers if getattr(h, "_gnnops_cli_handler", False)]
        assert len(mine) == 1  # configured once, not stacked
        logging.getLogger("gnnops.some.module").warning("visible")
        assert capsys.readouterr().err.endswith("WARNING visible\n" if level > logging.DEBUG
                                                else "gnnops.some.module: visible\n")
    finally:
        logger.setLevel(old[0])
        logger.handlers[:] = old[1]


def test_quiet_and_verbose_exclude_each_other(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["predict", "a.pt", "b.vtu", "--out", "o", "-q", "-v"])
    assert info.value.code == 2 and "not allowed with argument" in capsys.readouterr().err

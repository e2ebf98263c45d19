"""SECURITY.md states the limits and exit codes the code has (so the two cannot drift)."""

from __future__ import annotations

import re
from pathlib import Path

from gnnops import _yaml
from gnnops._atomic import LEGACY_MAX_AGE_S
from gnnops.errors import StorageError
from gnnops.graphs.safety import ENV_VARS, default_limits
from gnnops.inference.summary import LOCK_WAIT_S
from gnnops.surrogate import artifact_checks as ac

TEXT = (Path(__file__).resolve().parents[1] / "SECURITY.md").read_text()


def test_every_limit_variable_and_function_is_documented() -> None:
    for var in ENV_VARS.values():
        assert f"`{var}=" in TEXT, var
    for name in ("set_limits", "get_limits", "reset_limits"):
        assert name in TEXT
    lim = default_limits(ram_bytes=16 << 30)  # the table's "16 GiB machine" column
    assert f"{lim.max_nodes / 1e6:.1f}M" in TEXT and f"{lim.max_cells / 1e6:.0f}M" in TEXT
    assert f"{lim.max_bytes >> 30} GiB" in TEXT


def test_fixed_limits_match_the_code() -> None:
    assert _yaml.MAX_BYTES == 16 << 20 and "200,000 nodes" in TEXT
    assert f"nested {_yaml.MAX_DEPTH} deep" in TEXT and _yaml.MAX_NODES == 200_000
    assert ac.MAX_META_CHARS == 16 << 20 and ac.MAX_META_DEPTH == 64
    assert ac.MAX_PICKLE_BYTES == 64 << 20 and "(`data.pkl`) 64 MiB" in TEXT
    assert f"{ac._BUDGET_PER_WEIGHT} modules / parameters per weight tensor in the file + " \
           f"{ac._BUDGET_BASE}" in TEXT
    assert f"| {LOCK_WAIT_S:.0f} s |" in TEXT
    assert f"older than {LEGACY_MAX_AGE_S / 3600:.0f} h" in TEXT


def test_exit_codes_table() -> None:
    codes = [int(c) for c in re.findall(r"^\| (\d+) \|", TEXT, flags=re.M)]
    assert codes == [0, 1, 2, StorageError.exit_code, 130, 143]

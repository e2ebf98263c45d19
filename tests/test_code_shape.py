"""Code shape conventions (issue 11.3): no module over 400 lines; functions over 60 lines only
where splitting hurts, at most 3, each saying why in a ``# long function:`` comment."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted([*(ROOT / "gnnops").rglob("*.py"), *(ROOT / "benchmarks").glob("*.py"),
                *(ROOT / "tests").rglob("*.py"), ROOT / "train.py"])
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
MAX_LONG_FUNCTIONS = 3
REASON = "# long function:"


def _functions(path: Path):
    tree = ast.parse(path.read_text())
    lines = path.read_text().splitlines()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            n = node.end_lineno - node.lineno + 1
            body = "\n".join(lines[node.lineno - 1:node.end_lineno])
            yield f"{path.relative_to(ROOT)}:{node.lineno} {node.name}", n, REASON in body


def test_files_found():
    assert len(FILES) > 100 and ROOT / "gnnops" / "training" / "trainer.py" in FILES


def test_module_size():
    big = {str(p.relative_to(ROOT)): n for p in FILES
           if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert not big, f"modules over {MAX_MODULE_LINES} lines (split by responsibility): {big}"


def test_function_length():
    long = [(name, n, why) for p in FILES for name, n, why in _functions(p)
            if n > MAX_FUNCTION_LINES]
    unexplained = [f"{name} ({n} lines)" for name, n, why in long if not why]
    assert not unexplained, (f"functions over {MAX_FUNCTION_LINES} lines without a "
                             f"'{REASON} <why>' comment: {unexplained}")
    assert len(long) <= MAX_LONG_FUNCTIONS, f"more than {MAX_LONG_FUNCTIONS} long functions: {long}"

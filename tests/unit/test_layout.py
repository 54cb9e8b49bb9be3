"""The size limits the layout promises (docs/architecture.md): a reader can hold any module and any function.

Product modules stay at or under 500 lines and functions at or under 80; a data table written as one literal
is the only exception, and it is a module-level assignment, so it never counts as a function.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PRODUCT = ("jigsaw", "services", "connectors", "town", "apps", "devkit")
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


def _modules() -> list[Path]:
    return sorted(p for root in PRODUCT for p in (REPO / root).rglob("*.py"))


def _long_functions(path: Path, root: Path = REPO) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            if lines > MAX_FUNCTION_LINES:
                out.append(f"{path.relative_to(root)}:{node.lineno} {node.name}() is {lines} lines")
    return out


def test_the_product_tree_is_where_the_limits_look() -> None:
    # Guards the test itself: were the roots renamed, it would pass on nothing.
    assert len(_modules()) > 100


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(REPO)))
def test_no_product_module_is_longer_than_500_lines(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_MODULE_LINES, f"{path.relative_to(REPO)} is {lines} lines"


def test_no_function_is_longer_than_80_lines() -> None:
    long = [line for path in _modules() for line in _long_functions(path)]
    assert not long, "\n".join(long)


def test_the_limit_check_sees_a_long_function(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    sample = tmp_path / "probe.py"
    sample.write_text(f"def too_long() -> None:\n{body}\n\n\ndef short() -> None:\n    pass\n")
    assert _long_functions(sample, tmp_path) == [f"probe.py:1 too_long() is {MAX_FUNCTION_LINES + 1} lines"]

"""No product function is longer than 80 lines (docs/architecture.md): a longer one is split
by the steps its docstring names. Tests, migrations and the bench are outside the rule.

Run `python tests/test_function_length.py` to list the long ones, longest first.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ["core", "regions", "accounts", "programs", "beneficiaries", "disbursements", "portal"]
LIMIT = 80


def long_functions(root: Path = ROOT, limit: int = LIMIT) -> list[tuple[int, str]]:
    found = []
    for app in APPS:
        for path in sorted((root / app).rglob("*.py")):
            parts = path.relative_to(root).parts
            if "migrations" in parts or "tests" in parts or path.name.startswith("test_"):
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                    length = node.end_lineno - start + 1
                    if length > limit:
                        found.append((length, f"{path.relative_to(root)}:{node.lineno} {node.name}"))
    return sorted(found, reverse=True)


def test_no_product_function_is_over_80_lines():
    assert long_functions() == []


def test_the_rule_sees_a_long_function_and_passes_over_tests(tmp_path):
    def write(relative, lines):
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        body = "\n".join(f"    x{i} = {i}" for i in range(lines - 1))
        path.write_text(f"def f():\n{body}\n", encoding="utf-8")

    write("core/long.py", LIMIT + 1)
    write("core/short.py", LIMIT)
    write("core/tests/test_long.py", LIMIT + 20)
    write("portal/migrations/0001_x.py", LIMIT + 20)
    assert long_functions(tmp_path) == [(LIMIT + 1, "core/long.py:1 f")]


if __name__ == "__main__":
    for length, where in long_functions():
        print(length, where)

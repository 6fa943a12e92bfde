"""The house's layering, checked from the code's own imports (docs/architecture.md).

Imports run one way: core ← regions ← accounts ← programs ← beneficiaries ← disbursements ← portal.
A module may import its own app and the apps below it, never one above; no app's product code
imports `portal`; and no two modules import each other, directly or round a longer circle, even
through an import written inside a function (that only hides the circle from Python's loader).
An app's tests may use the shared test helpers (`tests.factories` and friends) but not another
app's tests.

Run `python tests/test_import_graph.py` to print every arrow that breaks a rule.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOORS = ["core", "regions", "accounts", "programs", "beneficiaries", "disbursements", "portal"]
FLOOR = {name: i for i, name in enumerate(FLOORS)}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_test(module: str) -> bool:
    parts = module.split(".")
    return "tests" in parts or parts[-1].startswith("test_") or parts[-1] == "conftest"


def _sources() -> dict[str, Path]:
    found = {}
    for app in FLOORS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            found[_module_name(path)] = path
    return found


def _imports(module: str, path: Path, known: set[str]) -> set[str]:
    """The project modules `module` imports, at the top or inside a function."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from x import y` is an import of x.y where y is a module, else of x.
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for name in names:
            # The longest known module the name starts with (a package's __init__ at the least).
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
    return targets


def import_graph() -> dict[str, set[str]]:
    sources = _sources()
    known = set(sources)
    return {module: _imports(module, path, known) for module, path in sources.items()}


def layering_violations(graph: dict[str, set[str]]) -> list[str]:
    found = []
    for module, targets in sorted(graph.items()):
        app = module.split(".")[0]
        for target in sorted(targets):
            target_app = target.split(".")[0]
            if _is_test(module):
                if _is_test(target) and target_app != app:
                    found.append(f"{module} → {target}: an app's tests use tests.factories, not another app's tests")
                continue
            if _is_test(target):
                found.append(f"{module} → {target}: product code imports a test module")
            elif FLOOR[target_app] > FLOOR[app]:
                found.append(f"{module} → {target}: {app} sits below {target_app}")
    return found


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), product code only."""
    nodes = [m for m in graph if not _is_test(m)]
    index, low, stack, on_stack, groups = {}, {}, [], set(), []
    counter = [0]

    def visit(start):
        # Iterative Tarjan: the recursive one overflows on a long chain.
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for target in edges:
                if target not in graph or _is_test(target):
                    continue
                if target not in index:
                    index[target] = low[target] = counter[0]
                    counter[0] += 1
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(sorted(group))

    for node in sorted(nodes):
        if node not in index:
            visit(node)
    return groups


def _package_parents(graph):
    """A package's __init__ importing its own submodules is how packages are made, not a circle."""
    for module, targets in graph.items():
        graph[module] = {t for t in targets if not (t.startswith(module + ".") and module.count(".") < t.count("."))}
    return graph


def test_imports_run_one_way():
    assert layering_violations(import_graph()) == []


def test_no_import_circle():
    assert circles(_package_parents(import_graph())) == []


def test_the_checker_sees_an_upward_import_and_a_circle():
    graph = {
        "regions.models": {"accounts.scopes"},
        "accounts.scopes": {"regions.models"},
        "programs.tests.test_x": {"disbursements.tests.helpers"},
        "disbursements.tests.helpers": set(),
    }
    assert layering_violations(graph) == [
        "programs.tests.test_x → disbursements.tests.helpers: an app's tests use tests.factories, not another app's tests",
        "regions.models → accounts.scopes: regions sits below accounts",
    ]
    assert circles(graph) == [["accounts.scopes", "regions.models"]]


if __name__ == "__main__":
    graph = _package_parents(import_graph())
    for line in layering_violations(graph):
        print(line)
    for group in circles(graph):
        print("circle:", " ↔ ".join(group))
    sys.exit(0)

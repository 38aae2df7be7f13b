"""The layered house (docs: the README's architecture section): who may import whom.

Every module of ``realtime/``, ``devices/``, ``gui/`` and ``launch.py`` is parsed
with :mod:`ast` (nothing is imported), and the test fails

- if a lower layer imports a higher one: ``realtime.core`` imports nothing
  else of the project; ``devices``, ``gui``, ``realtime.stages`` and
  ``realtime.body`` import only ``realtime.core`` (and their own package);
  ``realtime.app`` imports anything below; ``launch.py`` only ``realtime.app.cli``;
- if modules or packages import each other in a circle;
- if an import sits inside a function without a one-line ``# deferred: <reason>``
  comment (on the import's line or the line above): only a heavy optional
  dependency (torch, Qt, matplotlib, scipy, pyxdf) may be deferred.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

from realtime.core.launcher import PACKAGE_ROOT

ROOT = PACKAGE_ROOT  # the checkout: launch.py and the packages
PACKAGES = ("realtime", "devices", "gui")

LAYERS: dict[str, tuple[str, ...]] = {
    "realtime.core": ("realtime.core",),
    "realtime": ("realtime", "realtime.core"),
    "devices": ("devices", "realtime.core"),
    "gui": ("gui", "realtime.core"),
    "realtime.stages": ("realtime.stages", "realtime.core"),
    "realtime.body": ("realtime.body", "realtime.core"),
    "realtime.app": ("realtime", "devices", "gui"),
    "launch": ("realtime.app.cli",),
}
"""Layer of a module (the longest matching prefix) -> the prefixes it may import."""


@dataclass(frozen=True)
class Import:
    """One project import found in the source."""

    source: str
    target: str
    line: int
    in_function: bool
    type_only: bool
    deferred: bool


def _module_files() -> dict[str, Path]:
    files = {"launch": ROOT / "launch.py"}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            files[name] = path
    return files


MODULES = _module_files()


def _resolve(name: str) -> str | None:
    """The project module that ``name`` (a module or a module's attribute) lives in, or None."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _absolute(module: str, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def _is_deferred(lines: list[str], node: ast.stmt) -> bool:
    here = lines[node.lineno - 1]
    above = lines[node.lineno - 2].strip() if node.lineno > 1 else ""
    return "# deferred: " in here or above.startswith("# deferred: ")


def _scan() -> tuple[list[Import], list[tuple[str, int, str]]]:
    """Project imports of every module, and every function-level import (any package) without a reason."""
    found: list[Import] = []
    undeferred: list[tuple[str, int, str]] = []
    for module, path in MODULES.items():
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()

        def visit(node: ast.AST, in_function: bool, type_only: bool) -> None:
            for child in ast.iter_child_nodes(node):
                func = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                tc = type_only or (isinstance(child, ast.If) and "TYPE_CHECKING" in ast.dump(child.test))
                names: list[str] = []
                if isinstance(child, ast.Import):
                    names = [alias.name for alias in child.names]
                elif isinstance(child, ast.ImportFrom):
                    base = _absolute(module, child)
                    names = [base] + [f"{base}.{alias.name}" for alias in child.names]
                if names:
                    deferred = _is_deferred(lines, child)
                    if func and not deferred:
                        undeferred.append((module, child.lineno, lines[child.lineno - 1].strip()))
                    for target in {_resolve(n) for n in names} - {None, module}:
                        found.append(Import(module, target, child.lineno, func, tc, deferred))
                visit(child, func, tc)

        visit(ast.parse(text, str(path)), False, False)
    return found, undeferred


IMPORTS, UNDEFERRED = _scan()


def _layer(module: str) -> str:
    return max((layer for layer in LAYERS if module == layer or module.startswith(layer + ".")), key=len)


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the groups of nodes that reach each other (size > 1)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
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
    return groups


def _package(module: str) -> str:
    return module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0] or module


def test_the_scan_sees_the_whole_project() -> None:
    assert {"realtime.core.block", "realtime.app.runner", "devices.lsl_outlet", "gui.viewer", "launch"} <= set(MODULES)
    assert len(IMPORTS) > 300
    assert any(i.source == "launch" and i.target.startswith("realtime.app.cli") for i in IMPORTS)


def _layer_violations(imports: list[Import], layer: str) -> list[str]:
    allowed = LAYERS[layer]
    return [
        f"{i.source}:{i.line} imports {i.target}"
        for i in imports
        if _layer(i.source) == layer and not any(i.target == a or i.target.startswith(a + ".") for a in allowed)
    ]


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_no_layer_imports_a_higher_one(layer: str) -> None:
    bad = _layer_violations(IMPORTS, layer)
    assert not bad, f"{layer} may import only {LAYERS[layer]}:\n" + "\n".join(bad)


def test_no_module_cycles() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for i in IMPORTS:
        graph[i.source].add(i.target)
    assert _strongly_connected(graph) == []


def test_no_package_cycles() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for i in IMPORTS:
        a, b = _package(i.source), _package(i.target)
        if a != b and not a.startswith(b + ".") and not b.startswith(a + "."):
            graph[a].add(b)
    assert _strongly_connected(graph) == []


def test_imports_inside_functions_say_why_they_are_deferred() -> None:
    assert not UNDEFERRED, "import inside a function without a '# deferred: <reason>' comment:\n" + "\n".join(
        f"{m}:{line}: {code}" for m, line, code in UNDEFERRED
    )


def test_the_checks_find_what_they_look_for() -> None:
    # The same machinery on known cases: a lower layer importing a higher one, a cycle, a bare local import.
    assert _layer("realtime.stages.engine.engine") == "realtime.stages"
    assert _layer("realtime.core.block") == "realtime.core"
    assert _layer("realtime") == "realtime"
    upward = Import("realtime.stages.resample", "realtime.app.runner", 1, False, False, False)
    sideways = Import("devices.replay", "gui.streams", 1, False, False, False)
    assert _layer_violations([upward], "realtime.stages") == ["realtime.stages.resample:1 imports realtime.app.runner"]
    assert _layer_violations([sideways], "devices") == ["devices.replay:1 imports gui.streams"]
    assert _layer_violations([upward], "realtime.app") == []
    assert _strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _strongly_connected({"a": {"b"}, "b": set()}) == []
    tree = ast.parse("def f():\n    import torch\n")
    assert not _is_deferred(["def f():", "    import torch"], tree.body[0].body[0])
    tree = ast.parse("def f():\n    # deferred: torch is heavy\n    import torch\n")
    assert _is_deferred(["def f():", "    # deferred: torch is heavy", "    import torch"], tree.body[0].body[0])

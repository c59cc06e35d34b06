"""cds_hooks has no import cycle, counting the imports made inside functions too (a cycle hidden
in a function is still a cycle: app.py and feedback.py once reached each other that way)."""
from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def import_graph(package: Path) -> dict[str, set[str]]:
    """Each module of `package` (a folder) -> the modules of the same package it imports."""
    modules = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        graph[name] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the module's own package, then up
                    here = name.split(".") if is_package else name.split(".")[:-1]
                    base = ".".join(here[:len(here) - node.level + 1] + ([base] if base else []))
                # `from pkg import mod` imports the module pkg.mod; `from pkg import name`, pkg itself
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                           for alias in node.names]
            else:
                continue
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as error:
        return list(error.args[1])
    return None


def test_cds_hooks_has_no_import_cycle():
    graph = import_graph(ROOT / "cds_hooks")
    assert {"cds_hooks.app", "cds_hooks.feedback", "cds_hooks.request_body"} <= graph.keys()
    assert "cds_hooks.request_body" in graph["cds_hooks.feedback"]
    assert cycle(graph) is None, " -> ".join(cycle(graph) or [])


@pytest.mark.parametrize("late", [False, True])
def test_a_cycle_is_found_also_through_an_import_inside_a_function(tmp_path, late):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.b import helper\n")
    (package / "b.py").write_text("def helper():\n    from pkg import a\n" if late else "from . import a\n")
    (package / "c.py").write_text("import pkg.a\n")
    found = cycle(import_graph(package))
    assert found is not None and set(found) == {"pkg.a", "pkg.b"}
    (package / "b.py").write_text("def helper():\n    return 1\n")
    assert cycle(import_graph(package)) is None

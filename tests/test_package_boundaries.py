"""The domain's borders, read from the source with `ast`:

- every adapter (cds_hooks, audit, workbench, bench, fixtures) reaches the domain only through
  `plugin/__init__.py`: `from plugin import <name in plugin.__all__>`, never `plugin.<module>`;
- nothing under plugin/ imports cds_hooks or flask, and no file under plugin/ names a hook:
  rules declare subjects, cds_hooks maps hooks to them (cds_hooks/record_from_hook.py).

Tests are held to a looser border: a unit test of a module may reach that module's internals
(plugin.rules._rule, plugin.record.ValidatedElements, ...), but a name `plugin` exports is
imported from `plugin` everywhere, so the tests use the public API as the adapters do.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import plugin

ROOT = Path(__file__).resolve().parent.parent
ADAPTERS = ("cds_hooks", "audit", "workbench", "bench", "fixtures")
HOOK_NAMES = ("order-sign", "claim-prepare")


def _python_files(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def _imports(path: Path) -> list[tuple[int, str, tuple[str, ...]]]:
    """(line, module, names) of every import in the file, nested ones included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module, tuple(alias.name for alias in node.names)))
    return found


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(ROOT)}:{line}"


def test_adapters_import_the_domain_only_through_its_public_names():
    exported = set(plugin.__all__)
    wrong = []
    for path in _python_files(*ADAPTERS):
        for line, module, names in _imports(path):
            if module.startswith("plugin."):
                wrong.append(f"{_where(path, line)} imports {module}")
            elif module == "plugin" and not names:
                continue  # `import plugin`: attributes are checked where they are used, by mypy
            elif module == "plugin":
                wrong += [f"{_where(path, line)} imports plugin.{n}, not exported"
                          for n in names if n not in exported]
    assert wrong == []


def test_tests_import_exported_names_from_plugin():
    exported = set(plugin.__all__)
    wrong = [f"{_where(path, line)} imports {name} from {module}, not from plugin"
             for path in _python_files("tests")
             for line, module, names in _imports(path) if module.startswith("plugin.")
             for name in names if name in exported]
    assert wrong == []


def test_every_exported_name_exists():
    missing = [name for name in plugin.__all__ if not hasattr(plugin, name)]
    assert missing == []


def test_the_check_sees_a_private_import(tmp_path):
    """The scan above would catch the forms it forbids (it must be able to fail)."""
    bad = tmp_path / "bad.py"
    bad.write_text("from plugin.record import Record\nimport plugin.engine\n", encoding="utf-8")
    assert [m for _, m, _ in _imports(bad)] == ["plugin.record", "plugin.engine"]


@pytest.mark.parametrize("forbidden", ["cds_hooks", "flask"])
def test_the_domain_imports_no_protocol(forbidden):
    wrong = [_where(path, line) for path in _python_files("plugin")
             for line, module, _ in _imports(path)
             if module == forbidden or module.startswith(forbidden + ".")]
    assert wrong == []


def test_hook_names_appear_only_in_cds_hooks():
    """Within the product's code: docs, tests and fixtures name hooks as they should."""
    files = [p for p in (ROOT / "plugin").rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    wrong = [f"{p.relative_to(ROOT)}: {hook}" for p in files
             for hook in HOOK_NAMES if hook in p.read_text(encoding="utf-8", errors="replace")]
    assert wrong == []

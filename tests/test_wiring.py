"""How the service is put together: one database engine per app, shared by every part that
needs the database; no import cycle in cds_hooks, counting the imports made inside functions too
(a cycle hidden in a function is still a cycle: app.py and feedback.py once reached each other
that way)."""
from __future__ import annotations

import ast
import json
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cds_hooks import database
from cds_hooks.app import create_app
from cds_hooks.config import Config, Issuer
from tests.ehr_signer import BASE, ISS, Signer, bearer
from tests.test_feedback import FEEDBACK, accepted, issue_cards

ROOT = Path(__file__).resolve().parent.parent


def test_one_database_engine_serves_the_replay_guard_the_cards_and_the_feedback(tmp_path, policy, monkeypatch):
    made = []
    real_new_engine = database.new_engine

    def counted(*args, **kwargs):
        made.append(real_new_engine(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(database, "new_engine", counted)
    ehr = Signer.ec()
    (tmp_path / "jwks.json").write_text(json.dumps(ehr.jwks()))
    config = Config(dev=False, database_url=f"sqlite:///{tmp_path}/s.db", public_base_url=BASE,
                    issuers=(Issuer(iss=ISS, jwks_file=str(tmp_path / "jwks.json")),))
    app = create_app(config, policy)
    assert len(made) == 1 and app.extensions["cpt97124"].engine is made[0]

    class Signed:  # signs each call, as the EHR does in production
        application = app

        def post(self, path, **kwargs):
            return app.test_client().post(path, headers=bearer(ehr.token(BASE + path)), **kwargs)

    cards = issue_cards(Signed())  # the jti goes to the replay table, the cards to issued_cards
    assert Signed().post(FEEDBACK, json={"feedback": [accepted(cards["units"])]}).status_code == 200
    assert app.test_client().get("/readyz").status_code == 200
    assert len(made) == 1
    with made[0].connect() as connection:
        for table in (database.seen_tokens, database.issued_cards, database.feedback_items):
            assert connection.execute(select(func.count()).select_from(table)).scalar_one() > 0
    create_app(config, policy)
    assert len(made) == 2  # a second app has an engine of its own


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

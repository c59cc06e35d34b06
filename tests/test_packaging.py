"""`make serve` and the Dockerfile install only the base dependencies (`pip install .`), while the
tests run with the test extra, which pulls in more. Everything the serving path imports must come
from the base dependencies, or the service starts in CI and fails on a fresh install."""
from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, requires

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PROJECT = "cpt97124-cds"
# What `cpt97124 serve` loads: the CLI, the gunicorn application and its gevent worker, the app.
SERVING_MODULES = ("cds_hooks.cli", "cds_hooks.app", "cds_hooks.gunicorn_conf",
                   "gunicorn.app.wsgiapp", "gunicorn.workers.ggevent")


def base_closure() -> set[str]:
    """The distributions `pip install .` brings: the base requirements, followed with their extras."""
    seen: set[str] = set()
    todo = [(PROJECT, frozenset[str]())]
    while todo:
        name, extras = todo.pop()
        try:
            declared = requires(name) or []
        except PackageNotFoundError:
            continue  # a requirement for another platform or Python
        seen.add(canonicalize_name(name))
        for line in declared:
            req = Requirement(line)
            if req.marker and not any(req.marker.evaluate({"extra": e}) for e in extras | {""}):
                continue
            key = canonicalize_name(req.name)
            if key not in seen or req.extras:
                todo.append((req.name, frozenset(req.extras)))
    return seen


BLOCKER = """
import importlib, importlib.abc, json, re, sys
from importlib.metadata import packages_distributions

def canonicalize_name(name):  # packaging's rule, without importing packaging before the check
    return re.sub(r"[-_.]+", "-", name).lower()

allowed, modules = json.loads(sys.argv[1]), json.loads(sys.argv[2])
owners = packages_distributions()

class NotInstalled(importlib.abc.MetaPathFinder):
    # Modules of distributions outside the base install import as if absent.
    def find_spec(self, name, path=None, target=None):
        dists = owners.get(name.partition(".")[0])
        if dists and not any(canonicalize_name(d) in allowed for d in dists):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())
for module in modules:
    importlib.import_module(module)
"""


def test_serving_path_imports_with_base_dependencies_only() -> None:
    allowed = sorted(base_closure())
    run = subprocess.run([sys.executable, "-c", BLOCKER, json.dumps(allowed), json.dumps(SERVING_MODULES)],
                         capture_output=True, text=True)
    assert run.returncode == 0, f"declare it in [project] dependencies: {run.stderr.strip().splitlines()[-1]}"


def test_closure_follows_extras() -> None:
    # gunicorn's gevent worker needs `packaging` only through gunicorn's own gevent extra
    assert "packaging" in base_closure()

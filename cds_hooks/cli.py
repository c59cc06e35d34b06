"""`cpt97124`: serve the service, evaluate a request offline, load fixtures, fire hooks, report."""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _serve(args: argparse.Namespace) -> int:
    from gunicorn.app.base import BaseApplication

    from cds_hooks import gunicorn_conf
    from cds_hooks.config import Config

    overrides: dict[str, Any] = {"dev": True} if args.dev else {}
    Config.from_env(**overrides).check()  # refuse an unsafe configuration before any worker starts
    if args.dev:
        print("\n" + "!" * 78 + "\n  DEV MODE: EHR JWT verification is OFF, any CORS origin is allowed and\n"
              "  loopback FHIR servers are trusted. Never expose this to a network.\n" + "!" * 78 + "\n",
              file=sys.stderr, flush=True)
    # The production settings (gunicorn_conf), but our own bind.
    settings = {k: getattr(gunicorn_conf, k) for k in gunicorn_conf.SERVE_SETTINGS}
    settings["bind"] = f"{args.host}:{args.port}"
    if args.workers:
        settings["workers"] = args.workers

    class Server(BaseApplication):
        def load_config(self):
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self):
            # In the worker, after gevent patched the standard library, as cds_hooks.wsgi does.
            from cds_hooks.app import create_app
            return create_app(Config.from_env(**overrides))

    print(f"Serving CDS Hooks discovery at http://{args.host}:{args.port}/cds-services", file=sys.stderr)
    Server().run()
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from cds_hooks.config import Config
    from cds_hooks.database import new_engine, upgrade

    config = Config.from_env()
    try:
        revision = upgrade(new_engine(config.database_url, config.database_timeout))
    except SQLAlchemyError as error:
        print(f"error: the database could not be upgraded ({type(error).__name__})", file=sys.stderr)
        return 1
    print(f"database schema at revision {revision}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from cds_hooks.app import create_app
    from cds_hooks.config import Config

    try:
        body = Path(args.request).read_text()  # UnicodeDecodeError is a ValueError: not JSON either
        hook = json.loads(body).get("hook") if body.strip().startswith("{") else None
    except ValueError as error:
        print(f"error: {args.request} is not valid JSON: {error}", file=sys.stderr)
        return 2
    from cds_hooks.services import SERVICES
    service = next((s for s in SERVICES.values() if s.hook == hook), None)
    if service is None:
        print(f"error: {args.request}: hook must be one of "
              f"{sorted(s.hook for s in SERVICES.values())}", file=sys.stderr)
        return 2
    overrides: dict[str, Any] = {"dev": True, "database_url": "sqlite://"}
    if args.payer_profiles:
        overrides["payer_profiles"] = args.payer_profiles
    app = create_app(Config.from_env(**overrides))
    response = app.test_client().post(f"/cds-services/{service.id}", data=body,
                                      content_type="application/json")
    from cds_hooks.fhir_json import dumps
    print(dumps(response.get_json(), indent=2))  # decimals as the service wrote them
    return 0 if response.status_code == 200 else 1


def _fixtures_load(args: argparse.Namespace) -> int:
    from cds_hooks.integrator import load_fixtures
    return load_fixtures(args.fhir, args.dir, names=args.names)


def _fire(args: argparse.Namespace) -> int:
    if args.check:
        from cds_hooks.fixture_check import check
        return check(args.service, args.dir, fhir=args.fhir, token=args.token)
    from cds_hooks.integrator import fire
    return fire(args.service, args.fixture, fhir=args.fhir, fixtures_dir=args.dir, token=args.token)


def _missing_extra(what: str, extra: str, error: ImportError) -> int:
    print(f"error: {what} needs the {extra} extra ({error.name} is missing): "
          f"pip install -e '.[{extra}]'", file=sys.stderr)
    return 1


def _feedback_report(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from cds_hooks.config import Config
    from cds_hooks.database import connect
    from cds_hooks.feedback_report import html_report, report
    config = Config.from_env()
    try:  # a URL that does not parse, a server that does not answer: one line, no traceback
        engine = connect(config.database_url, config.database_timeout)
        print(report(engine))
        page = html_report(engine) if args.html else None
    except SQLAlchemyError as error:
        print(f"error: the database in CPT97124_DATABASE_URL could not be read ({type(error).__name__})",
              file=sys.stderr)
        return 1
    except ImportError as error:  # matplotlib draws the charts
        return _missing_extra("--html", "report", error)
    if page is not None:
        Path(args.html).write_text(page)
        print(f"\nHTML report written to {args.html}", file=sys.stderr)
    return 0


def _workbench(args: argparse.Namespace) -> int:
    try:
        from workbench.server import serve
    except ImportError as error:
        return _missing_extra("the workbench", "workbench", error)
    return serve(args.port, args.service, args.fhir, Path(args.dir), Path(args.keys))


def _audit(args: argparse.Namespace) -> int:
    try:
        for needed in ("tqdm", "matplotlib"):  # imported late, but the audit cannot finish without them
            importlib.import_module(needed)
        from audit.run import AuditError, SourceError, run
    except ImportError as error:
        return _missing_extra("the audit", "audit", error)
    if args.workers is not None and args.workers < 1:
        print("error: --workers must be at least 1", file=sys.stderr)
        return 2
    profiles = args.payer_profiles or os.environ.get("CPT97124_PAYER_PROFILES") or None
    try:
        summary = run(Path(args.source), Path(args.out), Path(profiles) if profiles else None,
                      workers=args.workers, scheduler=args.scheduler)
    except (SourceError, AuditError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    where = f"Dask cluster {args.scheduler}" if args.scheduler else f"{summary.workers} worker(s)"
    print(f"{summary.claims} claims audited, {summary.findings} findings; {summary.lines} lines read "
          f"(skipped, malformed or invalid: {summary.skipped}) in {summary.seconds:.1f} s on {where}; "
          f"wrote {args.out}/findings.csv, claims.csv, report.html", file=sys.stderr)
    return 0


def _fhir_server(args: argparse.Namespace) -> int:
    from workbench.fhir_server import serve
    return serve(args.port, Path(args.data))


def _docs_rules(args: argparse.Namespace) -> int:
    from cds_hooks.rule_catalog import rules_markdown
    sys.stdout.write(rules_markdown())
    return 0


def _fixtures_folder() -> Path:
    """./fixtures when run from a checkout's root, else the fixtures beside this package."""
    here = Path("fixtures")
    return here if here.is_dir() else Path(__file__).resolve().parent.parent / "fixtures"


FIXTURES = _fixtures_folder()


class HELP(argparse.HelpFormatter):
    """Each option's help ends with its default, unless the help already says it or there is none."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "(default" in text or action.default in (None, False, argparse.SUPPRESS) or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


def _command(sub: Any, name: str, run: Callable[[argparse.Namespace], int], help: str) -> argparse.ArgumentParser:
    """The subcommand `name`, which calls `run(args)`; its --help shows each option's default."""
    command: argparse.ArgumentParser = sub.add_parser(name, help=help, formatter_class=HELP)
    command.set_defaults(func=run)
    return command


def _group(sub: Any, name: str, help: str) -> Any:
    """A command that only holds subcommands (`db upgrade`, `feedback report`, ...)."""
    return sub.add_parser(name, help=help).add_subparsers(dest=f"{name}_command", required=True)


# Options several commands share, worded once.
PAYER_PROFILES: dict[str, Any] = dict(help="a clinic's payer profile TOML (default: the file named by "
                      "CPT97124_PAYER_PROFILES, else the shipped profiles only)")
FIXTURES_DIR: dict[str, Any] = dict(default=str(FIXTURES), help="folder holding one folder per fixture")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cpt97124", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    s = _command(sub, "serve", _serve, "serve the CDS Hooks service (gunicorn, gevent workers)")
    s.add_argument("--dev", action="store_true",
                   help="dev mode: no JWT checks, loopback FHIR servers allowed, any CORS origin")
    s.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"),
                   help="address to bind (env HOST); 0.0.0.0 listens on every interface")
    s.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")),
                   help="port to bind (env PORT)")
    s.add_argument("--workers", type=int, default=None,
                   help="gunicorn worker processes (default: WEB_CONCURRENCY, else one per CPU core)")

    e = _command(sub, "evaluate", _evaluate, "evaluate a CDS Hooks request file offline and print the cards")
    e.add_argument("request", help="a CDS Hooks request JSON file (e.g. fixtures/NAME/request.json)")
    e.add_argument("--payer-profiles", **PAYER_PROFILES)

    db = _group(sub, "db", "the service database (CPT97124_DATABASE_URL)")
    _command(db, "upgrade", _db_upgrade, "apply the schema migrations not yet applied (also done at start-up)")

    fixtures = _group(sub, "fixtures", "work with fixture scenarios")
    fl = _command(fixtures, "load", _fixtures_load, "post fixture transaction bundles to a FHIR server")
    fl.add_argument("--fhir", required=True, help="FHIR server base URL, e.g. http://127.0.0.1:8090/fhir (required)")
    fl.add_argument("--dir", **FIXTURES_DIR)
    fl.add_argument("names", nargs="*", help="fixture names (default: all)")

    f = _command(sub, "fire", _fire, "fire a fixture's hook at a service as an EHR would, or check every "
                 "fixture against its expected.json (--check)")
    f.add_argument("--service", default="http://127.0.0.1:8080", help="service base URL")
    which = f.add_mutually_exclusive_group(required=True)
    which.add_argument("--fixture", help="a fixture's name (a folder under --dir) or the path of a fixture folder; "
                       "one of --fixture and --check is required")
    which.add_argument("--check", action="store_true",
                       help="fire every fixture and compare its cards with its expected.json")
    f.add_argument("--fhir", help="FHIR server base URL: send no prefetch, let the service fetch (default: "
                   "send the fixture's prefetch)")
    f.add_argument("--token", help="bearer token the service should use on the FHIR server (default: a test token)")
    f.add_argument("--dir", **FIXTURES_DIR)

    feedback = _group(sub, "feedback", "feedback analytics")
    fr = _command(feedback, "report", _feedback_report, "cards issued, accepted and overridden per rule code "
                  "(database: CPT97124_DATABASE_URL)")
    fr.add_argument("--html", metavar="FILE", help="also write a self-contained HTML page with weekly trend "
                    "charts to FILE (default: the terminal table only)")

    w = _command(sub, "workbench", _workbench, "a web page on loopback that plays the EHR for both hooks "
                 "(docs/integrators.md); never part of the production service")
    w.add_argument("--port", type=int, default=8070, help="loopback port of the page (0: any free port)")
    w.add_argument("--service", default="http://127.0.0.1:8080", help="base URL of the CDS service to call")
    w.add_argument("--fhir", default="http://127.0.0.1:8090/fhir",
                   help="FHIR server base URL the EHR reads ('' for none: fixtures' recorded prefetch only)")
    w.add_argument("--dir", default=str(FIXTURES), help="fixtures folder offered as patients")
    w.add_argument("--keys", default="var/workbench",
                   help="folder of the test EHR key that signs JWTs (created on first use)")

    a = _command(sub, "audit", _audit, "check every past 97124 Claim of a FHIR Bulk Data export by the hook's "
                 "rules (docs/audit.md)")
    a.add_argument("source", help="folder of the export's NDJSON files (.ndjson or .ndjson.gz, any number per type)")
    a.add_argument("--out", required=True, help="folder for findings.csv, claims.csv and report.html (required)")
    a.add_argument("--payer-profiles", **PAYER_PROFILES)
    a.add_argument("--workers", type=int, help="local worker processes (default: one per CPU core)")
    a.add_argument("--scheduler", metavar="ADDRESS", help="evaluate on a Dask cluster, e.g. tcp://host:8786 "
                   "(the dask extra; default: local processes)")

    fs = _command(sub, "fhir-server", _fhir_server, "a local FHIR R4 test server (sekmet-fhir) on loopback for "
                  "the workbench and `fixtures load`")
    fs.add_argument("--port", type=int, default=8090, help="loopback port; the base URL is http://127.0.0.1:PORT/fhir")
    fs.add_argument("--data", default="var/fhir", help="folder for the server's SQLite data and settings")

    docs = _group(sub, "docs", "generate documentation")
    _command(docs, "rules", _docs_rules, "print docs/rules.md from the rule modules")
    return p


def main(argv: list[str] | None = None) -> int:
    if not logging.getLogger().handlers:  # a host that set up logging (a test runner) keeps it
        from cds_hooks.logs import configure
        configure()
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except OSError as error:  # a file that is not there, a port in use: say which, no traceback
        where = f"{error.filename}: " if getattr(error, "filename", None) else ""
        print(f"error: {where}{error.strerror or error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())

"""`cpt97124`: serve the service, evaluate a request offline, load fixtures, fire hooks, report."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path


def _serve(args: argparse.Namespace) -> int:
    from gunicorn.app.base import BaseApplication

    from cds_hooks import gunicorn_conf
    from cds_hooks.app import create_app
    from cds_hooks.config import Config

    overrides = {"dev": True} if args.dev else {}
    config = Config.from_env(**overrides)
    config.check()
    if config.dev:
        print("\n" + "!" * 78 + "\n  DEV MODE: EHR JWT verification is OFF, any CORS origin is allowed and\n"
              "  loopback FHIR servers are trusted. Never expose this to a network.\n" + "!" * 78 + "\n",
              file=sys.stderr, flush=True)
    app = create_app(config)
    # The production settings (gunicorn_conf), but our own bind and the app object built here.
    settings = {k: getattr(gunicorn_conf, k) for k in (
        "workers", "worker_class", "timeout", "graceful_timeout", "keepalive", "max_requests",
        "max_requests_jitter", "limit_request_line", "errorlog", "loglevel")}
    settings["bind"] = f"{args.host}:{args.port}"
    if args.workers:
        settings["workers"] = args.workers

    class Server(BaseApplication):
        def load_config(self):
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self):
            return app

    print(f"Serving CDS Hooks discovery at http://{args.host}:{args.port}/cds-services", file=sys.stderr)
    Server().run()
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from cds_hooks.app import create_app
    from cds_hooks.config import Config

    body = Path(args.request).read_text()
    hook = json.loads(body).get("hook") if body.strip().startswith("{") else None
    from cds_hooks.services import SERVICES
    service = next((s for s in SERVICES.values() if s.hook == hook), None)
    if service is None:
        print(f"error: {args.request}: hook must be one of "
              f"{sorted(s.hook for s in SERVICES.values())}", file=sys.stderr)
        return 2
    overrides = {"dev": True, "database_url": "sqlite://"}
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
    from cds_hooks.integrator import fire
    return fire(args.service, args.fixture, fhir=args.fhir, fixtures_dir=args.dir, token=args.token)


def _feedback_report(args: argparse.Namespace) -> int:
    from cds_hooks.config import Config
    from cds_hooks.feedback import report
    print(report(Config.from_env()))
    return 0


def _docs_rules(args: argparse.Namespace) -> int:
    from plugin.docs import rules_markdown
    sys.stdout.write(rules_markdown())
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cpt97124", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="serve the CDS Hooks service (gunicorn)")
    s.add_argument("--dev", action="store_true", help="dev mode: no JWT checks, loopback FHIR allowed")
    s.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    s.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    s.add_argument("--workers", type=int, default=None)
    s.set_defaults(func=_serve)

    e = sub.add_parser("evaluate", help="evaluate a CDS Hooks request file offline and print the cards")
    e.add_argument("request")
    e.add_argument("--payer-profiles", help="a clinic's payer profile TOML (default: CPT97124_PAYER_PROFILES)")
    e.set_defaults(func=_evaluate)

    fx = sub.add_parser("fixtures", help="work with fixture scenarios")
    fx_sub = fx.add_subparsers(dest="fixtures_command", required=True)
    fl = fx_sub.add_parser("load", help="post fixture transaction bundles to a FHIR server")
    fl.add_argument("--fhir", required=True, help="FHIR server base URL")
    fl.add_argument("--dir", default="fixtures")
    fl.add_argument("names", nargs="*", help="fixture names (default: all)")
    fl.set_defaults(func=_fixtures_load)

    f = sub.add_parser("fire", help="fire a hook at a service as an EHR would")
    f.add_argument("--service", required=True, help="service base URL, e.g. http://127.0.0.1:8080")
    f.add_argument("--fixture", required=True)
    f.add_argument("--fhir", help="FHIR server base URL: send no prefetch, let the service fetch")
    f.add_argument("--token", help="bearer token the service should use on the FHIR server")
    f.add_argument("--dir", default="fixtures")
    f.set_defaults(func=_fire)

    fb = sub.add_parser("feedback", help="feedback analytics")
    fb_sub = fb.add_subparsers(dest="feedback_command", required=True)
    fr = fb_sub.add_parser("report", help="acceptance and override rates per rule code")
    fr.set_defaults(func=_feedback_report)

    d = sub.add_parser("docs", help="generate documentation")
    d_sub = d.add_subparsers(dest="docs_command", required=True)
    dr = d_sub.add_parser("rules", help="print docs/rules.md from the rule modules")
    dr.set_defaults(func=_docs_rules)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())

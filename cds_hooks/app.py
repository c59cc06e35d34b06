"""Flask app factory: discovery, the two hook services, liveness and readiness; errors as
OperationOutcome. `create_app` is the list of what the service is made of."""
from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import requests
from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import Engine

from cds_hooks import auth, cors, database, errors, feedback, fhir_client, fhir_json
from cds_hooks.cards import cards
from cds_hooks.config import Config
from cds_hooks.errors import RETRY_AFTER_SECONDS, RequestError
from cds_hooks.hook_request import parse, subject_error
from cds_hooks.prefetch import gather
from cds_hooks.record_from_hook import record_from_hook
from cds_hooks.request_body import read_hook_body
from cds_hooks.services import SERVICES
from plugin import Policy, evaluate, has_subject, load_policy

log = logging.getLogger("cpt97124")


@dataclass
class State:
    """What the hook handlers use, made once per app by create_app."""

    config: Config
    policy: Policy
    engine: Engine                                   # the app's one database engine
    issued_cards: feedback.IssuedCards               # every card answered with, for the report
    fhir_session: Callable[[], requests.Session]     # makes the HTTP session of FHIR calls


def state() -> State:
    found: State = current_app.extensions["cpt97124"]
    return found


services = Blueprint("services", __name__)


@services.get("/cds-services")
def discovery() -> ResponseReturnValue:
    config = state().config
    return jsonify({"services": [s.discovery(config.hook_name(s.hook)) for s in SERVICES.values()]})


@services.post("/cds-services/<service_id>")
def call_service(service_id: str) -> ResponseReturnValue:
    service = SERVICES.get(service_id)
    if service is None:
        raise RequestError(f"no CDS service {service_id!r}", "id", status=404, code="not-found")
    st = state()
    body = read_hook_body()
    hook_request = parse(body.value, service.hook, st.config.hook_name(service.hook), held=body.held)
    g.hook = service.hook
    record = record_from_hook(service.hook, hook_request.context, fhir_server=hook_request.fhir_server)
    error = subject_error(record, hook_request.context)  # the claim or 97124 order we are asked about must be valid FHIR
    if error is not None:
        raise error
    if not has_subject(record):  # no 97124 order or line: nothing to say, nothing to fetch
        g.rule_codes = []
        return jsonify({"cards": []})
    gather(service, hook_request, st.config, record, st.fhir_session)  # notes what is unavailable or partial
    findings = evaluate(record, st.policy).findings
    out = cards(findings, record, st.config)
    g.rule_codes = [f.code for f in findings]
    st.issued_cards.record(service.id, hook_request.hook_instance, out, g.get("client_iss"))
    return jsonify({"cards": out})


@services.get("/healthz")
def healthz() -> ResponseReturnValue:
    """Liveness: the process answers. Touches nothing else, so nothing else can hold it up."""
    return jsonify({"status": "ok"})


@services.get("/readyz")
def readyz() -> ResponseReturnValue:
    """Readiness: the database answers and its schema is current; 503 + Retry-After if not."""
    st = state()
    if database.ready(st.engine):
        return jsonify({"status": "ready", "database": "ok", "cards_not_recorded": st.issued_cards.failed})
    response = jsonify({"status": "unavailable", "database": "unreachable"})
    response.status_code = 503
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def log_requests(app: Flask) -> None:
    """One JSON log line per request: ids, hook, timing and rule codes; no PHI, no tokens."""
    @app.before_request
    def start() -> None:
        g.started = time.perf_counter()
        header = request.headers.get("X-Request-Id", "")
        g.request_id = header if header.isalnum() and len(header) <= 64 else uuid.uuid4().hex

    @app.after_request
    def finish(response: Response) -> Response:
        response.headers["X-Request-Id"] = g.get("request_id", "")
        if not log.isEnabledFor(logging.INFO):  # nobody writes the line: do not build it
            return response
        log.info(json.dumps({
            "request_id": g.get("request_id"), "method": request.method, "path": request.path,
            "status": response.status_code, "hook": g.get("hook"), "rules": g.get("rule_codes"),
            "ms": round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 1),
        }))
        return response


def create_app(config: Config | None = None, policy: Policy | None = None,
               fhir_session: Callable[[], requests.Session] = fhir_client.new_session) -> Flask:
    """The service: settings from the environment unless given, the shipped payer profiles plus
    the clinic's, one database engine for all its parts; `fhir_session` makes the HTTP session
    of each request's FHIR calls (tests inject their own)."""
    config = config or Config.from_env()
    policy = policy or load_policy(config.payer_profiles)
    engine = database.connect(config.database_url, config.database_timeout)

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = config.max_request_bytes
    app.json = fhir_json.FhirJSONProvider(app)  # decimals exact, keys in the order written
    app.extensions["cpt97124"] = State(config, policy, engine, feedback.IssuedCards(engine), fhir_session)
    log_requests(app)              # first, so that every answer is logged, refusals too
    cors.init_app(app, config)     # before auth: a preflight carries no token
    auth.init_app(app, config, engine)
    app.register_blueprint(services)
    feedback.init_app(app, engine)
    errors.init_app(app)
    return app

"""Flask app factory: discovery, the two hook services, liveness and readiness; errors as
OperationOutcome."""
from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable

from flask import Blueprint, Flask, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from cds_hooks import auth, database, feedback, fhir_json
from cds_hooks.cards import cards
from cds_hooks.config import Config
from cds_hooks.errors import RETRY_AFTER_SECONDS, RequestError, operation_outcome
from cds_hooks.hook_request import parse, subject_error
from cds_hooks.prefetch import gather
from cds_hooks.record_from_hook import record_from_hook
from cds_hooks.services import SERVICES
from plugin import Policy, evaluate, has_subject, load_policy

log = logging.getLogger("cpt97124")


@dataclass
class State:
    config: Config
    policy: Policy
    # Called with (service_id, hookInstance, cards, issuer or None) after each answer; feedback
    # keeps card topics.
    on_cards: Callable[[str, str, list[dict], str | None], None] = lambda *args: None
    issued_cards: Any = None   # the CardBatches writing on_cards' rows, once feedback is wired


def state() -> State:
    return current_app.extensions["cpt97124"]


def read_json() -> object:
    """The request body as JSON, or a RequestError (never a 500 for broken or absurd JSON).

    A chunked body declares no length for MAX_CONTENT_LENGTH to refuse up front (and Werkzeug's
    stream would quietly cut it at the limit): it is read from the server's own input up to one
    byte past the limit, and a body that has that byte is refused whole (413).
    """
    if request.content_length is None and request.environ.get("wsgi.input_terminated"):
        limit = state().config.max_request_bytes
        raw = request.environ["wsgi.input"].read(limit + 1)
        if len(raw) > limit:
            raise RequestError(f"the request body is larger than {limit} bytes", status=413, code="too-long")
    else:
        raw = request.get_data(cache=True)
    try:
        return fhir_json.loads(raw)
    except (ValueError, RecursionError):
        raise RequestError("the request body is not valid JSON") from None


services = Blueprint("services", __name__)


@services.get("/cds-services")
def discovery():
    config = state().config
    return jsonify({"services": [s.discovery(config.hook_name(s.hook)) for s in SERVICES.values()]})


@services.post("/cds-services/<service_id>")
def call_service(service_id: str):
    service = SERVICES.get(service_id)
    if service is None:
        raise RequestError(f"no CDS service {service_id!r}", "id", status=404, code="not-found")
    st = state()
    hook_request = parse(read_json(), service.hook, st.config.hook_name(service.hook))
    g.hook = service.hook
    record = record_from_hook(service.hook, hook_request.context, fhir_server=hook_request.fhir_server)
    error = subject_error(record, hook_request.context)  # the claim or 97124 order we are asked about must be valid FHIR
    if error is not None:
        raise error
    if not has_subject(record):  # no 97124 order or line: nothing to say, nothing to fetch
        g.rule_codes = []
        return jsonify({"cards": []})
    gather(service, hook_request, st.config, record)  # notes what is unavailable or partial
    findings = evaluate(record, st.policy).findings
    out = cards(findings, record, st.config)
    g.rule_codes = [f.code for f in findings]
    st.on_cards(service.id, hook_request.hook_instance, out, g.get("client_iss"))
    return jsonify({"cards": out})


@services.get("/healthz")
def healthz():
    """Liveness: the process answers. Touches nothing else, so nothing else can hold it up."""
    return jsonify({"status": "ok"})


@services.get("/readyz")
def readyz():
    """Readiness: the database answers and its schema is current; 503 + Retry-After if not."""
    config = state().config
    if database.ready(config.database_url, config.database_timeout):
        return jsonify({"status": "ready", "database": "ok",
                        "cards_not_recorded": feedback.unrecorded_cards()})
    response = jsonify({"status": "unavailable", "database": "unreachable"})
    response.status_code = 503
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _error_response(status: int, message: str, field: str | None = None, code: str = "invalid"):
    response = jsonify(operation_outcome(message, field, code))
    response.status_code = status
    return response


def _register_errors(app: Flask) -> None:
    @app.errorhandler(RequestError)
    def request_error(error: RequestError):
        response = _error_response(error.status, error.message, error.field, error.code)
        if error.status == 503:
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        response = _error_response(error.code or 500, error.description or error.name,
                                   code="not-supported" if error.code == 405 else "invalid")
        if error.code == 405 and hasattr(error, "valid_methods") and error.valid_methods:
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        log.error("unhandled %s", type(error).__name__)
        return _error_response(500, "internal error; the request was not evaluated", code="exception")


def _register_logging(app: Flask) -> None:
    @app.before_request
    def start():
        g.started = time.perf_counter()
        header = request.headers.get("X-Request-Id", "")
        g.request_id = header if header.isalnum() and len(header) <= 64 else uuid.uuid4().hex

    @app.after_request
    def finish(response):
        response.headers["X-Request-Id"] = g.get("request_id", "")
        # Ids, hook, timing and rule codes only: no PHI, no tokens, no bodies.
        log.info(json.dumps({
            "request_id": g.get("request_id"), "method": request.method, "path": request.path,
            "status": response.status_code, "hook": g.get("hook"), "rules": g.get("rule_codes"),
            "ms": round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 1),
        }))
        return response


def create_app(config: Config | None = None, policy: Policy | None = None) -> Flask:
    config = config or Config.from_env()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = config.max_request_bytes
    app.json = fhir_json.FhirJSONProvider(app)  # decimals exact, keys in the order written
    app.extensions["cpt97124"] = State(config=config, policy=policy or load_policy(config.payer_profiles))
    _register_logging(app)
    _register_errors(app)
    auth.init_app(app, config)
    app.register_blueprint(services)
    feedback.init_app(app, config)
    return app

"""CORS for browser-based CDS Clients on the /cds-services paths (discovery, services, feedback).

Dev mode allows any origin; production allows only the configured origins. A preflight from an
origin we do not allow gets 403 and no CORS headers, so the browser stops there.
"""
from __future__ import annotations

from flask import Flask, Response, request

from cds_hooks.config import Config

ALLOW_HEADERS = "Authorization, Content-Type"
ALLOW_METHODS = "GET, POST, OPTIONS"
EXPOSE_HEADERS = "X-Request-Id"
PREFLIGHT_MAX_AGE = "600"


def is_cds_path(path: str) -> bool:
    return path == "/cds-services" or path.startswith("/cds-services/")


def _normal(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


def allowed_origin(origin: str | None, config: Config) -> str | None:
    """The Access-Control-Allow-Origin value for this origin, or None if it is not allowed."""
    if not origin:
        return None
    if config.dev or "*" in config.cors_origins:
        return "*"
    allowed = {_normal(o) for o in config.cors_origins}
    return origin if _normal(origin) in allowed else None


def _is_preflight() -> bool:
    return request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers


def init_app(app: Flask, config: Config) -> None:
    @app.before_request
    def answer_preflight():
        if not (_is_preflight() and is_cds_path(request.path)):
            return None
        allow = allowed_origin(request.headers.get("Origin"), config)
        if allow is None:
            return Response(status=403)
        response = Response(status=204)
        response.headers["Access-Control-Allow-Methods"] = ALLOW_METHODS
        response.headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
        response.headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
        return response  # Allow-Origin is added below, as on every CDS response

    @app.after_request
    def add_cors_headers(response):
        if is_cds_path(request.path):
            allow = allowed_origin(request.headers.get("Origin"), config)
            if allow is not None:
                response.headers["Access-Control-Allow-Origin"] = allow
                response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
            if allow != "*":
                response.vary.add("Origin")  # the answer depends on the Origin header
        return response

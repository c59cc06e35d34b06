"""The product app plus one bench-only route: a no-op JSON POST on the same stack (the ceiling).

Served by bench/wsgi.py. The no-op route reads and parses the body as the hooks do, then answers
an empty card list; it exists only here, never in the product.
"""
from __future__ import annotations

from flask import Flask, jsonify

from cds_hooks.app import create_app
from cds_hooks.config import Config
from cds_hooks.request_body import read_json

NOOP_PATH = "/bench/noop"


def create_bench_app(config: Config | None = None) -> Flask:
    app = create_app(config)

    @app.post(NOOP_PATH)
    def noop():
        read_json()
        return jsonify({"cards": []})

    return app

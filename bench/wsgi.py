"""gunicorn entry point of the bench app: `gunicorn -c python:cds_hooks.gunicorn_conf bench.wsgi:app`.

Logs one INFO line per request like `cpt97124 serve` does, so that cost is in the figures.
"""
import logging

from bench.app import create_bench_app

logging.basicConfig(level=logging.INFO, format="%(message)s")
app = create_bench_app()

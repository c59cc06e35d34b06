"""gunicorn entry point of the bench app: `gunicorn -c python:cds_hooks.gunicorn_conf bench.wsgi:app`.

Logs one INFO line per request like `cpt97124 serve` does, so that cost is in the figures.
"""
from bench.app import create_bench_app
from cds_hooks.logs import configure

configure("info")  # whatever LOG_LEVEL quiets gunicorn, our request lines are written
app = create_bench_app()

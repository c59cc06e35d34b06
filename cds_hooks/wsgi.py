"""WSGI entry point for gunicorn: `gunicorn -c python:cds_hooks.gunicorn_conf cds_hooks.wsgi:app`."""
import logging

from cds_hooks.app import create_app
from cds_hooks.config import Config

# Our request log lines (ids, hook, timing, rule codes) are INFO; gunicorn sets up only its own.
logging.basicConfig(level=logging.INFO, format="%(message)s")
config = Config.from_env()
config.check()
app = create_app(config)

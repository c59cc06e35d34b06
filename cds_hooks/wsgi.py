"""WSGI entry point for gunicorn: `gunicorn -c python:cds_hooks.gunicorn_conf cds_hooks.wsgi:app`."""
from cds_hooks.app import create_app
from cds_hooks.config import Config

config = Config.from_env()
config.check()
app = create_app(config)

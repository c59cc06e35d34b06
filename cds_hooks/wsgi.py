"""WSGI entry point for gunicorn: `gunicorn -c python:cds_hooks.gunicorn_conf cds_hooks.wsgi:app`.

Imported in each worker (after gevent has patched the standard library); each worker brings
the database schema up to date under the migration lock before it serves.
"""
from cds_hooks.app import create_app
from cds_hooks.config import Config
from cds_hooks.logs import configure

configure()
config = Config.from_env()
config.check()
app = create_app(config)

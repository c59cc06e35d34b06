"""The CDS Hooks protocol side: HTTP in, cards out. It knows CDS Hooks, not massage.

Importing the package imports nothing else: the gunicorn master reads its settings from
cds_hooks.gunicorn_conf before gevent patches the workers' standard library, and the HTTP and
TLS modules must first be imported after that patch.
"""
__all__ = ["create_app", "Config"]


def __getattr__(name: str):
    if name == "create_app":
        from cds_hooks.app import create_app
        return create_app
    if name == "Config":
        from cds_hooks.config import Config
        return Config
    raise AttributeError(name)

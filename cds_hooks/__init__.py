"""The CDS Hooks protocol side: HTTP in, cards out. It knows CDS Hooks, not massage."""
from cds_hooks.app import create_app
from cds_hooks.config import Config

__all__ = ["create_app", "Config"]

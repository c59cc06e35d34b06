"""EHR authentication (CDS Hooks 2.0 JWT bearer) and CORS. (Placeholder: wired by the auth work.)"""
from __future__ import annotations

from flask import Flask

from cds_hooks.config import Config


def init_app(app: Flask, config: Config) -> None:
    return None

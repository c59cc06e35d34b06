"""Feedback endpoint and store. (Placeholder: wired by the feedback work.)"""
from __future__ import annotations

from flask import Flask

from cds_hooks.config import Config


def init_app(app: Flask, config: Config) -> None:
    return None

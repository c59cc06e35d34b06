"""The service's logging: one stderr handler, our lines as they are, everyone else's scrubbed.

Our own loggers (`cpt97124.*`) write only ids, categories, codes and timings, never PHI or
tokens, so their lines pass as written. Third-party loggers (urllib3, requests, gunicorn,
SQLAlchemy, alembic, warnings …) cannot promise that: urllib3 puts the FHIR URL, with patient and
encounter ids, into its warnings, SQLAlchemy its statement parameters into its errors. Their
records keep the library's message template, with URLs, paths and query strings cut out; of the
arguments only numbers survive (ports, pids, counts), and a traceback becomes its exception type.
"""
from __future__ import annotations

import logging
import logging.config
import os
import re

OWN = "cpt97124"
REDACTED = "<redacted>"
_URL = re.compile(r"[a-z][a-z0-9+.-]*://\S*", re.I)
_PATH_OR_QUERY = re.compile(r"(?<![\w.])/[^\s'\"]*|\?\S*")
_SPEC = re.compile(r"%(\([^)]*\))?[-#0 +]*(\*|\d+)?(\.(\*|\d+))?[hlL]?([diouxXeEfFgGcrsa%])")


def scrub(text: str) -> str:
    """Text with URLs, absolute paths and query strings replaced."""
    return _PATH_OR_QUERY.sub(REDACTED, _URL.sub(REDACTED, text))


def _vouched(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _fill(template: str, args: object) -> str:
    """`template % args`, with every argument we cannot vouch for replaced by a placeholder."""
    positional = list(args) if isinstance(args, tuple) else [] if args is None or isinstance(args, dict) else [args]

    def one(match: re.Match) -> str:
        if match.group(5) == "%":
            return "%"
        if match.group(1) is not None or not positional:  # named (dict) arguments: never vouched
            return REDACTED
        value = positional.pop(0)
        if _vouched(value) and match.group(5) not in "cra":
            try:
                return match.group(0) % value
            except (TypeError, ValueError):
                return REDACTED
        return REDACTED

    return _SPEC.sub(one, template)


class ThirdPartyFilter(logging.Filter):
    """Rewrites records from loggers outside `cpt97124` so that no PHI or token can get through."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == OWN or record.name.startswith(OWN + "."):
            return True
        message = scrub(_fill(str(record.msg), record.args))
        if record.exc_info and record.exc_info[0] is not None:
            message += f" [{record.exc_info[0].__name__}]"
        record.msg, record.args = f"[{record.name}] {message}", None
        record.exc_info = record.exc_text = record.stack_info = None
        return True


def config_dict(level: str | None = None) -> dict:
    """The dictConfig for the service process (gunicorn's `logconfig_dict` takes it as it is)."""
    level = (level or os.environ.get("LOG_LEVEL", "info")).upper()
    handler = {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
               "filters": ["third_party"], "formatter": "plain"}
    quiet = {"level": "WARNING"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"third_party": {"()": ThirdPartyFilter}},
        "formatters": {"plain": {"format": "%(message)s"}},
        "handlers": {"stderr": handler},
        # Third parties speak only at WARNING and above; our own request lines are INFO.
        "root": {"level": "WARNING", "handlers": ["stderr"]},
        # Records reach the root's one handler by propagation; only the origin's level counts.
        "loggers": {
            OWN: {"level": level},
            "gunicorn.error": {"level": level},
            # Access lines carry the request path and query: our own request log replaces them.
            "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
            "alembic": quiet, "sqlalchemy": quiet,
        },
    }


def configure(level: str | None = None) -> None:
    """Install the service's logging in this process; warnings go through it too."""
    logging.config.dictConfig(config_dict(level))
    logging.captureWarnings(True)

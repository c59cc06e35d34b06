"""CDS Hooks 2.0 feedback: the endpoint, the store, and the per-rule acceptance report.

Feedback names only the card's uuid, while the report groups by rule code, so every card we
answer with is recorded (uuid -> rule code, service, hookInstance, time) as it leaves.

Decisions:
- One request's items are validated first and stored in one transaction: a bad item stores none.
- Feedback for a card uuid we have no record of is stored all the same and reported under
  "unknown" (the card may predate this database or come from another instance); the EHR has no
  way to act on a rejection, and the clinician's answer is still worth counting.
- A card may get several feedback posts (the spec allows it): the report counts each card once,
  by its latest outcome. An identical item posted again (an EHR retrying) is stored once.
- Cards and feedback record the JWT issuer; feedback on a card issued to another issuer is
  refused (403). Text no backend can store as it is (NUL, lone surrogates, over the limits) is a
  400; a database that cannot be reached is a 503 with Retry-After.
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

from flask import Blueprint, Flask, g, jsonify
from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from cds_hooks.card_batches import CardBatches
from cds_hooks.config import Config
from cds_hooks.database import engine_for, feedback_items, is_transient, issued_cards
from cds_hooks.errors import RequestError, unavailable
from cds_hooks.services import SERVICES

log = logging.getLogger("cpt97124.feedback")

OUTCOMES = ("accepted", "overridden")
MAX_ITEMS = 500
MAX_ID_CHARS = 128
MAX_COMMENT_CHARS = 4000
UNKNOWN = "unknown"


def _now() -> datetime:
    return datetime.now(timezone.utc)


# ---- recording issued cards -------------------------------------------------------------

_recorders: list[CardBatches] = []


def unrecorded_cards() -> int:
    """Cards this process answered with but could not record (the database was down)."""
    return sum(batches.failed for batches in _recorders)


def flush_issued_cards() -> None:
    """Write the issued cards still queued in this process now (tests, tools reading the table)."""
    for batches in _recorders:
        batches.flush()


def card_recorder(config: Config) -> tuple[Callable[[str, str, list[dict], str | None], None], CardBatches]:
    """The State.on_cards callback: remember each card's rule code and issuer, written off the
    request path in batches (cds_hooks/card_batches.py).

    Best-effort: when the database is down the clinician still gets the cards; the miss is
    counted (unrecorded_cards, shown by /readyz) and logged, and only analytics suffer.
    """
    engine = engine_for(config.database_url, config.database_timeout)

    def write(rows: list[dict]) -> None:
        with engine.begin() as connection:
            connection.execute(insert(issued_cards), rows)

    batches = CardBatches(write)
    _recorders.append(batches)

    def record(service_id: str, hook_instance: str, cards: list[dict], issuer: str | None) -> None:
        issued_at = _now()
        batches.put([{"card_uuid": card["uuid"], "service_id": service_id, "hook_instance": hook_instance,
                      "rule_code": ((card.get("source") or {}).get("topic") or {}).get("code"),
                      "issued_at": issued_at, "issuer": issuer} for card in cards if card.get("uuid")])

    return record, batches


# ---- validating feedback ----------------------------------------------------------------

def _text(value: object, path: str, limit: int = MAX_ID_CHARS) -> str:
    """A non-empty string every backend stores as it is: at most `limit` characters, no NUL
    (PostgreSQL text cannot hold one) and no lone surrogate (not encodable as UTF-8)."""
    if not isinstance(value, str) or not value.strip():
        raise RequestError(f"{path} must be a non-empty string", path)
    if len(value) > limit:
        raise RequestError(f"{path} is longer than {limit} characters", path)
    if "\x00" in value:
        raise RequestError(f"{path} must not contain NUL characters", path)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise RequestError(f"{path} is not valid Unicode text", path) from None
    return value


def _object(value: object, path: str) -> dict:
    if not isinstance(value, dict):
        raise RequestError(f"{path} must be an object", path)
    return value


def _timestamp(value: object, path: str) -> datetime:
    text = _text(value, path, 64)
    if "T" not in text:
        raise RequestError(f"{path} must be a date-time, not a date", path)
    try:
        moment = datetime.fromisoformat(text)
        # CDS Hooks sends UTC; a time without an offset is taken to be UTC as the spec says it is.
        return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
    except (ValueError, OverflowError):  # OverflowError: an offset pushes it past year 1 or 9999
        raise RequestError(f"{path} must be an ISO 8601 date-time", path) from None


def _accepted_suggestions(item: dict, path: str) -> list[str]:
    key = f"{path}.acceptedSuggestions"
    value = item.get("acceptedSuggestions")
    if item["outcome"] != "accepted":
        if value not in (None, []):
            raise RequestError(f"{key} is only allowed with outcome 'accepted'", key)
        return []
    if not isinstance(value, list) or not value:
        raise RequestError(f"{key} must list the accepted suggestions (required for 'accepted')", key)
    return [_text(_object(s, f"{key}[{i}]").get("id"), f"{key}[{i}].id") for i, s in enumerate(value)]


def _override_reason(item: dict, path: str) -> tuple[str | None, str | None, str | None]:
    key = f"{path}.overrideReason"
    if item.get("overrideReason") is None:
        return None, None, None
    if item["outcome"] != "overridden":
        raise RequestError(f"{key} is only allowed with outcome 'overridden'", key)
    reason = _object(item["overrideReason"], key)
    system = code = comment = None
    if reason.get("reason") is not None:
        coding = _object(reason["reason"], f"{key}.reason")
        system = _text(coding.get("system"), f"{key}.reason.system", 512)
        code = _text(coding.get("code"), f"{key}.reason.code")
    if reason.get("userComment") is not None:
        comment = _text(reason["userComment"], f"{key}.userComment", MAX_COMMENT_CHARS)
    if code is None and comment is None:
        raise RequestError(f"{key} needs a reason or a userComment", key)
    return system, code, comment


def _row(item: object, path: str, service_id: str, received_at: datetime, issuer: str | None) -> dict:
    item = _object(item, path)
    card = _text(item.get("card"), f"{path}.card")
    if item.get("outcome") not in OUTCOMES:
        raise RequestError(f"{path}.outcome must be one of {', '.join(OUTCOMES)}", f"{path}.outcome")
    suggestions = _accepted_suggestions(item, path)
    system, code, comment = _override_reason(item, path)
    row = {"card_uuid": card, "service_id": service_id, "outcome": item["outcome"],
           "accepted_suggestions": json.dumps(suggestions) if suggestions else None,
           "override_system": system, "override_code": code, "user_comment": comment,
           "outcome_at": _timestamp(item.get("outcomeTimestamp"), f"{path}.outcomeTimestamp"),
           "issuer": issuer}
    # Everything the item says, and who said it: a retry of the same post has the same key.
    said = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}
    row["dedup_key"] = hashlib.sha256(json.dumps(said, sort_keys=True).encode()).hexdigest()
    row["received_at"] = received_at
    return row


def parse_feedback(body: object, service_id: str, issuer: str | None = None) -> list[dict]:
    """Rows to store for one feedback request (an item repeated in it once), or a RequestError
    naming the first bad field."""
    items = _object(body, "body").get("feedback")
    if not isinstance(items, list) or not items:
        raise RequestError("feedback must be a non-empty array", "feedback")
    if len(items) > MAX_ITEMS:
        raise RequestError(f"feedback has more than {MAX_ITEMS} items", "feedback")
    received_at = _now()
    rows = [_row(item, f"feedback[{i}]", service_id, received_at, issuer) for i, item in enumerate(items)]
    return list({row["dedup_key"]: row for row in rows}.values())


def _insert_new(connection, rows: list[dict]) -> None:
    """Insert the rows whose dedup_key is not stored yet (a retried post adds nothing)."""
    dialect = {"postgresql": postgresql, "sqlite": sqlite}[connection.dialect.name]
    connection.execute(dialect.insert(feedback_items).on_conflict_do_nothing(index_elements=["dedup_key"]),
                       rows)


def _check_issuer(connection, rows: list[dict], issuer: str | None) -> None:
    """Refuse feedback on a card this service issued to another EHR (tenants stay apart)."""
    if issuer is None:  # dev mode: no verified caller, one tenant
        return
    cards = {row["card_uuid"] for row in rows}
    found = connection.execute(select(issued_cards.c.issuer).where(
        issued_cards.c.card_uuid.in_(cards), issued_cards.c.issuer.is_not(None),
        issued_cards.c.issuer != issuer).limit(1)).first()
    if found is not None:
        raise RequestError("feedback names a card that was issued to another client", "feedback",
                           status=403, code="forbidden")


# ---- the endpoint -----------------------------------------------------------------------

def init_app(app: Flask, config: Config) -> None:
    from cds_hooks.app import read_json  # app.py imports this module, so import it when wiring

    engine = engine_for(config.database_url, config.database_timeout)
    state = app.extensions["cpt97124"]
    state.on_cards, state.issued_cards = card_recorder(config)
    blueprint = Blueprint("feedback", __name__)

    @blueprint.post("/cds-services/<service_id>/feedback")
    def receive(service_id: str):
        if service_id not in SERVICES:
            raise RequestError(f"no CDS service {service_id!r}", "id", status=404, code="not-found")
        issuer = g.get("client_iss")
        rows = parse_feedback(read_json(), service_id, issuer)
        try:
            with engine.begin() as connection:  # all items or none
                _check_issuer(connection, rows, issuer)
                _insert_new(connection, rows)
        except SQLAlchemyError as error:
            log.error(json.dumps({"event": "feedback-not-stored", "error": type(error).__name__}))
            if is_transient(error):
                raise unavailable("feedback could not be stored") from None
            # Validation lets no such row through; if one still is, retrying will not help.
            raise RequestError("feedback could not be stored as sent") from None
        return jsonify({"stored": len(rows)})

    app.register_blueprint(blueprint)


# ---- the report -------------------------------------------------------------------------

@dataclass
class RuleTally:
    issued: int = 0
    accepted: int = 0
    overridden: int = 0

    def rate(self, count: int) -> str:
        return f"{100 * count / self.issued:.1f}%" if self.issued else "-"


def tallies(config: Config) -> dict[str, RuleTally]:
    """Per rule code: cards issued, and cards whose latest feedback accepted / overrode them."""
    engine = engine_for(config.database_url, config.database_timeout)
    with engine.connect() as connection:
        rule_of = {uuid: code or UNKNOWN for uuid, code in
                   connection.execute(select(issued_cards.c.card_uuid, issued_cards.c.rule_code))}
        latest: dict[str, str] = {}
        ordered = select(feedback_items.c.card_uuid, feedback_items.c.outcome).order_by(
            feedback_items.c.outcome_at, feedback_items.c.id)
        for card_uuid, outcome in connection.execute(ordered):
            latest[card_uuid] = outcome
    out: dict[str, RuleTally] = defaultdict(RuleTally)
    for code in rule_of.values():
        out[code].issued += 1
    for card_uuid, outcome in latest.items():
        tally = out[rule_of.get(card_uuid, UNKNOWN)]
        if outcome == "accepted":
            tally.accepted += 1
        else:
            tally.overridden += 1
    return dict(out)


def report(config: Config) -> str:
    """A plain table of acceptance and override rates per rule code (`cpt97124 feedback report`)."""
    rows = tallies(config)
    if not rows:
        return "No cards issued and no feedback received yet."
    header = ("rule code", "issued", "accepted", "overridden", "accept rate", "override rate")
    lines = [(code, str(t.issued), str(t.accepted), str(t.overridden), t.rate(t.accepted), t.rate(t.overridden))
             for code, t in sorted(rows.items(), key=lambda kv: (kv[0] == UNKNOWN, kv[0]))]
    widths = [max(len(r[i]) for r in [header, *lines]) for i in range(len(header))]
    fmt = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w)  # noqa: E731
                              for i, (c, w) in enumerate(zip(r, widths)))
    return "\n".join([fmt(header), fmt(tuple("-" * w for w in widths)), *map(fmt, lines)])

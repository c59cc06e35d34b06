"""CDS Hooks 2.0 feedback: the record of issued cards and the feedback endpoint (the body's
validation: cds_hooks/feedback_request.py; the reports: cds_hooks/feedback_report.py).

Feedback names only the card's uuid, while the report groups by rule code, so every card we
answer with is recorded (uuid -> rule code, service, hookInstance, time) as it leaves.

Decisions:
- One request's items are validated first and stored in one transaction: a bad item stores none.
- Feedback for a card uuid we have no record of is stored all the same and reported under
  "unknown" (the card may predate this database or come from another instance); the EHR has no
  way to act on a rejection, and the clinician's answer is still worth counting.
- A card may get several feedback posts (the spec allows it): all are stored, and the reports
  count each card once, by its latest outcome. An identical item posted again (an EHR
  retrying) is stored once.
- Cards and feedback record the JWT issuer; feedback on a card issued to another issuer is
  refused (403). Text no backend can store as it is (NUL, lone surrogates, over the limits) is a
  400; a database that cannot be reached is a 503 with Retry-After.
"""
from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, g, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from cds_hooks import feedback_request
from cds_hooks.card_batches import CardBatches
from cds_hooks.database import feedback_items, is_transient, issued_cards
from cds_hooks.errors import RequestError, unavailable
from cds_hooks.request_body import read_json
from cds_hooks.services import SERVICES

log = logging.getLogger("cpt97124.feedback")


# ---- recording issued cards -------------------------------------------------------------

class IssuedCards:
    """Remembers each card answered with (uuid -> rule code, service, hookInstance, issuer),
    written off the request path in batches (cds_hooks/card_batches.py).

    Best-effort: when the database is down the clinician still gets the cards; the miss is
    counted (`failed`, shown by /readyz) and logged, and only analytics suffer.
    """

    def __init__(self, engine: Engine):
        def write(rows: list[dict[str, Any]]) -> None:
            with engine.begin() as connection:
                connection.execute(insert(issued_cards), rows)

        self.batches = CardBatches(write)

    def record(self, service_id: str, hook_instance: str, cards: list[dict[str, Any]],
               issuer: str | None) -> None:
        issued_at = datetime.now(UTC)
        self.batches.put([{"card_uuid": card["uuid"], "service_id": service_id, "hook_instance": hook_instance,
                           "rule_code": ((card.get("source") or {}).get("topic") or {}).get("code"),
                           "issued_at": issued_at, "issuer": issuer} for card in cards if card.get("uuid")])

    @property
    def failed(self) -> int:
        """Cards answered with but not recorded (the database was down)."""
        return self.batches.failed

    def flush(self) -> None:
        """Write the cards still queued now (tests, tools reading the table)."""
        self.batches.flush()


# ---- the endpoint -----------------------------------------------------------------------

def _insert_new(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert the rows whose dedup_key is not stored yet (a retried post adds nothing)."""
    dialect = {"postgresql": postgresql, "sqlite": sqlite}[connection.dialect.name]
    connection.execute(dialect.insert(feedback_items).on_conflict_do_nothing(index_elements=["dedup_key"]),
                       rows)


def _check_issuer(connection: Connection, rows: list[dict[str, Any]], issuer: str | None) -> None:
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


def init_app(app: Flask, engine: Engine) -> None:
    """Serve POST /cds-services/{id}/feedback, storing into `engine`'s database."""
    blueprint = Blueprint("feedback", __name__)

    @blueprint.post("/cds-services/<service_id>/feedback")
    def receive(service_id: str) -> ResponseReturnValue:
        if service_id not in SERVICES:
            raise RequestError(f"no CDS service {service_id!r}", "id", status=404, code="not-found")
        issuer = g.get("client_iss")
        rows = feedback_request.parse(read_json(), service_id, issuer)
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

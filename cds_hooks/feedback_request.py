"""A CDS Hooks 2.0 feedback request body, validated: the models, and the rows they store as.

Source: https://cds-hooks.hl7.org/2.0/#feedback (a `feedback` array of items naming a card, its
outcome, the suggestions accepted or the reason for overriding, and when). A bad body is a
RequestError naming the first field at fault, e.g. `feedback[1].overrideReason.reason.system`;
a request with one bad item stores none (the caller stores all rows in one transaction).
"""
from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    PlainValidator,
    StrictStr,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from cds_hooks.errors import RequestError

OUTCOMES = ("accepted", "overridden")
MAX_ITEMS = 500
MAX_ID_CHARS = 128
MAX_SYSTEM_CHARS = 512
MAX_COMMENT_CHARS = 4000


def _storable(limit: int) -> AfterValidator:
    """Text every backend stores as it is: not blank, at most `limit` characters, no NUL
    (PostgreSQL text cannot hold one) and no lone surrogate (not encodable as UTF-8)."""
    def check(value: str) -> str:
        if not value.strip():
            raise ValueError("must be a non-empty string")
        if len(value) > limit:
            raise ValueError(f"is longer than {limit} characters")
        if "\x00" in value:
            raise ValueError("must not contain NUL characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("is not valid Unicode text") from None
        return value
    return AfterValidator(check)


Id = Annotated[StrictStr, _storable(MAX_ID_CHARS)]


def _instant(value: object) -> datetime:
    """An ISO 8601 date-time in UTC; CDS Hooks sends UTC, so a time without an offset is UTC."""
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        raise ValueError("must be an ISO 8601 date-time string")
    if "T" not in value:
        raise ValueError("must be a date-time, not a date")
    try:
        moment = datetime.fromisoformat(value)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: an offset pushes it past year 1 or 9999
        raise ValueError("must be an ISO 8601 date-time") from None


def _wrong_here(field: str, message: str) -> PydanticCustomError:
    """An error about `field` found by its item's rules as a whole (reported at that field)."""
    return PydanticCustomError("wrong_here", message, {"field": field})


class Suggestion(BaseModel):
    id: Id


class Coding(BaseModel):
    system: Annotated[StrictStr, _storable(MAX_SYSTEM_CHARS)]
    code: Id


class OverrideReason(BaseModel):
    reason: Coding | None = None
    userComment: Annotated[StrictStr, _storable(MAX_COMMENT_CHARS)] | None = None

    @model_validator(mode="after")
    def says_why(self) -> OverrideReason:
        if self.reason is None and self.userComment is None:
            raise ValueError("needs a reason or a userComment")
        return self


class Item(BaseModel):
    card: Id
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[Suggestion] | None = None
    overrideReason: OverrideReason | None = None
    outcomeTimestamp: Annotated[datetime, PlainValidator(_instant)]

    @model_validator(mode="after")
    def fits_the_outcome(self) -> Item:
        if self.outcome == "accepted" and not self.acceptedSuggestions:
            raise _wrong_here("acceptedSuggestions",
                              "must list the accepted suggestions (required for 'accepted')")
        if self.outcome != "accepted" and self.acceptedSuggestions:
            raise _wrong_here("acceptedSuggestions", "is only allowed with outcome 'accepted'")
        if self.outcome != "overridden" and self.overrideReason is not None:
            raise _wrong_here("overrideReason", "is only allowed with outcome 'overridden'")
        return self


class FeedbackRequest(BaseModel):
    feedback: Annotated[list[Item], Field(min_length=1, max_length=MAX_ITEMS)]


# Plain words for pydantic's error types; any other type keeps pydantic's own message.
PHRASES = {
    "missing": "is required",
    "string_type": "must be a string",
    "model_type": "must be an object",
    "list_type": "must be an array",
    "too_short": "must be a non-empty array",
    "too_long": f"has more than {MAX_ITEMS} items",
    "literal_error": f"must be one of {', '.join(OUTCOMES)}",
}


def _request_error(error: ErrorDetails) -> RequestError:
    loc = list(error["loc"])
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    if error["type"] == "wrong_here":
        loc.append(ctx["field"])
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")
    path = path or "body"
    if error["type"] == "value_error":
        phrase = str(ctx["error"])
    else:
        phrase = PHRASES.get(error["type"], error["msg"])
    return RequestError(f"{path} {phrase}", path)


def parse(body: object, service_id: str, issuer: str | None = None) -> list[dict[str, Any]]:
    """Rows to store for one feedback request (an item repeated in it once), or a RequestError
    naming the first bad field."""
    try:
        request = FeedbackRequest.model_validate(body)
    except ValidationError as invalid:
        raise _request_error(invalid.errors(include_url=False)[0]) from None
    received_at = datetime.now(UTC)
    rows = [_row(item, service_id, received_at, issuer) for item in request.feedback]
    return list({row["dedup_key"]: row for row in rows}.values())


def _row(item: Item, service_id: str, received_at: datetime, issuer: str | None) -> dict[str, Any]:
    coding, comment = None, None
    if item.overrideReason is not None:
        coding, comment = item.overrideReason.reason, item.overrideReason.userComment
    suggestions = [s.id for s in item.acceptedSuggestions or []]
    row: dict[str, Any] = {
        "card_uuid": item.card, "service_id": service_id, "outcome": item.outcome,
        "accepted_suggestions": json.dumps(suggestions) if suggestions else None,
        "override_system": coding.system if coding else None, "override_code": coding.code if coding else None,
        "user_comment": comment, "outcome_at": item.outcomeTimestamp, "issuer": issuer}
    # Everything the item says, and who said it: a retry of the same post has the same key.
    said = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}
    row["dedup_key"] = hashlib.sha256(json.dumps(said, sort_keys=True).encode()).hexdigest()
    row["received_at"] = received_at
    return row

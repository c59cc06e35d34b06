"""Hook request -> the domain's record: which subject each hook asks about, and where in its
context the subject, patient and visit are (CDS Hooks 2.0 order-sign; our claim-prepare,
docs/hooks/claim-prepare.md). The rules never see a hook, only the record and its subject."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from plugin import Record, Subject

SUBJECT_OF_HOOK = {"order-sign": Subject.ORDER, "claim-prepare": Subject.CLAIM}
HOOK_OF_SUBJECT = {subject: hook for hook, subject in SUBJECT_OF_HOOK.items()}


def record_from_hook(hook: str, context: dict[str, Any], prefetch: dict[str, Any] | None = None,
                     unavailable: Iterable[str] = (), fhir_server: str | None = None) -> Record:
    """A hook's record: its context names the subject (`claim` or `draftOrders`), the patient
    (`patientId`) and the visit (`encounterId`); the prefetch's resources come after the context's
    own. A resource that fails validation is skipped under its path, e.g. "context.claim"."""
    def text(key: str) -> str | None:
        value = context.get(key)
        return value if isinstance(value, str) else None

    record = Record.from_resources(SUBJECT_OF_HOOK[hook], text("patientId"), text("encounterId"),
                                   claim=context.get("claim"), orders=context.get("draftOrders"),
                                   label="context", fhir_server=fhir_server)
    record.add_prefetch(prefetch or {}, unavailable)
    return record

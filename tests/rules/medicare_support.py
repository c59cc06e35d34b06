"""A Medicare therapy visit for the coverage rules (97124-rules.md §9-§11): who performed and ordered
the massage, the plan of care and its certification, earlier treatment days and progress reports."""
from __future__ import annotations

from datetime import date, timedelta

from tests.builders import DAY, NUCC, Visit, concept, ref

AGENT_TYPES = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
V2_DEGREE = "http://terminology.hl7.org/CodeSystem/v2-0360"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
PT, PTA, OT, OTA, LMT, DC = "225100000X", "225200000X", "225X00000X", "224Z00000X", "225700000X", "111N00000X"
PHYSICIAN, NURSE_PRACTITIONER = "207Q00000X", "363LF0000X"
VISIT_DAY = date.fromisoformat(DAY)
PLAN_START = VISIT_DAY - timedelta(days=14)


def days_before(n: int) -> str:
    return (VISIT_DAY - timedelta(days=n)).isoformat()


class MedicareVisit(Visit):
    """A Visit with a 97124 by `performer`, an active plan of care certified on its first day by a
    physician, and a claim line billed with `modifiers` to `payer`."""

    def __init__(self, performer: str | None = PT, payer: str = "Medicare", modifiers=("GP",),
                 plan: bool = True, certified: bool = True, **ids: str):
        super().__init__(**ids)
        self.physician = self.practitioner(PHYSICIAN)
        self.performer = self.practitioner(performer) if performer else None
        self.massage = self.procedure("97124", minutes=15, performer=self.performer)
        period = {"start": PLAN_START.isoformat(), "end": (PLAN_START + timedelta(weeks=16)).isoformat()}
        author = {"author": {"reference": ref(self.performer)}} if self.performer else {}
        self.plan = self.care_plan(period=period, **author) if plan else None
        self.certification = self.certify(self.physician, PLAN_START.isoformat()) if plan and certified else None
        self.line = self.claim_line("97124", modifiers=tuple(modifiers))
        self.payer(payer)

    def certify(self, who: dict, day: str, agent_type: str | None = "verifier", by_signature: bool = False) -> dict:
        """A Provenance on the plan of care by `who`, dated `day` (by its recorded time or its signature)."""
        when = f"{day}T12:00:00-05:00"
        prov = {"resourceType": "Provenance", "target": [{"reference": ref(self.plan)}],
                "recorded": "2026-12-31T00:00:00Z" if by_signature else when,
                "agent": [{"who": {"reference": ref(who)},
                           **({"type": concept(agent_type, AGENT_TYPES)} if agent_type else {})}]}
        if by_signature:
            prov["signature"] = [{"type": [{"system": "urn:iso-astm:E1762-95:2013", "code": "1.2.840.10065.1.12.1.5"}],
                                  "when": when, "who": {"reference": ref(who)}}]
        return self.add(prov)

    def chiropractor(self, **extra) -> dict:
        return self.practitioner(DC, **extra)

    def order_by(self, requester: dict, authored: str, status: str = "active") -> dict:
        """An earlier (signed) 97124 order in the record, by `requester`."""
        return self.add({"resourceType": "ServiceRequest", "status": status, "intent": "order",
                         "code": concept("97124"), "subject": {"reference": f"Patient/{self.patient}"},
                         "authoredOn": authored, "requester": {"reference": ref(requester)}})

    def treatment_days(self, n: int, code: str = "97110") -> list[str]:
        """`n` earlier therapy visits, one a day from the plan's first day on."""
        days = [(PLAN_START + timedelta(days=i)).isoformat() for i in range(n)]
        for day in days:
            self.procedure(code, minutes=20, day=day, performer=self.performer)
        return days

    def report(self, day: str, author: dict | None, loinc: str = "11508-9", authenticator: dict | None = None) -> dict:
        """A progress-note DocumentReference of an earlier visit."""
        doc = {"resourceType": "DocumentReference", "status": "current", "type": concept(loinc, LOINC),
               "subject": {"reference": f"Patient/{self.patient}"}, "date": f"{day}T16:00:00-05:00",
               "content": [{"attachment": {"contentType": "text/plain", "title": "Progress report"}}]}
        if author:
            doc["author"] = [{"reference": ref(author)}]
        if authenticator:
            doc["authenticator"] = {"reference": ref(authenticator)}
        return self.add(doc)


def discipline_category(code: str, display: str) -> list[dict]:
    return [concept(code, SNOMED, display)]


def credential(code: str, system: str = NUCC) -> dict:
    return {"qualification": [{"code": concept(code, system)}]}

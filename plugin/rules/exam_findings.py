"""exam-findings: the exam must show a reason for massage (pain, spasm, swelling, lost motion...).

Source: HNS Policies: Documentation/Billing, Massage Therapy 97124 (examination)
https://healthnetworksolutions.net/index.php/massage-therapy-97124
"""
from collections.abc import Iterator
from typing import Any

from plugin.findings import Finding, Severity
from plugin.policy import Policy
from plugin.record import Record
from plugin.rules._clinical import (
    Source,
    code_hits,
    current_conditions,
    massage_service_sources,
    qualifying_hits,
    recorded_observations,
    source_of,
    subject_refs,
    term_hits,
)
from plugin.rules._rule import BOTH, PAYER_DEFENCE, Rule
from plugin.vocabulary import HNS_97124

RULE = Rule(
    code="exam-findings",
    title="Exam findings support massage",
    description=("The examination must document a reason for the massage: subjective loss of mobility, "
                 "loss of strength or joint motion, pain, spasm, soft-tissue swelling, inflammation "
                 "or restriction (as coded or written Conditions or exam Observations)."),
    citation=HNS_97124.at("Massage Therapy 97124 (examination)"),
    subjects=BOTH,
    severity=Severity.WARNING,
    superseded_by=PAYER_DEFENCE,
    needs_complete=("conditions", "observations"),
)


def _observation_source(record: Record, obs: Any) -> Source:
    concepts = [obs.code, obs.valueCodeableConcept, *(obs.interpretation or [])]
    concepts += [c.code for c in obs.component or []]
    notes = "\n".join(t for t in [obs.valueString, *(n.text for n in obs.note or [])] if t)
    return source_of(record, obs, concepts, notes)


def exam_sources(record: Record) -> list[Source]:
    """Conditions and Observations of the patient (any category), and the massage's own reasons."""
    sources = [source_of(record, c, [c.code, *(c.bodySite or [])], "\n".join(n.text for n in c.note or [] if n.text))
               for c in current_conditions(record)]
    sources += [_observation_source(record, o) for o in recorded_observations(record)]
    return sources + massage_service_sources(record, notes=False)  # a note is not the exam


@RULE.checks
def check(record: Record, policy: Policy) -> Iterator[Finding]:
    sources = exam_sources(record)
    if (code_hits(sources, policy, "exam-findings") or qualifying_hits(sources, policy)
            or term_hits(sources, policy.lexicon("exam_findings"))):
        return
    conditions, observations = len(current_conditions(record)), len(recorded_observations(record))
    yield RULE.finding(
        summary="Document the exam finding that calls for massage (pain, spasm, swelling, lost motion).",
        detail=("No current diagnosis or exam finding of the patient records pain, spasm, swelling or edema, "
                "reduced range of motion or strength, inflammation or restriction "
                f"(read {conditions} current diagnosis(es) and {observations} observation(s))."),
        evidence=[s.ref for s in sources] + subject_refs(record))

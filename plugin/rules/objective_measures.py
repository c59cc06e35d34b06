"""objective-measures: progress toward the goals must be tracked with objective measures.

Source: CMS Benefit Policy Manual, ch. 15, §220.3 (documentation: objective measures)
https://www.cms.gov/Regulations-and-Guidance/Guidance/Manuals/Downloads/bp102c15.pdf
"""
from collections.abc import Iterator
from typing import Any

from plugin.facts import codings
from plugin.findings import Finding, Severity
from plugin.policy import Policy
from plugin.record import Record
from plugin.rules._clinical import current_goals, measured, recorded_observations, subject_refs
from plugin.rules._rule import BOTH, PAYER_DEFENCE, Rule
from plugin.vocabulary import CMS_BENEFIT_POLICY_CH15
from plugin.wording import concept_label

RULE = Rule(
    code="objective-measures",
    title="Objective measures track the goals",
    description=("The record must hold objective measures that track progress toward the massage goals: "
                 "Observations with a value (range of motion in degrees, a pain score, girth in cm...), "
                 "and, when the Goals name a target.measure, a value of that measure."),
    citation=CMS_BENEFIT_POLICY_CH15.at("§220.3 (documentation: objective measures)"),
    subjects=BOTH,
    severity=Severity.WARNING,
    superseded_by=PAYER_DEFENCE,
    needs_complete=("observations", "goals"),
)


def goal_measures(record: Record) -> set[tuple[str, str]]:
    """(system, code) of every Goal.target.measure of the patient's current goals."""
    return {(c.system, c.code) for g in current_goals(record) for t in g.target or []
            for c in codings(t.measure) if c.code}


def _measure_codes(obs: Any) -> set[tuple[str, str]]:
    return {(c.system, c.code) for c in codings([obs.code, *(x.code for x in obs.component or [])]) if c.code}


def tracking(record: Record) -> list[Any]:
    """Measured Observations that track the goals: of a goal's target measure when the goals name
    one, else any measured Observation."""
    wanted = goal_measures(record)
    values = measured(record)
    return [o for o in values if _measure_codes(o) & wanted] if wanted else values


@RULE.checks
def check(record: Record, policy: Policy) -> Iterator[Finding]:
    if tracking(record):
        return
    values = measured(record)
    kept = {id(o) for o in values}
    empty = [o for o in recorded_observations(record) if id(o) not in kept]
    names = sorted({concept_label(t.measure) for g in current_goals(record) for t in g.target or []
                    if t.measure is not None and codings(t.measure)})
    if names:
        detail = (f"The goals are measured by {', '.join(names)}, but no value of it is recorded"
                  + (f"; the {len(values)} measurement(s) on record track something else." if values else "."))
    else:
        detail = "The patient has no measurement with a value (e.g. range of motion in degrees, pain score, girth)."
    if empty:
        detail += f" {len(empty)} observation(s) carry no value."
    goals = [Record.ref_of(g) for g in current_goals(record) if g.target]
    yield RULE.finding(
        summary="Record an objective measure (ROM, pain score, girth) that tracks the massage goals.",
        detail=detail,
        evidence=goals + [Record.ref_of(o) for o in values + empty] + subject_refs(record))

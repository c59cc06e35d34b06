"""progress: the record must show progress toward the goals and since the last visit.

Source: CMS Benefit Policy Manual, ch. 15, §220.3 (progress reports, treatment notes)
https://www.cms.gov/Regulations-and-Guidance/Guidance/Manuals/Downloads/bp102c15.pdf
"""
from collections.abc import Iterator
from typing import Any

from plugin.documents import service_note, unreadable_notes
from plugin.facts import codings, massage_procedures, observation_day
from plugin.findings import Finding, Severity
from plugin.policy import Policy
from plugin.record import Record
from plugin.rules._clinical import current_goals, measured
from plugin.rules._rule import CLAIM_ONLY, Rule
from plugin.vocabulary import CMS_BENEFIT_POLICY_CH15

RULE = Rule(
    code="progress",
    title="Progress toward goals documented",
    description=("Each visit must show progress toward the goals and since the last visit: a measure "
                 "repeated on a later date, a goal's achievement status, or progress in the 97124 note (the "
                 "Procedure's note or the visit's note document). A note document that cannot be read keeps "
                 "the rule quiet."),
    citation=CMS_BENEFIT_POLICY_CH15.at("§220.3 (progress reports, treatment notes)"),
    subjects=CLAIM_ONLY,
    severity=Severity.WARNING,
    needs_complete=("observations", "goals", "procedures", "documents"),
)


def repeated_measures(record: Record) -> dict[str, list[Any]]:
    """Measure code -> Observations of it, when it was measured on at least two dates."""
    by_code: dict[str, list[Any]] = {}
    for obs in measured(record):
        for c in codings(obs.code):
            if c.code:
                by_code.setdefault(c.code, []).append(obs)
    return {code: obs for code, obs in by_code.items()
            if len({observation_day(o, record) for o in obs} - {None}) >= 2}


def progress_evidence(record: Record, policy: Policy) -> list[str]:
    """Where progress is shown (empty when nowhere)."""
    found = [f"measure `{code}` on {len(obs)} dates" for code, obs in repeated_measures(record).items()]
    found += [f"`{Record.ref_of(g)}` achievementStatus" for g in current_goals(record) if g.achievementStatus]
    lexicon = policy.lexicon("progress")
    for proc in massage_procedures(record):
        words = lexicon.hits(service_note(record, proc))
        found += [f"`{Record.ref_of(proc)}` note: {', '.join(words)}"] if words else []
    return found


@RULE.checks
def check(record: Record, policy: Policy) -> Iterator[Finding]:
    procedures = massage_procedures(record)
    if not procedures or progress_evidence(record, policy) or unreadable_notes(record):
        return  # no 97124 service at all is time-in-out's card; an unread note may report progress
    goals = current_goals(record)
    yield RULE.finding(
        summary="Document progress toward the goals since the last visit (measure, goal status or note).",
        detail=("No measure was repeated on a later date, no goal has an achievement status, and the "
                "massage note reports no progress (words like improved, since last visit, goal met). "
                f"Read {len(measured(record))} measurement(s) and {len(goals)} goal(s)."),
        evidence=[Record.ref_of(p) for p in procedures] + [Record.ref_of(g) for g in goals])

"""functional-goal: the plan needs a direct functional goal with a time frame.

Source: HNS Policies: Documentation/Billing, Massage Therapy 97124 (plan and goals)
https://healthnetworksolutions.net/index.php/massage-therapy-97124
"""
from collections.abc import Iterator
from typing import Any

from plugin.facts import texts
from plugin.findings import Finding, Severity
from plugin.policy import Policy
from plugin.record import Record
from plugin.rules._clinical import current_goals, subject_refs
from plugin.rules._rule import BOTH, PAYER_DEFENCE, Rule
from plugin.vocabulary import HNS_97124
from plugin.wording import label

RULE = Rule(
    code="functional-goal",
    title="Functional goal with a time frame",
    description=("The plan must hold a direct functional goal with a time frame: a Goal naming a daily "
                 "activity (walk, dress, lift, reach, climb stairs, drive, sit, sleep, work...) with a "
                 "due date or duration, e.g. \"able to lift a grocery bag independently within 4 weeks\"."),
    citation=HNS_97124.at("Massage Therapy 97124 (plan and goals)"),
    subjects=BOTH,
    severity=Severity.WARNING,
    superseded_by=PAYER_DEFENCE,
    needs_complete=("goals",),
)


def _has_time_frame(goal: Any) -> bool:
    return any(t.dueDate is not None or t.dueDuration is not None for t in goal.target or [])


@RULE.checks
def check(record: Record, policy: Policy) -> Iterator[Finding]:
    activities = policy.lexicon("functional_activities")
    goals = current_goals(record)
    notes = []
    for goal in goals:
        words = activities.hits("\n".join(texts(goal.description)))
        timed = _has_time_frame(goal)
        if words and timed:
            return
        name = label(record, goal)
        if words:
            notes.append(f"{name} names {', '.join(words)} but has no due date or duration")
        elif timed:
            notes.append(f"{name} has a time frame but names no daily activity")
        else:
            notes.append(f"{name} names no daily activity and has no time frame")
    detail = ("; ".join(notes[:3]) + "." if notes else "The patient has no active goal.")
    yield RULE.finding(
        summary="Add a functional goal with a time frame (e.g. able to lift 10 lb within 4 weeks).",
        detail=detail[0].upper() + detail[1:] + " A functional goal names a daily activity and a time frame.",
        evidence=[Record.ref_of(g) for g in goals] + subject_refs(record))

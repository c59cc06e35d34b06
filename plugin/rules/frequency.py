"""frequency: a massage order should say how often and for how long (e.g. 2x/week for 4 weeks).

Source: HNS Policies: Documentation/Billing, Massage Therapy 97124 (setting and frequency)
https://healthnetworksolutions.net/index.php/massage-therapy-97124
"""
from collections.abc import Iterator
from typing import Any

from plugin.facts import massage_orders
from plugin.findings import Finding, Severity
from plugin.policy import Policy
from plugin.record import Record
from plugin.rules._rule import ORDER_ONLY, Rule
from plugin.vocabulary import HNS_97124
from plugin.wording import label, sentence

RULE = Rule(
    code="frequency",
    title="Order gives a frequency",
    description=("Every modality or therapy ordered should state its frequency: the order's "
                 "occurrenceTiming should carry how often (frequency per period) or how many sessions "
                 "or for how long (count, bounds), e.g. twice a week for four weeks."),
    citation=HNS_97124.at("Massage Therapy 97124 (setting and frequency)"),
    subjects=ORDER_ONLY,
    severity=Severity.INFO,
)


def gives_frequency(timing: Any) -> bool:
    if timing is None:
        return False
    if timing.code is not None:  # a named schedule (BID, WK...) is a frequency
        return True
    repeat = timing.repeat
    if repeat is None:
        return False
    per_period = repeat.frequency is not None and repeat.period is not None
    bounded = any(v is not None for v in (repeat.count, repeat.boundsDuration, repeat.boundsPeriod))
    return per_period or bounded


@RULE.checks
def check(record: Record, policy: Policy) -> Iterator[Finding]:
    for order in massage_orders(record):
        if gives_frequency(order.occurrenceTiming):
            continue
        ref = Record.ref_of(order)
        yield RULE.finding(
            summary="State how often massage is to be given (e.g. 2x/week for 4 weeks).",
            detail=(f"{sentence(label(record, order))} gives no frequency (times per week) and no number of "
                    "sessions or duration."),
            evidence=[ref])

"""data-unavailable: say plainly what could not be read or checked, instead of failing silently.

Source: HL7 CDS Hooks 2.0, Prefetch and FHIR resource access
https://cds-hooks.hl7.org/2.0/
"""
from collections.abc import Iterator

from plugin.completeness import Status
from plugin.documents import unreadable_notes
from plugin.findings import Evaluation, Finding, Severity
from plugin.policy import Policy
from plugin.record import Record, Subject
from plugin.rules._rule import BOTH, Rule
from plugin.vocabulary import CDS_HOOKS_2
from plugin.wording import label

RULE = Rule(
    code="data-unavailable",
    title="Some data could not be checked",
    description=("Data the rules need could not be fetched from the EHR or arrived only in part (a "
                 "search page without the pages after it), a resource failed FHIR validation and was "
                 "skipped, or a rule could not run. The other cards still stand; this one lists what "
                 "they could not take into account, and the rules that stayed quiet because of it. A key is "
                 "named only when a rule that applies to this payer needed it and the missing part could "
                 "change its verdict."),
    citation=CDS_HOOKS_2.at("Prefetch and FHIR resource access"),
    subjects=BOTH,
    severity=Severity.INFO,
)


def _key_line(record: Record, so_far: Evaluation, key: str) -> str:
    quiet = sorted(code for code, keys in so_far.unchecked.items() if key in keys)
    if record.has_skipped(key) and record.states.get(key, Status.COMPLETE).usable:
        what = f"- Part of **{key}** could not be read (a resource skipped below)."
    elif record.states.get(key) is Status.PARTIAL:
        what = f"- Only part of **{key}** was received (a search page whose next page could not be fetched)."
    elif record.fhir_server:
        what = f"- Could not fetch **{key}** from the EHR's FHIR server."
    else:
        what = f"- **{key}** was not sent (or its search failed) and no fhirServer was given to fetch it from."
    return what + (f" Not checked: {', '.join(f'“{_title(c)}”' for c in quiet)}." if quiet else "")


@RULE.reports
def report(record: Record, policy: Policy, so_far: Evaluation) -> Iterator[Finding]:
    # Only the keys a rule that applies here needed: data nothing reads is no loss to report.
    keys = list(dict.fromkeys(key for needed in so_far.unchecked.values() for key in needed))
    unread = unreadable_notes(record) if record.subject is Subject.CLAIM else []
    lines = [_key_line(record, so_far, key) for key in keys]
    lines += [f"- Skipped {_kind(s.kind or s.where)} that {s.why} ({s.reason})." for s in record.skipped]
    lines += [f"- Could not read {label(record, d)} (not plain text, Markdown, HTML or a PDF with text, or not "
              "fetched): techniques, regions and progress were not checked against it." for d in unread]
    lines += [f"- The check “{_title(code)}” could not be run." for code in so_far.failed]
    if not lines:
        return
    yield RULE.finding(
        summary="Some data could not be checked; review the listed items before relying on these cards.",
        detail="\n".join(lines[:6]) + (f"\n- and {len(lines) - 6} more." if len(lines) > 6 else ""),
        evidence=[s.where for s in record.skipped] + [Record.ref_of(d) for d in unread])


def _kind(where: str) -> str:
    """`an Observation` for `Observation/x` (or `Observation`); `a resource` for a place in the request."""
    kind = where.split("/", 1)[0] if "/" in where or where.isalpha() else "resource"
    return ("an " if kind[0].lower() in "aeiou" else "a ") + kind


def _title(code: str) -> str:
    from plugin.rules import rule  # the catalog imports this module: look it up when needed
    try:
        return rule(code).title
    except KeyError:  # a rule passed in by the caller, not from the catalog
        return code

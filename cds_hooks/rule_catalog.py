"""Generate docs/rules.md from the rule modules, so the published catalog cannot drift from the code.
Rules declare subjects; the catalog names the hooks that ask about them (cds_hooks/record_from_hook.py).

`cpt97124 docs rules > docs/rules.md` (or `make docs`) writes it; tests/test_docs.py fails when the
committed file differs from what this module produces.
"""
from __future__ import annotations

from cds_hooks.record_from_hook import SUBJECT_OF_HOOK
from plugin import OVERRIDE_REASONS, Rule, Severity, all_rules

# Hooks are listed in the order a visit meets them: the order is signed, then the claim is made.
HOOK_ORDER = ("order-sign", "claim-prepare")

HEADER = """\
<!-- Generated from plugin/rules by `make docs` (cpt97124 docs rules). Do not edit by hand. -->
# Rule catalog

Each rule below is one module in `plugin/rules/`. Its **code** is the `source.topic.code` of every
card it produces; codes are a stable contract for integrators and for feedback analytics, so they
are never renamed. Hooks: `order-sign` checks a draft 97124 order, `claim-prepare` checks a draft
claim with a 97124 line (see [hooks/claim-prepare.md](hooks/claim-prepare.md)). Severity is the
card's `indicator`. Where the data to decide is missing, the rule that reports the gap fires
instead of a guess. Rules are listed by code, alphabetically.
"""


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def _hooks(rule: Rule) -> str:
    return ", ".join(f"`{h}`" for h in HOOK_ORDER if SUBJECT_OF_HOOK[h] in rule.subjects)


def _citation(rule: Rule) -> str:
    label = str(rule.citation)
    return f"[{label}]({rule.citation.url})" if rule.citation.url else label


def _summary_table(rules: list[Rule]) -> list[str]:
    lines = ["| code | hooks | severity | title |", "|---|---|---|---|"]
    for rule in rules:
        lines.append(f"| [`{rule.code}`](#{rule.code}) | {_hooks(rule)} | {rule.severity.value} "
                     f"| {_cell(rule.title)} |")
    return lines


def _section(rule: Rule) -> list[str]:
    lines = [f"## `{rule.code}`", "", f"**{rule.title}**", "",
             " ".join(rule.description.split()), "",
             f"- Hooks: {_hooks(rule)}",
             f"- Severity: {rule.severity.value}",
             f"- Source: {_citation(rule)}"]
    if rule.superseded_by:
        quiet = ", ".join(f"`{code}`" for code in rule.superseded_by)
        lines.append(f"- Stays silent when {quiet} fires for the same request (that card already says it).")
    if rule.severity is not Severity.INFO and rule.overrides:
        reasons = "; ".join(f"{OVERRIDE_REASONS[code]} (`{code}`)" for code in rule.overrides)
        lines.append(f"- Override reasons offered: {reasons}.")
    if rule.needs_complete:
        keys = ", ".join(f"`{key}`" for key in rule.needs_complete)
        lines.append(f"- Stays silent unless {keys} arrived complete (a partial or unavailable key proves "
                     "no absence; `data-unavailable` names it).")
    if rule.silenced_by:
        keys = ", ".join(f"`{key}`" for key in rule.silenced_by)
        lines.append(f"- Still checked when only {keys} is missing: what is in it could only keep this rule quiet, so "
                     "a finding is withheld and the key named, and no finding stands.")
    if rule.payer_settings:
        names = " or ".join(f"`{name}`" for name in rule.payer_settings)
        lines.append(f"- Applies only when the payer profile sets {names}; when the Coverage could not be had "
                     "and no payer was recognised, it stays silent and `data-unavailable` names the key.")
    if rule.runs_last:
        lines.append("- Runs after every other rule: it reports on the evaluation itself.")
    return lines + [""]


def rules_markdown() -> str:
    """The whole of docs/rules.md, deterministic for a given set of rule modules."""
    rules = sorted(all_rules(), key=lambda r: r.code)
    lines = [HEADER, *_summary_table(rules), ""]
    for rule in rules:
        lines += _section(rule)
    return "\n".join(lines).rstrip("\n") + "\n"

"""docs/architecture.md's checklists, followed once: a test-only rule and a test-only payer are
added exactly as the document says (a module in the rules package exporting RULE; a clinic's
payer-profile file), and the rule's card fires and stays quiet through the HTTP service.

The rule module is written to a temporary folder added to the rules package's search path, the
same discovery `plugin/rules/__init__.py` applies to `plugin/rules/`: nothing in the repository
changes, and the catalog is restored afterwards.
"""
from __future__ import annotations

import textwrap
from dataclasses import replace

import pytest

import plugin.rules
from cds_hooks.app import create_app
from cds_hooks.rule_catalog import rules_markdown
from plugin import all_rules
from tests.builders import Visit

CODE = "test-only-units-cap"
CLAIM_SERVICE = "/cds-services/massage-97124-claim-check"

# Step 1 of "Add a rule": one module exporting RULE, its check registered with @RULE.checks.
RULE_MODULE = textwrap.dedent('''
    """test-only-units-cap: more 97124 units on the claim than the payer's audit threshold."""
    from collections.abc import Iterator

    from plugin.facts import item_quantity, payer_profile, visit_massage_lines
    from plugin.findings import Finding, Severity
    from plugin.policy import Policy
    from plugin.record import Record
    from plugin.rules._rule import CLAIM_ONLY, Rule
    from plugin.vocabulary import HNS_97124

    RULE = Rule(
        code="test-only-units-cap",
        title="Units above the payer's threshold (test only)",
        description="A rule added in a test by following docs/architecture.md.",
        citation=HNS_97124.at("Massage Therapy 97124 (utilisation)"),
        subjects=CLAIM_ONLY,
        severity=Severity.WARNING,
    )


    @RULE.checks
    def check(record: Record, policy: Policy) -> Iterator[Finding]:
        profile = payer_profile(record, policy)
        units = sum(item_quantity(line) for line in visit_massage_lines(record))
        if units > profile.audit_units_over:
            yield RULE.finding(summary=f"{units} units for {profile.id}: above {profile.audit_units_over}.",
                               detail="Test-only rule.")
''')

# Step 1 of "Add a payer": a clinic's own file, passed like PAYER_PROFILES.
PAYER_FILE = textwrap.dedent('''
    [profiles.test-payer]
    name = "Test Payer"
    aliases = ["Test Payer Health Plan"]
    audit_units_over = 3
''')


@pytest.fixture
def added(tmp_path, monkeypatch):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "test_only_units_cap.py").write_text(RULE_MODULE, encoding="utf-8")
    monkeypatch.setattr(plugin.rules, "__path__", [*plugin.rules.__path__, str(rules)])
    all_rules.cache_clear()
    payers = tmp_path / "clinic-payers.toml"
    payers.write_text(PAYER_FILE, encoding="utf-8")
    yield payers
    all_rules.cache_clear()


def claim(units: int, payer: str) -> Visit:
    visit = Visit()
    visit.procedure("97124", minutes=15 * units)
    visit.claim_line("97124", units=units)
    visit.payer(payer)
    return visit


def card_codes(client, visit: Visit) -> dict[str, dict]:
    response = client.post(CLAIM_SERVICE, json=visit.request("claim-prepare"))
    assert response.status_code == 200, response.get_json()
    return {c["source"]["topic"]["code"]: c for c in response.get_json()["cards"]}


def test_a_rule_and_a_payer_added_by_the_checklists_fire_and_stay_quiet(added, config):
    assert CODE in {r.code for r in all_rules()}              # found by the catalog, nothing registered
    assert f"## `{CODE}`" in rules_markdown()                  # step 4: `make docs` would publish it
    client = create_app(replace(config, payer_profiles=str(added))).test_client()   # as PAYER_PROFILES

    fired = card_codes(client, claim(4, "Test Payer Health Plan"))[CODE]
    assert fired["summary"].startswith("4 units for test-payer: above 3")   # the payer's own threshold
    assert CODE not in card_codes(client, claim(3, "Test Payer Health Plan"))  # quiet at the threshold
    # The same 3 units under the default profile (threshold 1) fire: the payer's setting decided.
    assert CODE in card_codes(client, claim(3, "Some Other Insurer"))


def test_without_the_checklists_the_rule_and_payer_do_not_exist(policy):
    assert CODE not in {r.code for r in all_rules()}
    assert "test-payer" not in policy.profiles

from plugin import load_policy
from tests.builders import Visit
from tests.rules.billing_support import run


def visit_with(units: int, payer: str | None = None) -> Visit:
    visit = Visit()
    visit.procedure("97124", minutes=15 * units)
    visit.claim_line("97124", units=units)
    if payer:
        visit.payer(payer)
    return visit


def test_fires_as_info_above_one_unit_and_lists_documentation(policy):
    [finding] = run(visit_with(2), policy)["audit-multiple-units"]
    assert finding.severity.value == "info"
    assert finding.evidence == ("Claim.item[1]",)
    assert "2 units" in finding.summary and "2 Mar 2026" in finding.summary
    assert "time in and out" in finding.detail and "regions treated" in finding.detail


def test_silent_at_one_unit(policy):
    assert "audit-multiple-units" not in run(visit_with(1), policy)


def test_threshold_comes_from_payer_profile(tmp_path):
    extra = tmp_path / "payers.toml"
    extra.write_text('[profiles.lenient]\nname = "Lenient Plan"\naudit_units_over = 2\n')
    custom = load_policy(extra_profiles=extra)
    assert "audit-multiple-units" not in run(visit_with(2, "Lenient Plan"), custom)
    assert "audit-multiple-units" in run(visit_with(3, "Lenient Plan"), custom)

"""Engine: subjects select rules, superseded findings drop, a failing rule is reported, not fatal."""
from plugin import Citation, Rule, Severity, all_rules, evaluate
from plugin.rules._rule import CLAIM_ONLY
from tests.builders import Visit

CITE = Citation("Test", "", "https://example.org/test")


def make_rule(code, fires=True, superseded_by=(), severity=Severity.WARNING, raises=False):
    rule = Rule(code=code, title=code, description=code, citation=CITE, subjects=CLAIM_ONLY, severity=severity,
                superseded_by=superseded_by)

    @rule.checks
    def check(record, policy):
        if raises:
            raise RuntimeError("patient data would be here")
        if fires:
            yield rule.finding(summary=f"{code} fired", detail="d")
    return rule


def visit():
    v = Visit()
    v.procedure("97124", minutes=15)
    v.claim_line("97124")
    return v


def test_superseded_findings_are_dropped_and_order_is_by_severity(policy):
    rules = [make_rule("a", superseded_by=("b",)), make_rule("b", severity=Severity.INFO),
             make_rule("c", severity=Severity.CRITICAL), make_rule("d", fires=False)]
    found = evaluate(visit().record(), policy, rules).findings
    assert [f.code for f in found] == ["c", "b"]


def test_rules_of_the_other_subject_do_not_run(policy):
    v = Visit()
    v.order("97124")
    assert evaluate(v.record("order-sign"), policy, [make_rule("a")]).findings == ()


def test_no_97124_subject_means_no_findings(policy):
    v = Visit()
    v.claim_line("97110")
    assert evaluate(v.record(), policy, [make_rule("a")]).findings == ()


def test_a_failing_rule_is_reported_by_data_unavailable(policy, caplog):
    data_unavailable = next(r for r in all_rules() if r.code == "data-unavailable")
    result = evaluate(visit().record(), policy, [data_unavailable, make_rule("boom", raises=True),
                                                  make_rule("ok")])
    assert result.failed == ("boom",)
    found = result.findings
    codes = [f.code for f in found]
    assert codes == ["ok", "data-unavailable"]
    assert "“boom” could not be run" in found[1].detail
    assert "patient data" not in caplog.text  # only the exception type is logged


def test_every_shipped_rule_is_complete():
    for rule in all_rules():
        assert rule.title and rule.description and rule.subjects and (rule.check or rule.report)
        assert rule.citation.url.startswith("https://"), rule.code


def test_each_rule_module_names_the_source_it_cites():
    # A reader of plugin/rules/<name>.py sees the policy it enforces; the citation stays the one place
    import importlib
    for rule in all_rules():
        module = importlib.import_module(f"plugin.rules.{rule.code.replace('-', '_')}")
        assert f"Source: {rule.citation}\n{rule.citation.url}" in (module.__doc__ or ""), rule.code


PAYER_DEFENCE = ("exam-findings", "plan-of-care", "functional-goal", "objective-measures",
                 "necessity-unsupported", "intent-suggests-97140")


def test_relaxation_only_silences_the_payer_defence_cards_as_data():
    from plugin import rule
    for code in PAYER_DEFENCE:
        assert "not-medically-necessary" in rule(code).superseded_by, code


def test_relaxation_only_with_nothing_documented_gets_one_card(policy):
    from tests.builders import Visit
    visit = Visit()
    visit.procedure("97124", minutes=20, note="Effleurage for relaxation and stress relief; sleep improved.",
                    reasonCode=[{"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "Z73.3"}]}])
    visit.claim_line("97124")
    found = {f.code for f in evaluate(visit.record(), policy).findings}
    assert "not-medically-necessary" in found and not found & set(PAYER_DEFENCE)

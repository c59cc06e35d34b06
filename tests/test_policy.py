"""Policy data: payer profiles matched by name, alias or identifier; clinic overrides; value sets."""
import pytest

from plugin import load_policy
from plugin.policy import PayerFacts

ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"


@pytest.mark.parametrize("name,profile", [
    ("Blue Cross NC", "bcbsnc"), ("blue cross and blue shield of north carolina", "bcbsnc"),
    ("BCBSNC", "bcbsnc"), ("NC State Health Plan", "nc-shp"), ("State  Health Plan", "nc-shp"),
    ("MedCost", "medcost"), ("MedCost Benefit Services", "medcost"), ("Medicare", "medicare"),
    ("Acme Health", "default"),
])
def test_profiles_match_names_and_aliases_case_insensitively(policy, name, profile):
    assert policy.recognise(PayerFacts(organization_names=(name,))).id == profile


def test_profile_matches_identifier(tmp_path):
    extra = tmp_path / "clinic.toml"
    extra.write_text('[profiles.acme]\nname = "Acme Health"\nunits_method = "per-code"\n'
                     'identifiers = ["ACME-123"]\n[profiles.medicare]\naudit_visits_over = 5\n')
    policy = load_policy(extra)
    acme = policy.recognise(PayerFacts(identifiers=("acme-123",), organization_names=("someone else",)))
    assert acme.id == "acme" and acme.units_method == "per-code"
    assert acme.audit_units_over == policy.default_profile.audit_units_over  # inherits defaults
    medicare = policy.profiles["medicare"]
    assert medicare.audit_visits_over == 5 and medicare.gp_required  # override keeps the rest


def test_unknown_profile_setting_is_refused(tmp_path):
    extra = tmp_path / "bad.toml"
    extra.write_text('[profiles.x]\nunit_method = "cms"\n')
    with pytest.raises(ValueError, match="unit_method"):
        load_policy(extra)


def test_icd10_prefixes_match_with_or_without_the_dot(policy):
    tenderness = policy.valueset("qualifying-tenderness")
    assert tenderness.contains(ICD10, "M79.18") and tenderness.contains(ICD10, "m7918")
    assert not tenderness.contains(ICD10, "M80.0")
    assert not tenderness.contains("http://snomed.info/sct", "M79.1")


def test_lexicon_matches_whole_words_only(policy):
    techniques = policy.lexicon("techniques")
    assert techniques.hits("Effleurage then PETRISSAGE, effleurage") == ["effleurage", "petrissage"]
    assert techniques.hits("decompression") == []


def test_unknown_units_method_is_refused_when_loaded(tmp_path):
    extra = tmp_path / "bad.toml"
    extra.write_text('[profiles.x]\nunits_method = "midpoint"\n')
    with pytest.raises(ValueError, match="units_method"):
        load_policy(extra)


# -- payer recognition in the order of 97124-rules.md §12 -------------------------------------------
SOPT = "https://nahdo.org/sopt"


@pytest.mark.parametrize("facts, profile", [
    (PayerFacts(coverage_types=((SOPT, "112"),)), "medicare-advantage"),          # Medicare PPO (Part C)
    (PayerFacts(coverage_types=(("urn:oid:2.16.840.1.113883.3.221.5", "11"),)), "medicare-advantage"),
    (PayerFacts(coverage_types=((SOPT, "121"),)), "medicare"),                    # Medicare FFS
    (PayerFacts(coverage_types=((SOPT, "1"),)), "medicare"),
    (PayerFacts(coverage_types=((SOPT, "2"),)), "default"),                       # Medicaid: no profile
    (PayerFacts(organization_names=("Humana Medicare Advantage PPO",)), "medicare-advantage"),
    (PayerFacts(plan_names=("AARP Medicare Advantage Choice",)), "medicare-advantage"),
    (PayerFacts(displays=("AARP MEDICARE ADVANTAGE",)), "medicare-advantage"),
    (PayerFacts(displays=("Blue Cross NC",)), "bcbsnc"),
    (PayerFacts(organization_names=("Carolina Mutual Health",)), "default"),
])
def test_payer_recognised_from_each_kind_of_fact(policy, facts, profile):
    assert policy.recognise(facts).id == profile


def test_recognition_follows_the_order_identifier_type_name_plan_display(tmp_path):
    extra = tmp_path / "clinic.toml"
    extra.write_text('[profiles.acme]\nname = "Acme Health"\nidentifiers = ["ACME-1"]\n')
    policy = load_policy(extra)
    everything = PayerFacts(identifiers=("ACME-1",), coverage_types=((SOPT, "112"),),
                            organization_names=("BCBSNC",), plan_names=("Medicare",), displays=("MedCost",))
    assert policy.recognise(everything).id == "acme"
    without_id = PayerFacts(**{**everything.__dict__, "identifiers": ()})
    assert policy.recognise(without_id).id == "medicare-advantage"
    by_name = PayerFacts(**{**without_id.__dict__, "coverage_types": ()})
    assert policy.recognise(by_name).id == "bcbsnc"
    by_plan = PayerFacts(**{**by_name.__dict__, "organization_names": ("Unknown Org",)})
    assert policy.recognise(by_plan).id == "medicare"
    by_display = PayerFacts(**{**by_plan.__dict__, "plan_names": ()})
    assert policy.recognise(by_display).id == "medcost"


def test_medicare_advantage_follows_medicare_unless_a_clinic_says_otherwise(tmp_path):
    shipped = load_policy()
    ma, medicare = shipped.profiles["medicare-advantage"], shipped.profiles["medicare"]
    assert ma.gp_required and ma.units_method == medicare.units_method == "cms"
    assert ma.aliases != medicare.aliases and ma.coverage_types != medicare.coverage_types
    extra = tmp_path / "clinic.toml"
    extra.write_text('[profiles.medicare-advantage]\ngp_required = false\n')
    assert not load_policy(extra).profiles["medicare-advantage"].gp_required


def test_based_on_an_unknown_profile_is_refused(tmp_path):
    extra = tmp_path / "clinic.toml"
    extra.write_text('[profiles.acme]\nbased_on = "nowhere"\n')
    with pytest.raises(ValueError, match="nowhere"):
        load_policy(extra)


def test_claim_coverage_type_and_display_reach_the_profile(policy):
    from plugin import payer_profile
    from tests.builders import Visit
    visit = Visit()
    visit.procedure("97124", minutes=15)
    visit.claim_line("97124")
    cov = visit.payer("Piedmont Senior Health")
    cov["type"] = {"coding": [{"system": SOPT, "code": "111"}]}
    assert payer_profile(visit.record(), policy).id == "medicare-advantage"
    cov.pop("type")
    cov["payor"] = [{"display": "UnitedHealthcare Medicare Advantage"}]
    assert payer_profile(visit.record(), policy).id == "medicare-advantage"


def test_medicare_profile_carries_its_coverage_rules(policy):
    medicare = policy.profiles["medicare"]
    assert medicare.medicare_coverage and medicare.paid_performers == "medicare-performers"
    assert (medicare.certification_days, medicare.recertification_days, medicare.progress_report_days) == (30, 90, 10)
    for pid in ("default", "bcbsnc", "nc-shp", "medcost"):
        profile = policy.profiles[pid]
        assert not profile.medicare_coverage and profile.paid_performers == "qualified-performers"
        assert (profile.certification_days, profile.recertification_days, profile.progress_report_days) == (0, 0, 0)


def test_paid_performers_lists_differ_only_where_medicare_differs(policy):
    nucc = "http://nucc.org/provider-taxonomy"
    medicare, everyone = policy.valueset("medicare-performers"), policy.valueset("qualified-performers")
    for code in ("225100000X", "225200000X", "225X00000X", "224Z00000X", "207Q00000X"):
        assert medicare.contains(nucc, code) and everyone.contains(nucc, code)
    for code in ("225700000X", "111N00000X"):
        assert everyone.contains(nucc, code) and not medicare.contains(nucc, code)
    assert medicare.contains(nucc, "363LF0000X") and not everyone.contains(nucc, "363LF0000X")
    assert not policy.valueset("discipline-ot").contains(nucc, "225800000X")  # recreation therapist


@pytest.mark.parametrize("text,error", [
    ('[profiles.x]\npaid_performers = "nobody"\n', "nobody"),
    ('[profiles.x]\nprogress_report_days = -1\n', "progress_report_days"),
])
def test_bad_coverage_settings_are_refused(tmp_path, text, error):
    extra = tmp_path / "bad.toml"
    extra.write_text(text)
    with pytest.raises(ValueError, match=error):
        load_policy(extra)


def test_medicare_advantage_follows_medicare_coverage_rules(policy):
    advantage, medicare = policy.profiles["medicare-advantage"], policy.profiles["medicare"]
    assert advantage.medicare_coverage and advantage.paid_performers == medicare.paid_performers
    assert (advantage.certification_days, advantage.recertification_days, advantage.progress_report_days) == \
        (medicare.certification_days, medicare.recertification_days, medicare.progress_report_days)


@pytest.mark.parametrize("setting,field", [
    ('audit_units_over = "2"', "profiles.acme.audit_units_over"),   # a number written as text
    ("gp_required = 1", "profiles.acme.gp_required"),
    ('aliases = "Acme Health"', "profiles.acme.aliases"),            # one name, not a list of them
    ("audit_visits_over = 2.5", "profiles.acme.audit_visits_over"),
    ("initial_phase_days = -3", "profiles.acme.initial_phase_days"),
])
def test_profile_type_errors_are_refused_at_load_naming_file_and_field(tmp_path, setting, field):
    extra = tmp_path / "clinic.toml"
    extra.write_text(f"[profiles.acme]\n{setting}\n")
    with pytest.raises(ValueError) as refused:
        load_policy(extra)
    assert str(extra) in str(refused.value) and field in str(refused.value)


def test_a_table_outside_profiles_is_refused(tmp_path):
    extra = tmp_path / "clinic.toml"
    extra.write_text('[profile.acme]\nunits_method = "per-code"\n')   # `profile`, not `profiles`
    with pytest.raises(ValueError, match="profile: Extra inputs"):
        load_policy(extra)


def test_well_typed_settings_still_load(tmp_path):
    extra = tmp_path / "clinic.toml"
    extra.write_text('[profiles.acme]\naudit_units_over = 2\naliases = ["Acme Health"]\n')
    acme = load_policy(extra).profiles["acme"]
    assert acme.audit_units_over == 2 and acme.aliases == ("Acme Health",)

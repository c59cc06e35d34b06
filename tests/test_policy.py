"""Policy data: payer profiles matched by name, alias or identifier; clinic overrides; value sets."""
import pytest

from plugin.policy import load_policy

ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"


@pytest.mark.parametrize("name,profile", [
    ("Blue Cross NC", "bcbsnc"), ("blue cross and blue shield of north carolina", "bcbsnc"),
    ("BCBSNC", "bcbsnc"), ("NC State Health Plan", "nc-shp"), ("State  Health Plan", "nc-shp"),
    ("MedCost", "medcost"), ("MedCost Benefit Services", "medcost"), ("Medicare", "medicare"),
    ("Acme Health", "default"),
])
def test_profiles_match_names_and_aliases_case_insensitively(policy, name, profile):
    assert policy.profile_for([name], []).id == profile


def test_profile_matches_identifier(tmp_path):
    extra = tmp_path / "clinic.toml"
    extra.write_text('[profiles.acme]\nname = "Acme Health"\nunits_method = "per-code"\n'
                     'identifiers = ["ACME-123"]\n[profiles.medicare]\naudit_visits_over = 5\n')
    policy = load_policy(extra)
    acme = policy.profile_for(["someone else"], ["acme-123"])
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

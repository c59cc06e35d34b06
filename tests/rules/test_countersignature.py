import pytest

from plugin import load_policy
from tests.builders import concept, ref
from tests.rules.billing_support import run
from tests.rules.signing_support import massage_visit, note, physician, provenance


def test_fires_when_only_the_therapist_signed(policy):
    visit, proc, therapist = massage_visit()
    provenance(visit, proc, (therapist, "author"))
    [finding] = run(visit, policy)["countersignature"]
    assert finding.evidence == (ref(proc),)


def test_fires_when_the_verifier_is_not_a_physician(policy):
    visit, proc, therapist = massage_visit()
    provenance(visit, proc, (therapist, "author"), (physician(visit, "225100000X"), "verifier"))
    assert "countersignature" in run(visit, policy)


def test_fires_when_the_physician_only_entered_the_note(policy):
    visit, proc, therapist = massage_visit()
    provenance(visit, proc, (therapist, "author"), (physician(visit), "enterer"))
    assert "countersignature" in run(visit, policy)


def test_silent_with_physician_verifier_attester_or_second_signature(policy):
    for kind in ("verifier", "attester", None):
        visit, proc, therapist = massage_visit()
        provenance(visit, proc, (therapist, "author"), (physician(visit, "208VP0014X"), kind))
        assert "countersignature" not in run(visit, policy)


def test_silent_when_a_physician_authenticates_the_note(policy):
    visit, _, _ = massage_visit()
    note(visit, authenticator=physician(visit))
    assert "countersignature" not in run(visit, policy)


def test_silent_when_a_physician_did_the_massage(policy):
    visit, _, _ = massage_visit("207Q00000X")
    assert "countersignature" not in run(visit, policy)


# -- who may countersign: MD/DO or DC; NP/PA when a profile adds them (97124-rules.md §5) ----------
def test_a_chiropractor_countersigns_like_a_physician(policy):
    for code in ("111N00000X", "111NI0013X"):
        visit, proc, therapist = massage_visit()
        provenance(visit, proc, (therapist, "author"), (physician(visit, code), "verifier"))
        assert "countersignature" not in run(visit, policy)


def test_a_chiropractor_named_by_degree_countersigns(policy):
    visit, proc, therapist = massage_visit()
    dc = visit.add({"resourceType": "Practitioner", "qualification": [{"code": concept(
        "DC", "http://terminology.hl7.org/CodeSystem/v2-0360")}]})
    provenance(visit, proc, (therapist, "author"), (dc, "verifier"))
    assert "countersignature" not in run(visit, policy)


def test_a_chiropractor_who_gave_the_massage_needs_no_countersignature(policy):
    visit, proc, _ = massage_visit("111N00000X")
    assert "countersignature" not in run(visit, policy)


def test_a_nurse_practitioner_countersigns_only_where_the_profile_adds_them(policy, tmp_path):
    visit, proc, therapist = massage_visit()
    provenance(visit, proc, (therapist, "author"), (physician(visit, "363LF0000X"), "verifier"))
    assert "countersignature" in run(visit, policy)
    clinic = tmp_path / "clinic.toml"
    clinic.write_text('[profiles.default]\ncountersigners = ["supervising-doctors", '
                      '"supervising-nurse-practitioners-physician-assistants"]\n')
    assert "countersignature" not in run(visit, load_policy(clinic))


def test_an_unknown_countersigner_value_set_is_refused(tmp_path):
    clinic = tmp_path / "clinic.toml"
    clinic.write_text('[profiles.acme]\ncountersigners = ["nurses"]\n')
    with pytest.raises(ValueError, match="nurses"):
        load_policy(clinic)


def test_an_authenticated_note_document_is_a_countersignature(policy):
    visit, proc, therapist = massage_visit()
    provenance(visit, proc, (therapist, "author"))
    note(visit, authenticator=physician(visit, "111N00000X"))
    assert "countersignature" not in run(visit, policy)

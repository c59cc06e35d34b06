from tests.builders import ref
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

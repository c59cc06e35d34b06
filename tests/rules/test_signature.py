from tests.builders import ref
from tests.rules.billing_support import run
from tests.rules.signing_support import massage_visit, note, physician, provenance


def test_fires_when_nothing_signs_the_note(policy):
    visit, proc, _ = massage_visit()
    [finding] = run(visit, policy)["signature"]
    assert finding.evidence == (ref(proc),)


def test_fires_when_someone_else_authored_it(policy):
    visit, proc, _ = massage_visit()
    provenance(visit, proc, (physician(visit), "author"))
    assert "signature" in run(visit, policy)


def test_fires_when_performer_is_only_the_enterer(policy):
    visit, proc, therapist = massage_visit()
    provenance(visit, proc, (therapist, "enterer"))
    assert "signature" in run(visit, policy)


def test_silent_with_author_provenance_on_procedure_typed_or_untyped(policy):
    for kind in ("author", None):
        visit, proc, therapist = massage_visit()
        provenance(visit, proc, (therapist, kind))
        assert "signature" not in run(visit, policy)


def test_silent_when_the_visit_note_is_signed_by_performer(policy):
    visit, _, therapist = massage_visit()
    doc = note(visit)
    provenance(visit, doc, (therapist, "author"))
    assert "signature" not in run(visit, policy)
    visit, _, therapist = massage_visit()
    note(visit, authenticator=therapist)
    assert "signature" not in run(visit, policy)


def test_silent_without_a_97124_procedure(policy):
    visit, proc, _ = massage_visit()
    proc["status"] = "in-progress"
    assert "signature" not in run(visit, policy)

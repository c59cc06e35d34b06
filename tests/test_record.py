"""Record: each resource validated on its own; a bad one is skipped and reported, never fatal."""
from cds_hooks.record_from_hook import record_from_hook
from plugin import Record
from tests.builders import Visit


def test_bad_resource_is_skipped_and_reported_without_its_values():
    visit = Visit()
    good = visit.procedure("97124", minutes=15)
    bad = visit.procedure("97110", minutes=10)
    bad["performedPeriod"]["start"] = "2026-13-45T99:00:00SECRET"
    visit.claim_line("97124")
    record = visit.record()
    assert [Record.ref_of(p) for p in record.all("Procedure")] == [f"Procedure/{good['id']}"]
    assert len(record.skipped) == 1
    skipped = record.skipped[0]
    assert skipped.where == f"Procedure/{bad['id']}"
    assert "performedPeriod.start" in skipped.reason
    assert "SECRET" not in skipped.reason  # the reason names fields, never values


def test_unknown_types_and_non_objects_are_ignored_not_reported():
    record = record_from_hook("claim-prepare", {"patientId": "p"}, {
        "x": {"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Basic", "id": "b"}},
                                                  {"resource": "nonsense"}, "junk", {"nothing": 1}]},
        "y": "not a resource", "z": None, "w": [1, 2]})
    assert record.skipped == []
    assert record.all("Basic") == []


def test_first_copy_of_an_id_wins_and_context_comes_first():
    visit = Visit()
    visit.claim_line("97124", units=3)
    prefetch = visit.prefetch()
    other = {**visit.claim, "item": []}
    prefetch["procedures"]["entry"].append({"resource": other})
    record = record_from_hook("claim-prepare", visit.context("claim-prepare"), prefetch)
    assert len(record.all("Claim")) == 1
    assert record.claim.item[0].quantity.value == 3


def test_invalid_context_claim_is_reported_and_leaves_no_claim():
    visit = Visit()
    visit.claim_line("97124")
    context = visit.context("claim-prepare")
    context["claim"]["item"][0]["sequence"] = "first"
    record = record_from_hook("claim-prepare", context, {})
    assert record.claim is None
    assert record.skipped[0].where == "Claim/claim-1"


def test_resolve_accepts_relative_absolute_and_model_references():
    visit = Visit()
    proc = visit.procedure("97124", minutes=15)
    record = visit.record()
    assert record.resolve(f"Procedure/{proc['id']}") is not None
    assert record.resolve(f"http://ehr.example/fhir/Procedure/{proc['id']}") is not None
    assert record.resolve("Procedure/none") is None
    assert record.resolve(None) is None
    model = record.all("Procedure")[0]
    assert record.raw(model) is not None and record.raw(model)["id"] == proc["id"]


def test_memo_computes_once_per_request():
    record = Visit().record()
    calls = []
    assert record.memo("k", lambda: calls.append(1) or 7) == 7
    assert record.memo("k", lambda: calls.append(1) or 8) == 7
    assert calls == [1]


def test_memo_of_a_model_never_answers_for_another_object_at_the_same_id():
    record = Visit().record()
    calls = []
    first = object()
    assert record.memo_of("label", first, lambda: calls.append(1) or "first") == "first"
    assert record.memo_of("label", first, lambda: calls.append(1) or "again") == "first"
    # The memo keeps `first` alive, so no later object can reuse its id while the request lasts;
    # were one to (a key built by hand), the identity check computes afresh.
    other = object()
    record._memo[("label", id(other))] = (first, "first")
    assert record.memo_of("label", other, lambda: calls.append(1) or "other") == "other"
    assert calls == [1, 1]

"""The workbench's EHR-side pieces without a browser: drafts, suggestion actions and their diff,
card Markdown sanitising, prefetch template rendering, reading a fixture as a patient chart."""
from __future__ import annotations

import json
from pathlib import Path

from workbench.chart import from_fixture
from workbench.drafts import apply_actions, compose_order, diff, draft_claim
from workbench.ehr import render_template, search_warnings
from workbench.rendering import markdown, safe_url

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


S06 = FIXTURES / "s06-cms-mixed-remainder-underbilled"  # a 97124 + 97110 visit billed to Medicare


def s06():
    return from_fixture(S06), json.loads((S06 / "request.json").read_text())["context"]


def test_a_fixture_reads_as_the_patient_its_request_describes():
    chart, context = s06()
    assert (chart.id, chart.encounter_id, chart.user_id) == \
        (context["patientId"], context["encounterId"], context["userId"])
    assert chart.claims == [context["claim"]]
    assert chart.coverage["resourceType"] == "Coverage"
    assert sorted(p["code"]["coding"][0]["code"] for p in chart.visit_procedures()) == ["97110", "97124"]


def test_a_claim_drafted_from_the_visit_bills_one_unit_per_procedure():
    chart, context = s06()
    recorded = context["claim"]  # the EHR's own draft of the same visit
    claim = draft_claim(chart.id, chart.encounter, chart.visit_procedures(), chart.coverage, chart.conditions)
    lines = {i["productOrService"]["coding"][0]["code"]: i for i in claim["item"]}
    assert sorted(lines) == ["97110", "97124"]
    assert all(i["quantity"] == {"value": 1} and i["servicedDate"] == recorded["item"][0]["servicedDate"]
               for i in lines.values())
    assert all(i["encounter"] == [{"reference": f"Encounter/{context['encounterId']}"}] for i in lines.values())
    codes = lambda claim: [c["code"] for d in claim["diagnosis"]  # noqa: E731
                           for c in d["diagnosisCodeableConcept"]["coding"]]
    assert codes(claim) == codes(recorded)                 # the Procedures' reasons, once each
    assert lines["97124"]["diagnosisSequence"] == [1]
    assert claim["insurance"][0]["coverage"] == recorded["insurance"][0]["coverage"]
    assert claim["insurer"] == recorded["insurer"]
    assert claim["provider"] == recorded["provider"]


def test_an_order_cites_the_chosen_condition_and_frequency():
    condition = {"resourceType": "Condition", "id": "c1",
                 "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "M62.830"}]}}
    order = compose_order("p1", "e1", condition, per_week=3, weeks=6, body_site=" Neck ", note="")
    assert order["status"] == "draft" and order["code"]["coding"][0]["code"] == "97124"
    assert order["reasonReference"] == [{"reference": "Condition/c1"}]
    assert order["reasonCode"] == [condition["code"]]
    assert order["occurrenceTiming"]["repeat"]["frequency"] == 3
    assert order["occurrenceTiming"]["repeat"]["boundsDuration"]["value"] == 6
    assert order["bodySite"] == [{"text": "Neck"}] and "note" not in order
    assert "reasonReference" not in compose_order("p1", None, None, 2, 4)


def test_suggestion_actions_update_create_and_delete_drafts():
    claim = {"resourceType": "Claim", "id": "c", "item": [{"quantity": {"value": 1}}]}
    fixed = {"resourceType": "Claim", "id": "c", "item": [{"quantity": {"value": 2}}]}
    extra = {"resourceType": "ServiceRequest", "id": "o2"}
    after, notes = apply_actions([claim], [{"type": "update", "resource": fixed},
                                           {"type": "create", "resource": extra}])
    assert after == [fixed, extra] and notes == []
    assert claim["item"][0]["quantity"]["value"] == 1          # the drafts before stay as they were
    after, notes = apply_actions(after, [{"type": "delete", "resourceId": ["ServiceRequest/o2"]},
                                         {"type": "update", "resource": {"resourceType": "Claim", "id": "other"}},
                                         {"type": "launch"}])
    assert after == [fixed]
    assert notes == ["update of Claim/other: not one of the drafts, not applied",
                     "action 'launch': not understood, not applied"]


def test_the_diff_shows_what_changed_resource_by_resource():
    before = [{"resourceType": "Claim", "id": "c", "quantity": 1}]
    after = [{"resourceType": "Claim", "id": "c", "quantity": 2}]
    text = diff(before, after)
    assert "--- Claim/c (before)" in text and '-  "quantity": 1,' in text and '+  "quantity": 2,' in text
    assert diff(before, before) == ""


def test_card_markdown_is_rendered_and_sanitised():
    html = str(markdown("**Bill** 2 units <script>alert(1)</script> [cms](https://www.cms.gov) "
                        "[x](javascript:alert(1)) <img src=x onerror=alert(1)>"))
    assert "<strong>Bill</strong>" in html
    assert '<a href="https://www.cms.gov" rel="noopener noreferrer">cms</a>' in html
    assert "<script" not in html and "<img" not in html and 'href="javascript' not in html
    assert safe_url("javascript:alert(1)") is None and safe_url("https://x.org") == "https://x.org"


def test_prefetch_templates_are_filled_from_the_context():
    context = {"patientId": "p 1", "encounterId": "e1"}
    assert render_template("Procedure?patient={{context.patientId}}", context) == "Procedure?patient=p%201"
    assert render_template("Encounter/{{context.encounterId}}", {"patientId": "p"}) is None


def test_search_warnings_are_what_the_server_says_it_ignored():
    bundle = {"resourceType": "Bundle", "entry": [
        {"resource": {"resourceType": "Goal", "id": "g"}},
        {"resource": {"resourceType": "OperationOutcome", "issue": [
            {"severity": "warning", "diagnostics": "Unknown search parameter 'patient' for Goal; parameter ignored"}]},
         "search": {"mode": "outcome"}}]}
    assert search_warnings(bundle) == ["Unknown search parameter 'patient' for Goal; parameter ignored"]


# ---- the page itself, through Flask's test client --------------------------------------------

import threading  # noqa: E402

import pytest  # noqa: E402
from flask import Flask, jsonify  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from workbench.app import create_app  # noqa: E402

HOSTILE_CARD = {
    "uuid": "c-1", "summary": "<img src=x onerror=alert(1)> units", "indicator": "warning",
    "detail": "<script>alert(1)</script>**Bill 2 units** [more](javascript:alert(1))",
    "source": {"label": "Evil", "url": "javascript:alert(2)", "topic": {"code": "units"}},
    "suggestions": [{"uuid": "s-1", "label": "<b>Fix</b>", "actions": []}],
}


@pytest.fixture
def hostile_service():
    """A CDS service on loopback whose card tries to put markup and script into the EHR's page."""
    app = Flask("hostile")

    @app.get("/cds-services")
    def discovery():
        return jsonify({"services": [{"id": "claims", "hook": "claim-prepare",
                                      "prefetch": {"patient": "Patient/{{context.patientId}}"}}]})

    @app.post("/cds-services/claims")
    def claims():
        return jsonify({"cards": [HOSTILE_CARD]})

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def page_after(client, *posts) -> str:
    for path, form in posts:
        assert client.post(path, data=form).status_code == 302  # always back to the page, never a 500
    return client.get("/").get_data(as_text=True)


def test_a_card_cannot_script_the_page(hostile_service, tmp_path):
    client = create_app(hostile_service, None, FIXTURES, tmp_path / "keys").test_client()
    page = page_after(client, ("/patients/fixture", {"fixture": "s06-cms-mixed-remainder-underbilled"}),
                      ("/claim/prepare", {"claim": "Claim/s06-claim"}))
    assert 'data-code="units"' in page
    assert "<strong>Bill 2 units</strong>" in page
    assert "<script>alert" not in page and "<img src=x" not in page and "<b>Fix</b>" not in page
    assert 'href="javascript' not in page  # neither the detail's link nor the source link is made


def test_mistakes_and_unreachable_servers_are_messages_on_the_page(tmp_path):
    down = "http://127.0.0.1:9"  # discard port: nothing listens
    client = create_app(down, f"{down}/fhir", FIXTURES, tmp_path / "keys").test_client()
    assert "pick a patient first" in page_after(client, ("/claim/prepare", {"claim": "draft"}))
    assert "pick a patient first" in page_after(client, ("/encounter", {"encounter": "e"}))
    assert "no fixture &#39;nope&#39;" in page_after(client, ("/patients/fixture", {"fixture": "nope"}))
    assert f"cannot reach {down}/fhir/Patient?name=Alma%20Pruitt" in \
        page_after(client, ("/patients/search", {"q": "Alma Pruitt"}))
    page = page_after(client, ("/patients/fixture", {"fixture": "s06-cms-mixed-remainder-underbilled"}),
                      ("/claim/prepare", {"claim": "Claim/s06-claim"}))
    assert f"cannot reach {down}/cds-services" in page
    assert "pick a patient from the search results" in page_after(client, ("/patients/open", {}))
    assert "visits a week must be a whole number of at least 1, not &#39;two&#39;" in \
        page_after(client, ("/order/sign", {"per_week": "two", "weeks": "4"}))
    assert "weeks must be a whole number of at least 1, not &#39;0&#39;" in \
        page_after(client, ("/order/sign", {"per_week": "2", "weeks": "0"}))

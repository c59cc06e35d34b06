"""Feedback: real hook calls issue cards, feedback is posted, the report counts per rule code."""
import json
import re
import uuid

import pytest
from sqlalchemy import func, select

from cds_hooks import database
from cds_hooks.app import create_app
from cds_hooks.config import Config, Issuer
from cds_hooks.database import feedback_items, issued_cards
from cds_hooks.feedback_report import report, tallies
from tests.builders import Visit
from tests.ehr_signer import BASE, ISS, Signer, bearer

SERVICE = "massage-97124-claim-check"
FEEDBACK = f"/cds-services/{SERVICE}/feedback"
WHEN = "2026-03-02T18:00:00Z"


def issue_cards(client) -> dict[str, dict]:
    """Run the claim hook on a visit billed one unit short; its cards by rule code."""
    visit = Visit()
    visit.procedure("97124", minutes=22)
    visit.procedure("97110", minutes=18)
    visit.claim_line("97124", units=1)
    visit.claim_line("97110", units=1)
    response = client.post(f"/cds-services/{SERVICE}", json=visit.request("claim-prepare"))
    assert response.status_code == 200, response.get_json()
    client.application.extensions["cpt97124"].issued_cards.flush()  # written off the request path
    return {c["source"]["topic"]["code"]: c for c in response.get_json()["cards"]}


def accepted(card: dict, when: str = WHEN) -> dict:
    return {"card": card["uuid"], "outcome": "accepted", "outcomeTimestamp": when,
            "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}]}


def overridden(card: dict, when: str = WHEN) -> dict:
    reason = card["overrideReasons"][0]
    return {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": when,
            "overrideReason": {"reason": {"system": reason["system"], "code": reason["code"]},
                               "userComment": "documented elsewhere"}}


def feedback_rows(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(feedback_items)).scalar_one()


def report_line(text: str, code: str) -> list[str]:
    line = next(line for line in text.splitlines() if line.split()[0] == code)
    return line.split()


def test_round_trip_from_hook_call_to_report(client, engine):
    cards = issue_cards(client)
    assert {"units", "signature"} <= cards.keys()
    response = client.post(FEEDBACK, json={"feedback": [accepted(cards["units"]), overridden(cards["signature"])]})
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"stored": 2}

    counts = tallies(engine)
    assert (counts["units"].issued, counts["units"].accepted, counts["units"].overridden) == (1, 1, 0)
    assert (counts["signature"].issued, counts["signature"].accepted, counts["signature"].overridden) == (1, 0, 1)
    silent = next(code for code in cards if code not in ("units", "signature"))
    assert (counts[silent].issued, counts[silent].accepted, counts[silent].overridden) == (1, 0, 0)

    text = report(engine)
    assert report_line(text, "units") == ["units", "1", "1", "0", "100.0%", "0.0%"]
    assert report_line(text, "signature") == ["signature", "1", "0", "1", "0.0%", "100.0%"]


def test_rates_are_over_cards_issued(client, engine):
    first, second = issue_cards(client), issue_cards(client)
    assert client.post(FEEDBACK, json={"feedback": [accepted(first["units"])]}).status_code == 200
    assert tallies(engine)["units"].issued == 2
    assert report_line(report(engine), "units")[1:] == ["2", "1", "0", "50.0%", "0.0%"]
    assert second["units"]["uuid"] != first["units"]["uuid"]


def test_issued_cards_keep_service_and_hook_instance(client, engine):
    cards = issue_cards(client)
    with engine.connect() as connection:
        row = connection.execute(select(issued_cards).where(
            issued_cards.c.card_uuid == cards["units"]["uuid"])).one()
    assert row.service_id == SERVICE and row.rule_code == "units"
    uuid.UUID(row.hook_instance)


def test_latest_outcome_of_a_card_wins(client, engine):
    card = issue_cards(client)["units"]
    client.post(FEEDBACK, json={"feedback": [accepted(card, "2026-03-02T18:05:00Z")]})
    client.post(FEEDBACK, json={"feedback": [overridden(card, "2026-03-02T18:01:00Z")]})  # sent late
    tally = tallies(engine)["units"]
    assert (tally.accepted, tally.overridden) == (1, 0)
    assert feedback_rows(engine) == 2  # both posts are kept


def test_feedback_for_a_card_we_never_issued_is_stored_as_unknown(client, engine):
    stranger = {"card": str(uuid.uuid4()), "outcome": "overridden", "outcomeTimestamp": WHEN}
    assert client.post(FEEDBACK, json={"feedback": [stranger]}).status_code == 200
    assert feedback_rows(engine) == 1
    assert report_line(report(engine), "unknown") == ["unknown", "0", "0", "1", "-", "-"]


def test_empty_store_reports_plainly(engine):
    assert report(engine) == "No cards issued and no feedback received yet."


def test_unknown_service_is_404(client):
    response = client.post("/cds-services/no-such-service/feedback",
                           json={"feedback": [{"card": "x", "outcome": "overridden", "outcomeTimestamp": WHEN}]})
    assert response.status_code == 404


GOOD = {"card": "c-1", "outcome": "overridden", "outcomeTimestamp": WHEN}
BAD_ITEMS = [
    ({"outcome": "overridden", "outcomeTimestamp": WHEN}, "feedback[1].card"),
    ({**GOOD, "card": ""}, "feedback[1].card"),
    ({**GOOD, "outcome": "ignored"}, "feedback[1].outcome"),
    ({**GOOD, "outcome": "accepted"}, "feedback[1].acceptedSuggestions"),
    ({**GOOD, "outcome": "accepted", "acceptedSuggestions": [{"uuid": "s"}]},
     "feedback[1].acceptedSuggestions[0].id"),
    ({**GOOD, "acceptedSuggestions": [{"id": "s"}]}, "feedback[1].acceptedSuggestions"),
    ({**GOOD, "overrideReason": {"reason": {"code": "x"}}}, "feedback[1].overrideReason.reason.system"),
    ({**GOOD, "overrideReason": {}}, "feedback[1].overrideReason"),
    ({**GOOD, "overrideReason": "no"}, "feedback[1].overrideReason"),
    ({**GOOD, "outcome": "accepted", "acceptedSuggestions": [{"id": "s"}],
      "overrideReason": {"userComment": "x"}}, "feedback[1].overrideReason"),
    ({**GOOD, "outcomeTimestamp": "yesterday"}, "feedback[1].outcomeTimestamp"),
    ({**GOOD, "outcomeTimestamp": "2026-03-02"}, "feedback[1].outcomeTimestamp"),
    ({k: v for k, v in GOOD.items() if k != "outcomeTimestamp"}, "feedback[1].outcomeTimestamp"),
    ("not an object", "feedback[1]"),
]
# Each field given a JSON value of the wrong type: refused, naming the field.
WRONG_TYPES = [
    ({**GOOD, "card": 42}, "feedback[1].card", "must be a string"),
    ({**GOOD, "card": ["c-1"]}, "feedback[1].card", "must be a string"),
    ({**GOOD, "outcome": True}, "feedback[1].outcome", "must be one of accepted, overridden"),
    ({**GOOD, "outcome": "accepted", "acceptedSuggestions": {"id": "s"}},
     "feedback[1].acceptedSuggestions", "must be an array"),
    ({**GOOD, "outcome": "accepted", "acceptedSuggestions": ["s"]},
     "feedback[1].acceptedSuggestions[0]", "must be an object"),
    ({**GOOD, "outcome": "accepted", "acceptedSuggestions": [{"id": 7}]},
     "feedback[1].acceptedSuggestions[0].id", "must be a string"),
    ({**GOOD, "overrideReason": {"reason": "too busy"}}, "feedback[1].overrideReason.reason", "must be an object"),
    ({**GOOD, "overrideReason": {"reason": {"system": "http://x.org", "code": 1.5}}},
     "feedback[1].overrideReason.reason.code", "must be a string"),
    ({**GOOD, "overrideReason": {"userComment": {"text": "x"}}},
     "feedback[1].overrideReason.userComment", "must be a string"),
    ({**GOOD, "outcomeTimestamp": 1772474400}, "feedback[1].outcomeTimestamp", "date-time"),
    (None, "feedback[1]", "must be an object"),
]


@pytest.mark.parametrize("bad, field", BAD_ITEMS)
def test_one_bad_item_refuses_the_whole_request_and_stores_nothing(client, bad, field, engine):
    before = feedback_rows(engine)
    response = client.post(FEEDBACK, json={"feedback": [GOOD, bad]})
    assert response.status_code == 400
    outcome = response.get_json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["expression"] == [field]
    assert feedback_rows(engine) == before


@pytest.mark.parametrize("bad, field, says", WRONG_TYPES)
def test_a_value_of_the_wrong_type_is_a_400_naming_its_field(client, bad, field, says, engine):
    response = client.post(FEEDBACK, json={"feedback": [GOOD, bad]})
    assert response.status_code == 400
    issue = response.get_json()["issue"][0]
    assert issue["expression"] == [field] and issue["code"] == "invalid"
    assert issue["diagnostics"].startswith(field + " ") and says in issue["diagnostics"]
    assert feedback_rows(engine) == 0


def test_too_many_items_are_refused_whole(client, engine):
    response = client.post(FEEDBACK, json={"feedback": [GOOD] * 501})
    assert response.status_code == 400
    assert response.get_json()["issue"][0]["diagnostics"] == "feedback has more than 500 items"
    assert feedback_rows(engine) == 0


@pytest.mark.parametrize("body, field", [({}, "feedback"), ({"feedback": []}, "feedback"),
                                         ({"feedback": {"card": "x"}}, "feedback"), ([GOOD], "body")])
def test_body_shape_errors_name_the_field(client, body, field, engine):
    response = client.post(FEEDBACK, json=body)
    assert response.status_code == 400
    assert response.get_json()["issue"][0]["expression"] == [field]
    assert feedback_rows(engine) == 0


def test_broken_json_is_400(client):
    response = client.post(FEEDBACK, data="{not json", content_type="application/json")
    assert response.status_code == 400


def test_timestamps_with_offsets_are_stored_in_utc(client, engine):
    item = {**GOOD, "outcomeTimestamp": "2026-03-02T13:00:00-05:00"}
    assert client.post(FEEDBACK, json={"feedback": [item]}).status_code == 200
    with engine.connect() as connection:
        stored = connection.execute(select(feedback_items.c.outcome_at)).scalar_one()
    assert (stored.hour, stored.minute) == (18, 0)


def test_sqlite_store_runs_in_wal_mode(engine):
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_default_sqlite_path_directory_is_created(tmp_path):
    url = f"sqlite:///{tmp_path}/deeper/var/feedback.db"
    database.connect(url)
    assert (tmp_path / "deeper" / "var" / "feedback.db").exists()


def test_production_feedback_needs_a_token_for_the_feedback_url(tmp_path, policy):
    ehr = Signer.ec()
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(ehr.jwks()))
    config = Config(dev=False, database_url=f"sqlite:///{tmp_path}/s.db", public_base_url=BASE,
                    issuers=(Issuer(iss=ISS, jwks_file=str(jwks)),))
    client = create_app(config, policy).test_client()
    engine = client.application.extensions["cpt97124"].engine
    body = {"feedback": [GOOD]}
    assert client.post(FEEDBACK, json=body).status_code == 401
    wrong_aud = ehr.token(f"{BASE}/cds-services/{SERVICE}")
    assert client.post(FEEDBACK, json=body, headers=bearer(wrong_aud)).status_code == 401
    assert feedback_rows(engine) == 0
    response = client.post(FEEDBACK, json=body, headers=bearer(ehr.token(BASE + FEEDBACK)))
    assert response.status_code == 200
    assert feedback_rows(engine) == 1


def test_report_command_prints_the_table(client, config, monkeypatch, capsys):
    from cds_hooks.cli import main
    cards = issue_cards(client)
    client.post(FEEDBACK, json={"feedback": [accepted(cards["units"])]})
    monkeypatch.setenv("CPT97124_DATABASE_URL", config.database_url)
    assert main(["feedback", "report"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^units\s+1\s+1\s+0\s+100\.0%", out, re.M)

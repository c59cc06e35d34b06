"""`cpt97124 feedback report --html`: one self-contained page with per-rule counts, rates, the
override reasons and weekly trend charts, from what the service database holds."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from cds_hooks.cli import main
from cds_hooks.database import connect, feedback_items, issued_cards

MONDAY = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def card(n: int, code: str, week: int) -> dict:
    return {"card_uuid": f"card-{n}", "service_id": "massage-97124-claim-check", "hook_instance": f"h-{n}",
            "rule_code": code, "issued_at": MONDAY + timedelta(weeks=week)}


def feedback(n: int, outcome: str, week: int, reason: str | None = None, comment: str | None = None,
             minutes: int = 5) -> dict:
    at = MONDAY + timedelta(weeks=week, minutes=minutes)
    return {"card_uuid": f"card-{n}", "service_id": "massage-97124-claim-check", "outcome": outcome,
            "accepted_suggestions": '["s"]' if outcome == "accepted" else None,
            "override_system": "http://cpt97124.example.org/fhir/CodeSystem/override-reason" if reason else None,
            "override_code": reason, "user_comment": comment, "outcome_at": at, "received_at": at}


@pytest.fixture
def database(tmp_path, monkeypatch) -> str:
    url = f"sqlite:///{tmp_path}/feedback.db"
    monkeypatch.setenv("CPT97124_DATABASE_URL", url)
    cards = [card(1, "units", 0), card(2, "units", 0), card(3, "units", 1), card(4, "units", 1),
             card(5, "modifier-gp", 1), card(6, "modifier-gp", 2)]
    items = [feedback(1, "accepted", 0),
             feedback(2, "overridden", 0, "documentation-attached"),
             feedback(3, "overridden", 1, "payer-exception", "prior auth on file <b>ok</b>"),
             # a later change of mind counts, not the first answer
             feedback(4, "overridden", 1, "clinical-judgement"), feedback(4, "accepted", 1, minutes=30),
             feedback(6, "overridden", 2, "documentation-attached"),
             feedback(99, "overridden", 2, None, "card from another instance")]
    with connect(url).begin() as connection:
        connection.execute(insert(issued_cards), cards)
        connection.execute(insert(feedback_items), items)
    return url


def row(page: str, code: str) -> list[str]:
    match = re.search(rf'<tr data-code="{re.escape(code)}">(.*?)</tr>', page, re.S)
    assert match, f"no row for {code}"
    return [re.sub(r"<[^>]+>", " ", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", match.group(1), re.S)]


def test_the_page_counts_each_rule_with_rates_and_reasons(database, tmp_path, capsys):
    out = tmp_path / "report.html"
    assert main(["feedback", "report", "--html", str(out)]) == 0
    assert "units" in capsys.readouterr().out  # the terminal table stays
    page = out.read_text()
    units = row(page, "units")
    assert units[:6] == ["units", "4", "2", "2", "50.0%", "50.0%"]
    assert "Documentation supporting the service is attached: 1" in units[6]
    assert "Payer-specific exception or prior authorization applies: 1" in units[6]
    assert "Clinical judgement" not in units[6]            # card 4 was accepted in the end
    assert "prior auth on file &lt;b&gt;ok&lt;/b&gt;" in page  # comments are escaped, never markup
    assert row(page, "modifier-gp")[:6] == ["modifier-gp", "2", "0", "1", "0.0%", "50.0%"]
    # feedback on a card this database never issued: counted, under "unknown", with no rate
    assert row(page, "unknown")[:6] == ["unknown", "0", "0", "1", "–", "–"]


def test_the_page_draws_weekly_trends_inline_and_needs_no_network(database, tmp_path):
    out = tmp_path / "report.html"
    assert main(["feedback", "report", "--html", str(out)]) == 0
    page = out.read_text()
    assert page.count("<svg") == 2
    for week in ("2026-03-02", "2026-03-09", "2026-03-16"):
        assert week in page                                  # one bar per week, labelled
    assert not re.search(r'(src|href)="https?://|url\(https?://|<script|<link', page)


def test_an_empty_database_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("CPT97124_DATABASE_URL", f"sqlite:///{tmp_path}/empty.db")
    out = tmp_path / "report.html"
    assert main(["feedback", "report", "--html", str(out)]) == 0
    assert "No cards issued and no feedback received yet." in out.read_text()


@pytest.mark.parametrize("url", ["not a database url", "postgresql://cds@127.0.0.1:1/cds"])
def test_a_database_that_cannot_be_read_is_one_error_line(url, monkeypatch, capsys):
    monkeypatch.setenv("CPT97124_DATABASE_URL", url)
    assert main(["feedback", "report"]) == 1
    err = capsys.readouterr().err
    assert "error: the database in CPT97124_DATABASE_URL could not be read" in err
    assert "Traceback" not in err

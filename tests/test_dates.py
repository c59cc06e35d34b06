"""FHIR dates as intervals of days and instants compared as instants."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from plugin.dates import Days, days, instant, period_days
from plugin.facts import clock_minutes
from tests.builders import Visit


@pytest.mark.parametrize("value,first,last", [
    ("2026", date(2026, 1, 1), date(2026, 12, 31)),
    ("2026-02", date(2026, 2, 1), date(2026, 2, 28)),
    ("2026-02-03", date(2026, 2, 3), date(2026, 2, 3)),
    (date(2026, 2, 3), date(2026, 2, 3), date(2026, 2, 3)),
    # the day in the offset it was recorded in: 20:30 at -05:00 and 01:30 the next day in UTC
    (datetime(2026, 2, 3, 20, 30, tzinfo=timezone(timedelta(hours=-5))), date(2026, 2, 3), date(2026, 2, 3)),
    (datetime(2026, 2, 4, 1, 30, tzinfo=UTC), date(2026, 2, 4), date(2026, 2, 4)),
])
def test_days(value, first, last):
    assert days(value) == Days(first, last)


@pytest.mark.parametrize("value", [None, "", "soon", "2026-13", 5])
def test_not_a_date(value):
    assert days(value) is None


def test_period_with_partial_start_and_open_end():
    class Period:
        start, end = "2026-06", None
    span = period_days(Period())
    assert date(2026, 6, 1) in span and date(2030, 1, 1) in span and date(2026, 5, 31) not in span


def test_instants_in_different_offsets_compare_as_instants():
    a = instant(datetime(2026, 2, 3, 20, 30, tzinfo=timezone(timedelta(hours=-5))))
    b = instant(datetime(2026, 2, 4, 1, 30, tzinfo=UTC))
    assert a == b


def test_clock_minutes_across_offsets_and_seconds():
    visit = Visit()
    proc = visit.procedure("97124", start="2026-03-02T09:00:00-05:00", end="2026-03-02T14:22:59Z")
    record = visit.record()
    [model] = [p for p in record.all("Procedure") if p.id == proc["id"]]
    assert clock_minutes(model) == 22  # 22 min 59 s: a started minute is not a minute

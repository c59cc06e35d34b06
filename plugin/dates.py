"""FHIR dates and times as the rules compare them (FHIR R4 §2.24 primitive types).

- A `dateTime`/`instant` with a time of day carries its own UTC offset. Its calendar day is the
  day in the offset it was recorded in; two of them are compared as instants, never as the
  wall-clock digits they happen to be written with.
- A `date` is a local calendar day; a partial date (`2026`, `2026-06`) is the whole year or month,
  so every comparison treats a value as the interval of days it covers (`Days`).
- fhir.resources gives full dates as `date`, times as aware `datetime`, partial dates as `str`.
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

_PARTIAL = re.compile(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?$")


@dataclass(frozen=True)
class Days:
    """The calendar days a FHIR date, partial date or dateTime covers, both ends included."""

    first: date
    last: date

    def __contains__(self, day: date) -> bool:
        return self.first <= day <= self.last


def days(value: Any) -> Days | None:
    """The days `value` covers; None for anything that is not a date (missing, malformed)."""
    if isinstance(value, datetime):
        return Days(value.date(), value.date())  # the day in the offset it was recorded in
    if isinstance(value, date):
        return Days(value, value)
    if isinstance(value, str):
        match = _PARTIAL.match(value.strip())
        if match is None:
            return None
        year_text, month_text, day_text = match.groups()
        year = int(year_text)
        month, day = (int(month_text) if month_text else None), (int(day_text) if day_text else None)
        try:
            if month is not None and day is not None:
                return days(date(year, month, day))
            if month is not None:
                return Days(date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1]))
            return Days(date(year, 1, 1), date(year, 12, 31))
        except ValueError:
            return None
    return None


def first_day(value: Any) -> date | None:
    if isinstance(value, date):  # a full date or a dateTime: its own day, without building Days
        return value.date() if isinstance(value, datetime) else value
    found = days(value)
    return found.first if found else None


def last_day(value: Any) -> date | None:
    found = days(value)
    return found.last if found else None


def period_days(period: Any) -> Days | None:
    """A Period's days: from its start's first day to its end's last; a missing end is open."""
    if period is None:
        return None
    start, end = days(period.start), days(period.end)
    if start is None and end is None:
        return None
    return Days(start.first if start else date.min, end.last if end else date.max)


def instant(value: Any) -> datetime | None:
    """An aware datetime to order and subtract times by; a date (or partial date) counts from the
    start of its first day in UTC, a time without a zone (invalid R4) as UTC."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    first = first_day(value)
    return datetime(first.year, first.month, first.day, tzinfo=UTC) if first else None


def has_time(value: Any) -> bool:
    """Whether a FHIR dateTime carries a time of day (a clock time, not just a date)."""
    return isinstance(value, datetime)

"""The 8-minute rule: units for timed therapy codes from documented minutes.

Two methods, chosen by the payer profile:
- CMS (total time): all timed minutes of the visit decide the total units; the units are
  then shared out, whole 15-minute blocks first, the rest to the largest leftover minutes.
- per-code (AMA midpoint): each code on its own.
Source: CMS Claims Processing Manual ch. 5 §20.2.
"""
from __future__ import annotations

UNIT_MINUTES = 15
MIDPOINT = 8  # a unit needs at least 8 minutes beyond the whole units


def units_for(minutes: int) -> int:
    """Units that `minutes` of timed service earn: 8-22 -> 1, 23-37 -> 2, ..."""
    if minutes <= 0:
        return 0
    whole, rest = divmod(minutes, UNIT_MINUTES)
    return whole + (1 if rest >= MIDPOINT else 0)


def per_code_units(minutes_by_code: dict[str, int]) -> dict[str, int]:
    return {code: units_for(m) for code, m in minutes_by_code.items()}


def cms_units(minutes_by_code: dict[str, int]) -> dict[str, int]:
    """Share the visit's total units among its timed codes.

    Each code first gets its whole 15-minute units; any units left go one at a time to the
    codes with the most leftover minutes (ties: more total minutes, then code order).
    """
    total = units_for(sum(max(m, 0) for m in minutes_by_code.values()))
    allocation = {code: max(m, 0) // UNIT_MINUTES for code, m in minutes_by_code.items()}
    left = total - sum(allocation.values())
    by_leftover = sorted(
        minutes_by_code,
        key=lambda c: (-(max(minutes_by_code[c], 0) % UNIT_MINUTES), -minutes_by_code[c], c),
    )
    for code in by_leftover[:max(left, 0)]:
        allocation[code] += 1
    return allocation


def units_by_method(method: str, minutes_by_code: dict[str, int]) -> dict[str, int]:
    if method == "per-code":
        return per_code_units(minutes_by_code)
    if method == "cms":
        return cms_units(minutes_by_code)
    raise ValueError(f"unknown units method {method!r}")


def explain(method: str, minutes_by_code: dict[str, int]) -> str:
    """The arithmetic behind `units_by_method`, as Markdown lines for a card's detail."""
    result = units_by_method(method, minutes_by_code)
    lines = [f"- {code}: {minutes_by_code[code]} min → {result[code]} unit(s)" for code in sorted(result)]
    if method == "cms":
        total = sum(minutes_by_code.values())
        lines.insert(0, f"CMS total-time method: {total} timed minutes → {units_for(total)} unit(s) in all, "
                        "whole 15-minute units first, the rest to the largest leftover minutes.")
    else:
        lines.insert(0, "Per-code method: each code's own minutes (8 or more past whole units earn one).")
    return "\n".join(lines)

"""The 8-minute rule: units for timed therapy codes from documented minutes.

Two methods, chosen by the payer profile:
- CMS (total time): all timed minutes of the visit decide the total units; the units are
  then shared out, whole 15-minute blocks first, the rest to the largest leftover minutes.
  When leftovers tie, the clinician picks which tied code takes the unit, so CMS permits a
  *set* of allocations (`permitted_allocations`); a bill matching any of them is right.
- per-code (AMA midpoint): each code on its own; exactly one allocation.
Source: CMS Claims Processing Manual ch. 5 §20.2.
"""
from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from itertools import combinations

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


def cms_allocations(minutes_by_code: dict[str, int]) -> list[dict[str, int]]:
    """Every allocation (code -> units) CMS permits: whole 15-minute units first, then the units
    left over one each to the codes with the most leftover minutes; where codes tie at the
    cut-off, any of them may take it, so each choice is one allocation.
    """
    clean = {code: max(m, 0) for code, m in minutes_by_code.items()}
    whole = {code: m // UNIT_MINUTES for code, m in clean.items()}
    leftover = {code: m % UNIT_MINUTES for code, m in clean.items() if m % UNIT_MINUTES}
    # Never more than the codes with leftover minutes: each of them holds at most 14.
    left = min(units_for(sum(clean.values())) - sum(whole.values()), len(leftover))
    if left <= 0:
        return [whole]
    ranked = sorted(leftover, key=lambda c: (-leftover[c], c))
    cutoff = leftover[ranked[left - 1]]   # leftover minutes of the last code to take a unit
    sure = [c for c in ranked if leftover[c] > cutoff]
    tied = [c for c in ranked if leftover[c] == cutoff]
    return [{**whole, **{c: whole[c] + 1 for c in (*sure, *chosen)}}
            for chosen in combinations(tied, left - len(sure))]


def permitted_allocations(method: str, minutes_by_code: dict[str, int]) -> list[dict[str, int]]:
    """The allocations of units to codes the payer's method permits (per-code: exactly one).

    Raises ValueError for a method other than "cms" or "per-code"."""
    if method == "cms":
        return cms_allocations(minutes_by_code)
    if method == "per-code":
        return [per_code_units(minutes_by_code)]
    raise ValueError(f"unknown units method {method!r}")


def nearest_allocation(allocations: list[dict[str, int]], billed: Mapping[str, int | Decimal],
                       code: str) -> dict[str, int]:
    """The permitted allocation closest to the bill (units as billed, fractions included): fewest
    units changed over all codes, then the smallest change to `code`'s units, then the most units for `code`."""
    def change(c: str, allocation: dict[str, int]) -> Decimal:
        return abs(allocation.get(c, 0) - Decimal(billed.get(c, 0)))

    def distance(allocation: dict[str, int]) -> tuple[Decimal, Decimal, int]:
        moved = sum((change(c, allocation) for c in set(allocation) | set(billed)), Decimal(0))
        return moved, change(code, allocation), -allocation.get(code, 0)
    return min(allocations, key=distance)


def explain(method: str, minutes_by_code: dict[str, int], code: str) -> str:
    """The arithmetic behind `permitted_allocations`, in one or two sentences for a card."""
    values = sorted({a.get(code, 0) for a in permitted_allocations(method, minutes_by_code)})
    allowed = " or ".join(str(v) for v in values)
    timed = ", ".join(f"{c} {m} min" for c, m in sorted(minutes_by_code.items()))
    if method == "cms":
        total = sum(max(m, 0) for m in minutes_by_code.values())
        tie = " (a tie: the clinician picks which tied code takes the unit)" if len(values) > 1 else ""
        return (f"CMS total time: {timed} = {total} min, {units_for(total)} unit(s) in all, whole 15-minute "
                f"units first, the rest to the largest leftover minutes{tie}. {code} may take {allowed}.")
    return f"Per-code count ({timed}): {code}'s own minutes earn {allowed} unit(s)."

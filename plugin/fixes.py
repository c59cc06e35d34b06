"""Apply a finding's fix to the resource it changes: a whole, updated copy, validated as FHIR R4.

The original JSON is never touched; every field the fix does not name is kept as it came.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

from plugin.findings import ClaimLineFix, Fix, OrderFix
from plugin.record import VALIDATED
from plugin.vocabulary import CPT, HCPCS

CPT_DISPLAY = {"97124": "Therapeutic massage, each 15 minutes",
               "97140": "Manual therapy techniques, each 15 minutes",
               "97110": "Therapeutic exercise, each 15 minutes",
               "97112": "Neuromuscular re-education, each 15 minutes",
               "97530": "Therapeutic activities, each 15 minutes"}
PATIENT_PAY_NOTE = ("Patient pay: the documented purpose is not medically necessary; "
                    "do not bill the payer for this service.")


def _cpt_coding(code: str) -> dict[str, Any]:
    display = CPT_DISPLAY.get(code)
    return {"system": CPT, "code": code, **({"display": display} if display else {})}


def _modifier_system(code: str) -> str:
    # 59 is a CPT modifier; GP and the X{EPSU} family are HCPCS level II modifiers.
    return CPT if code.isdigit() else HCPCS


def _modifier_concepts(existing: list[dict[str, Any]], wanted: tuple[str, ...]) -> list[dict[str, Any]]:
    by_code: dict[str, dict[str, Any]] = {}
    for concept in existing:
        for coding in concept.get("coding") or []:
            if coding.get("code"):
                by_code.setdefault(coding["code"], concept)
    return [by_code.get(code) or {"coding": [{"system": _modifier_system(code), "code": code}]}
            for code in wanted]


def _money(value: Any) -> Decimal | None:
    """A Money/Quantity value as a Decimal (JSON numbers arrive as Decimal or int)."""
    try:
        amount = value["value"]
    except (KeyError, TypeError):
        return None
    if isinstance(amount, bool) or not isinstance(amount, (int, float, Decimal)):
        return None
    return Decimal(str(amount)) if isinstance(amount, float) else Decimal(amount)


def _amount(value: Decimal, like: Any) -> Decimal:
    """`value` written with the precision of the amount it replaces (38.00 × 2 is 76.00)."""
    old = _money(like or {})
    exponent = old.as_tuple().exponent if old is not None else 0
    if isinstance(exponent, int) and exponent < 0:   # an int unless the amount is NaN or infinite
        return value.quantize(Decimal(1).scaleb(exponent))
    return value


def _net(item: dict[str, Any]) -> Decimal | None:
    """What a line adds to the total: its net, else unitPrice × quantity × factor; None if unpriced."""
    net = _money(item.get("net") or {})
    if net is not None:
        return net
    unit, qty = _money(item.get("unitPrice") or {}), _money(item.get("quantity") or {})
    factor = _money({"value": item.get("factor", 1)})
    return unit * qty * factor if unit is not None and qty is not None and factor is not None else None


def _reprice(item: dict[str, Any]) -> None:
    """Keep item.net = unitPrice × quantity × factor when the line carries prices."""
    unit = _money(item.get("unitPrice") or {})
    qty = _money(item.get("quantity") or {})
    if unit is None or qty is None or "net" not in item:
        return
    factor = _money({"value": item.get("factor", 1)})
    if factor is None:
        return
    item["net"] = {**item["net"], "value": _amount(unit * qty * factor, item["net"])}


def _retotal(claim: dict[str, Any], changed_from: Decimal | None, changed_to: Decimal | None) -> None:
    """Keep Claim.total consistent with the lines: the sum of the lines' values when every line
    has one, else the old total moved by the changed line's difference."""
    if not isinstance(claim.get("total"), dict):
        return
    nets = [_net(i) for i in claim.get("item") or []]
    priced = [n for n in nets if n is not None]
    old_total = _money(claim["total"])
    if len(priced) == len(nets):
        total = sum(priced, Decimal(0))
    elif old_total is not None and changed_from is not None:
        total = old_total - changed_from + (changed_to or Decimal(0))
    else:
        return
    claim["total"] = {**claim["total"], "value": _amount(total, claim["total"])}


def _apply_claim(claim: dict[str, Any], fix: ClaimLineFix) -> dict[str, Any]:
    items = claim.get("item") or []
    index = next((i for i, item in enumerate(items) if item.get("sequence") == fix.sequence), None)
    if index is None:
        raise ValueError(f"claim has no item with sequence {fix.sequence}")
    net_before = _net(items[index])
    if fix.remove:
        del items[index]
        net_after = None
    else:
        item = items[index]
        if fix.quantity is not None:
            item["quantity"] = {**(item.get("quantity") or {}), "value": fix.quantity}
            _reprice(item)
        if fix.modifiers is not None:
            item["modifier"] = _modifier_concepts(item.get("modifier") or [], fix.modifiers)
            if not item["modifier"]:
                del item["modifier"]
        if fix.product_code is not None:
            item["productOrService"] = {"coding": [_cpt_coding(fix.product_code)]}
        net_after = _net(item)
    if net_before != net_after:
        _retotal(claim, net_before, net_after)
    return claim


def _apply_order(order: dict[str, Any], fix: OrderFix) -> dict[str, Any]:
    if fix.drop_reason_references:
        order["reasonReference"] = [r for r in order.get("reasonReference") or []
                                    if r.get("reference") not in fix.drop_reason_references]
        if not order["reasonReference"]:
            del order["reasonReference"]
    if fix.add_reason_references:
        present = {r.get("reference") for r in order.get("reasonReference") or []}
        order["reasonReference"] = (order.get("reasonReference") or []) + [
            {"reference": ref} for ref in fix.add_reason_references if ref not in present]
    if fix.product_code is not None:
        order["code"] = {"coding": [_cpt_coding(fix.product_code)]}
    if fix.patient_pay:
        order.pop("insurance", None)
        order["note"] = (order.get("note") or []) + [{"text": PATIENT_PAY_NOTE}]
    return order


def _copy(value: Any) -> Any:
    """A deep copy of parsed JSON: new dicts and lists, the immutable leaves (str, int, Decimal,
    bool, None) shared, as copy.deepcopy leaves them, without deepcopy's memo and dispatch."""
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def apply(fix: Fix, resource: dict[str, Any]) -> dict[str, Any]:
    """The updated copy of `resource`, validated with its fhir.resources R4B model.

    Raises ValueError if the fix does not fit the resource or the result is not valid FHIR.
    """
    updated = _copy(resource)
    if isinstance(fix, ClaimLineFix):
        updated = _apply_claim(updated, fix)
    elif isinstance(fix, OrderFix):
        updated = _apply_order(updated, fix)
    else:
        raise TypeError(f"unknown fix {type(fix).__name__}")
    # Through the element memory: the updated resource shares all but the changed elements with
    # the one validated on arrival, so only those are checked (same errors as a plain validation).
    VALIDATED.validate(get_fhir_model_class(updated["resourceType"]), updated)
    return updated

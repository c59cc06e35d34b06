"""Fixes produce the whole updated resource, keep every other field, and stay valid FHIR."""
import pytest

from plugin import ClaimLineFix, OrderFix
from plugin.fixes import apply
from tests.builders import Visit


def claim():
    visit = Visit()
    visit.claim_line("97110", units=2)
    line = visit.claim_line("97124", units=1, modifiers=("GP",))
    line["unitPrice"] = {"value": 30.0, "currency": "USD"}
    line["net"] = {"value": 30.0, "currency": "USD"}
    visit.claim["item"][0]["net"] = {"value": 80.0, "currency": "USD"}
    visit.claim["total"] = {"value": 110.0, "currency": "USD"}
    visit.claim["extension"] = [{"url": "http://example.org/x", "valueString": "kept"}]
    return visit.claim


def test_quantity_fix_reprices_the_line_and_the_total_and_keeps_the_rest():
    original = claim()
    updated = apply(ClaimLineFix(label="x", sequence=2, quantity=2), original)
    assert updated["item"][1]["quantity"]["value"] == 2
    assert updated["item"][1]["net"]["value"] == 60.0
    assert updated["total"]["value"] == 140.0
    assert updated["extension"] == original["extension"]
    assert original["item"][1]["quantity"]["value"] == 1  # the input is untouched


def test_modifier_fix_sets_the_exact_order_and_reuses_existing_codings():
    updated = apply(ClaimLineFix(label="x", sequence=2, modifiers=("59", "GP")), claim())
    mods = updated["item"][1]["modifier"]
    assert [m["coding"][0]["code"] for m in mods] == ["59", "GP"]
    assert mods[1]["coding"][0]["system"] == "http://www.ama-assn.org/go/cpt"  # GP as it came
    assert mods[0]["coding"][0]["system"] == "http://www.ama-assn.org/go/cpt"


def test_remove_fix_drops_only_that_line():
    updated = apply(ClaimLineFix(label="x", sequence=2, remove=True), claim())
    assert [i["sequence"] for i in updated["item"]] == [1]
    assert updated["total"]["value"] == 80.0


def test_product_code_fix_recodes_the_line():
    updated = apply(ClaimLineFix(label="x", sequence=2, product_code="97140"), claim())
    assert updated["item"][1]["productOrService"]["coding"][0]["code"] == "97140"


def test_fix_for_a_missing_line_is_refused():
    with pytest.raises(ValueError):
        apply(ClaimLineFix(label="x", sequence=9, quantity=1), claim())


def test_order_fixes():
    visit = Visit()
    order = visit.order("97124", insurance=[{"reference": "Coverage/c1"}],
                        reasonReference=[{"reference": "Condition/a"}])
    updated = apply(OrderFix(label="x", order_id=order["id"],
                             add_reason_references=("Condition/a", "Condition/b")), order)
    assert [r["reference"] for r in updated["reasonReference"]] == ["Condition/a", "Condition/b"]
    paid = apply(OrderFix(label="x", order_id=order["id"], patient_pay=True), order)
    assert "insurance" not in paid and "Patient pay" in paid["note"][-1]["text"]
    recoded = apply(OrderFix(label="x", order_id=order["id"], product_code="97140"), order)
    assert recoded["code"]["coding"][0]["code"] == "97140"


def decimal_claim():
    """claim() as an EHR writes it: money with cents, read back as decimals."""
    from decimal import Decimal
    out = claim()
    for money in [out["total"], out["item"][0]["net"], out["item"][1]["unitPrice"], out["item"][1]["net"]]:
        money["value"] = Decimal(str(money["value"])).quantize(Decimal("0.01"))
    return out


def test_decimals_keep_their_digits_and_recomputed_ones_their_precision():
    updated = apply(ClaimLineFix(label="x", sequence=2, quantity=2), decimal_claim())
    assert str(updated["item"][0]["net"]["value"]) == "80.00"       # untouched
    assert str(updated["item"][1]["unitPrice"]["value"]) == "30.00"  # untouched
    assert str(updated["item"][1]["net"]["value"]) == "60.00"       # recomputed, in cents
    assert str(updated["total"]["value"]) == "140.00"


def test_removing_a_line_keeps_the_total_consistent():
    updated = apply(ClaimLineFix(label="x", sequence=2, remove=True), decimal_claim())
    assert str(updated["total"]["value"]) == "80.00"
    alone = apply(ClaimLineFix(label="x", sequence=1, remove=True), updated)
    assert alone["item"] == [] and str(alone["total"]["value"]) == "0.00"


def test_total_moves_by_the_line_when_other_lines_carry_no_net():
    original = decimal_claim()
    del original["item"][0]["net"]
    updated = apply(ClaimLineFix(label="x", sequence=2, remove=True), original)
    assert str(updated["total"]["value"]) == "80.00"  # 110.00 − the removed line's 30.00


def test_a_modifier_change_leaves_the_total_as_sent():
    original = decimal_claim()
    original["total"]["value"] = original["total"]["value"] + 1  # inconsistent, but not ours to touch
    updated = apply(ClaimLineFix(label="x", sequence=2, modifiers=("59", "GP")), original)
    assert updated["total"] == original["total"]


def test_a_line_priced_without_net_still_moves_the_total():
    original = decimal_claim()
    del original["item"][1]["net"]  # 30.00 × 1, by its unit price
    updated = apply(ClaimLineFix(label="x", sequence=2, quantity=3), original)
    assert str(updated["total"]["value"]) == "170.00"  # 80.00 + 30.00 × 3

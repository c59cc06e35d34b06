"""The verdict is invariant under every equivalent representation of the record: each fixture,
re-expressed by each transform (tests/field/transforms.py), gets the same card codes,
indicators and suggestion effects as the fixture itself. Paging with `next` links is proved
against the real FHIR server in tests/integration/test_field_paging.py."""
from __future__ import annotations

import pytest

from cds_hooks import fhir_json
from tests.field.conftest import SCENARIOS, fixture_request
from tests.field.transforms import TRANSFORMS, effects

# Transforms that change every fixture (decimals: one fixture has no number; empty searches: 11
# fixtures have none), so a transform that silently stopped applying shows up here.
ALWAYS_APPLY = {"absolute-references", "urn-uuid-references", "versioned-references", "contained-coverage",
                "instants-in-utc", "instants-at-plus-9", "instants-with-fractions", "outcome-warnings"}
CASES = [(folder, name) for folder in SCENARIOS for name in TRANSFORMS]


@pytest.mark.parametrize("folder,transform", CASES, ids=[f"{f.name}-{t}" for f, t in CASES])
def test_same_cards_in_every_equivalent_form(folder, transform, send):
    original = fixture_request(folder)
    changed = TRANSFORMS[transform](original)
    # decimals compare equal whatever their precision: compare what goes on the wire
    if transform in ALWAYS_APPLY:
        assert fhir_json.dumps(changed) != fhir_json.dumps(original)
    want = effects(*send(original), original)
    assert want[0] == 200
    assert effects(*send(changed), changed) == want


def test_every_fixture_meets_every_transform():
    assert len(SCENARIOS) >= 32 and len(TRANSFORMS) >= 10
    assert len(CASES) == len(SCENARIOS) * len(TRANSFORMS)

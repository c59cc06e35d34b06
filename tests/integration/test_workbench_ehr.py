"""The workbench's EHR client against the real FHIR server: a search's pages are all read, as an
EHR resolving a prefetch template must."""
from __future__ import annotations

import pytest

from tests.builders import Visit
from tests.integration.support import load
from workbench.ehr import Ehr, resources

pytestmark = pytest.mark.integration


def test_every_page_of_a_search_is_read(fhir_base):
    visit = Visit(patient="pat-wb-pages", encounter="enc-wb-pages")
    for _ in range(25):
        visit.procedure("97110", minutes=1)
    load(fhir_base, visit.resources)
    ehr = Ehr("http://127.0.0.1:9", fhir_base)
    found = resources(ehr.fhir_get(f"Procedure?patient={visit.patient}&_count=10"))
    assert len({r["id"] for r in found}) == 25
    assert [x.label for x in ehr.exchanges] == ["FHIR Procedure"] + ["FHIR Procedure (next page)"] * 2

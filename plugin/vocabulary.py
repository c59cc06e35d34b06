"""The words the rules share, defined once: code systems (FHIR `Coding.system` URLs), the 97124
code, and the sources rules cite (title and URL once; each rule names its section).

Value sets and lexicons are data, not names here: plugin/policy/valuesets/<name>.json and
plugin/policy/lexicons/<name>.toml, looked up by file name (`policy.valueset("timed-codes")`).
"""
from __future__ import annotations

from dataclasses import dataclass

from plugin.findings import Citation

# -- code systems -----------------------------------------------------------------------------
CPT = "http://www.ama-assn.org/go/cpt"                      # AMA CPT (procedure codes, modifier 59)
HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"  # HCPCS level II (GP, CQ, X{EPSU})
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"                 # ICD-10-CM diagnoses
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"                                  # document types, observation codes
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"

MASSAGE = "97124"   # CPT: therapeutic massage, each 15 minutes

# The FHIR resource types the rules read (plugin/record.py) and suggestions update. Anything else
# is ignored, not reported: an EHR may legitimately send more than we ask for.
KNOWN_TYPES = frozenset({
    "Patient", "Encounter", "Procedure", "Observation", "Condition", "Goal", "CarePlan",
    "ServiceRequest", "Claim", "Coverage", "Organization", "Practitioner", "PractitionerRole",
    "Provenance", "DocumentReference", "Binary",
})


# -- sources ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class CitedDocument:
    """A document rules cite; `at(section)` is the citation of one of its sections."""

    title: str
    url: str

    def at(self, section: str) -> Citation:
        return Citation(self.title, section, self.url)


CMS_BENEFIT_POLICY_CH15 = CitedDocument(
    "CMS Benefit Policy Manual, ch. 15",
    "https://www.cms.gov/Regulations-and-Guidance/Guidance/Manuals/Downloads/bp102c15.pdf")
CMS_CLAIMS_PROCESSING_CH5 = CitedDocument(
    "CMS Claims Processing Manual, ch. 5",
    "https://www.cms.gov/Regulations-and-Guidance/Guidance/Manuals/Downloads/clm104c05.pdf")
CMS_NCCI = CitedDocument(
    "CMS National Correct Coding Initiative",
    "https://www.cms.gov/medicare-medicaid-coordination/national-correct-coding-initiative-ncci/"
    "ncci-medicare/medicare-ncci-procedure-procedure-ptp-edits")
ECFR_42_410_60 = CitedDocument(
    "42 CFR 410.60, 410.21(b); CMS Benefit Policy Manual ch. 15",
    "https://www.ecfr.gov/current/title-42/chapter-IV/subchapter-B/part-410/subpart-B/section-410.60")
CODING_AHEAD_97124 = CitedDocument(
    "Coding Ahead, CPT Code 97124 — Therapeutic Massage Therapy",
    "https://www.codingahead.com/cpt-code-97124-description-guidelines-reimbursement-modifiers-examples/")
HNS_97124 = CitedDocument(
    "HNS Policies: Documentation/Billing",
    "https://healthnetworksolutions.net/index.php/massage-therapy-97124")
CDS_HOOKS_2 = CitedDocument("HL7 CDS Hooks 2.0", "https://cds-hooks.hl7.org/2.0/")

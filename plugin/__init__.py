"""The 97124 domain: FHIR R4 records checked against the therapeutic-massage billing and
documentation rules. No HTTP and no CDS Hooks here: adapters (cds_hooks, audit, workbench,
bench, fixtures) build a record, evaluate it, and turn findings into whatever they speak.

Use it in three steps::

    record = Record.from_resources(Subject.CLAIM, patient_id, encounter_id, claim=claim_json,
                                   resources=other_resources)
    result = evaluate(record, load_policy())          # an Evaluation
    for finding in result.findings: ...               # Finding: code, severity, text, fixes

The package, one concern a module:

- record.py         `Record`: the validated, indexed resources of one evaluation, its `Subject`
                    (a draft Claim or draft orders), patient and visit; what was skipped and why.
- fhir_validation.py fhir.resources' R4B validation, compiled into one pydantic-core validator for
                    the types read (same models, same errors, several times faster).
- completeness.py   how complete a search result is (`Status`: complete, partial, ...).
- references.py     every form of FHIR reference read as one key (relative, absolute, urn, #id).
- dates.py          dates of service: FHIR date, dateTime, Period and instant as days.
- vocabulary.py     code systems, the 97124 code, the resource types the rules read and the
                    sources rules cite, defined once.
- policy/           payer profiles (payers.toml, validated by pydantic models), value sets and
                    lexicons: the policy as data; `load_policy` reads it.
- facts.py          what the record says: the visit, its day, units billed, the payer, ...
- documents.py      note documents of the visit and their text.
- units.py          the 8-minute rule (CMS) and per-code units.
- rules/            the catalog: one module per card code, each exporting RULE (see _rule.py).
- engine.py         `evaluate`: the rules for the subject over one record -> `Evaluation`.
- findings.py       `Finding`, `Fix` (`ClaimLineFix`, `OrderFix`), `Citation`, `Evaluation`.
- fixes.py          `apply_fix`: the updated resource a fix proposes, built from the raw JSON.
- wording.py        plain-language labels for resources in card text.
- prefilter.py      which resources no rule reads (held back unvalidated).

docs/architecture.md follows one card from request to feedback and says how to add a rule,
a payer, a value set and a hook.
"""
from plugin.completeness import Status, classify, next_link
from plugin.documents import visit_notes
from plugin.engine import evaluate
from plugin.facts import (
    has_subject,
    is_massage,
    item_quantity,
    massage_orders,
    massage_procedures,
    payer_profile,
    ref_key,
    visit_billed_units,
    visit_day,
    visit_massage_lines,
    visit_units,
)
from plugin.findings import (
    OVERRIDE_REASONS,
    Citation,
    ClaimLineFix,
    Evaluation,
    Finding,
    Fix,
    OrderFix,
    Severity,
)
from plugin.fixes import apply as apply_fix
from plugin.policy import PayerProfile, Policy, load_policy
from plugin.prefilter import OBSERVATION_FIELDS, HeldBack, HeldEntries, Prefilter, goal_measures
from plugin.record import Record, Subject, iter_resources
from plugin.references import id_part, logical_key, normal_base, reference_string
from plugin.rules import all_rules, rule
from plugin.rules._rule import Rule
from plugin.units import nearest_allocation
from plugin.vocabulary import CPT, KNOWN_TYPES, LOINC, MASSAGE

__all__ = [
    # building a record
    "Record", "Subject", "KNOWN_TYPES", "iter_resources",
    # evaluating it
    "evaluate", "Evaluation", "has_subject", "load_policy", "Policy", "PayerProfile",
    # what comes out
    "Finding", "Severity", "Citation", "Fix", "ClaimLineFix", "OrderFix", "OVERRIDE_REASONS",
    "apply_fix",
    # the catalog (docs generation, tests)
    "Rule", "all_rules", "rule",
    # reading FHIR the way the rules do (prefetch completion, the audit's rows)
    "Status", "classify", "next_link", "logical_key", "normal_base", "reference_string", "ref_key", "id_part",
    "is_massage", "massage_orders", "massage_procedures", "visit_notes", "visit_day",
    "visit_massage_lines", "visit_units", "visit_billed_units", "item_quantity", "payer_profile",
    "nearest_allocation",
    # holding back what no rule reads before it is parsed (a reader of large requests)
    "Prefilter", "OBSERVATION_FIELDS", "HeldBack", "HeldEntries", "goal_measures",
    # vocabulary
    "CPT", "LOINC", "MASSAGE",
]

"""A validated, indexed view of the FHIR resources one hook request brought.

Every resource is validated on its own with the fhir.resources R4B model of its type.
One bad resource is skipped and reported; it never sinks the request.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

# The resource types the rules read. Anything else is ignored, not reported:
# an EHR may legitimately send more than we ask for.
KNOWN_TYPES = frozenset({
    "Patient", "Encounter", "Procedure", "Observation", "Condition", "Goal", "CarePlan",
    "ServiceRequest", "Claim", "Coverage", "Organization", "Practitioner", "PractitionerRole",
    "Provenance", "DocumentReference",
})
_MODELS = {name: get_fhir_model_class(name) for name in KNOWN_TYPES}


@dataclass(frozen=True)
class Skipped:
    """A resource that failed validation. `reason` names fields, never their values (no PHI)."""

    where: str
    reason: str


def _describe(error: ValidationError) -> str:
    parts = []
    for err in error.errors(include_input=False, include_url=False)[:3]:
        loc = ".".join(str(p) for p in err["loc"]) or "resource"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def iter_resources(value: Any) -> Iterator[dict]:
    """Resources inside a prefetch value: a single resource or a Bundle's entries."""
    if not isinstance(value, dict):
        return
    if value.get("resourceType") == "Bundle":
        for entry in value.get("entry") or []:
            if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
                yield entry["resource"]
    else:
        yield value


@dataclass
class Record:
    hook: str
    context: dict
    skipped: list[Skipped] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)   # data that could not be fetched
    failed_rules: list[str] = field(default_factory=list)  # rules that raised; filled by the engine
    _by_type: dict[str, list[Any]] = field(default_factory=dict)
    _by_ref: dict[str, Any] = field(default_factory=dict)
    _raw: dict[int, dict] = field(default_factory=dict)
    _memo: dict[str, Any] = field(default_factory=dict)
    claim: Any | None = None            # context.claim (claim-prepare), once validated
    draft_orders: list[Any] = field(default_factory=list)  # context.draftOrders (order-sign)

    @classmethod
    def build(cls, hook: str, context: dict, prefetch: dict | None = None,
              unavailable: Iterable[str] = ()) -> "Record":
        """Index the context's resources first, then the prefetch's (first copy of an id wins)."""
        record = cls(hook=hook, context=context)
        record.claim = record._add(context.get("claim"), "context.claim")
        for i, resource in enumerate(iter_resources(context.get("draftOrders"))):
            order = record._add(resource, f"context.draftOrders[{i}]")
            if order is not None and order.get_resource_type() == "ServiceRequest":
                record.draft_orders.append(order)
        record.add_prefetch(prefetch or {}, unavailable)
        return record

    def add_prefetch(self, prefetch: dict, unavailable: Iterable[str] = ()) -> None:
        """Index the resources gathered for the prefetch keys (after the context's own)."""
        for key, value in prefetch.items():
            for i, resource in enumerate(iter_resources(value)):
                self._add(resource, f"prefetch.{key}[{i}]")
        self.unavailable.extend(unavailable)
        self._memo.clear()

    def _add(self, raw: Any, where: str) -> Any | None:
        """Validate and index one resource; return its model, or None if skipped or ignored."""
        if not isinstance(raw, dict):
            return None
        rtype = raw.get("resourceType")
        model_cls = _MODELS.get(rtype) if isinstance(rtype, str) else None
        if model_cls is None:
            return None
        rid = raw.get("id")
        ref = f"{rtype}/{rid}" if isinstance(rid, str) and rid else None
        if ref and ref in self._by_ref:
            return self._by_ref[ref]
        try:
            model = model_cls.model_validate(raw)
        except ValidationError as error:
            self.skipped.append(Skipped(where=ref or where, reason=_describe(error)))
            return None
        except (TypeError, ValueError) as error:  # fhir.resources raises these for some shapes
            self.skipped.append(Skipped(where=ref or where, reason=type(error).__name__))
            return None
        self._by_type.setdefault(rtype, []).append(model)
        self._raw[id(model)] = raw
        if ref:
            self._by_ref[ref] = model
        return model

    # -- lookups -----------------------------------------------------------------
    def all(self, rtype: str) -> list[Any]:
        return self._by_type.get(rtype, [])

    def resolve(self, reference: Any) -> Any | None:
        """The resource a Reference (model or "Type/id" string, absolute URLs too) points to."""
        ref = getattr(reference, "reference", reference)
        if not isinstance(ref, str):
            return None
        parts = ref.rstrip("/").split("/")
        if len(parts) >= 2:
            return self._by_ref.get(f"{parts[-2]}/{parts[-1]}")
        return None

    def raw(self, model: Any) -> dict:
        """The JSON the resource arrived as, to build updates that keep every field intact."""
        return self._raw[id(model)]

    def memo(self, key: str, compute: Callable[[], Any]) -> Any:
        """Compute a derived fact once per request."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    @property
    def patient_id(self) -> str | None:
        value = self.context.get("patientId")
        return value if isinstance(value, str) else None

    @property
    def encounter_id(self) -> str | None:
        value = self.context.get("encounterId")
        return value if isinstance(value, str) else None

    @staticmethod
    def ref_of(model: Any) -> str:
        return f"{model.get_resource_type()}/{model.id}" if getattr(model, "id", None) else model.get_resource_type()

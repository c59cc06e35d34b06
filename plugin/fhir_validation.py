"""FHIR R4 validation at compiled speed, deciding exactly as fhir.resources does.

fhir.resources (through fhir_core) validates a resource in many round trips between
pydantic-core and Python: each complex element (a CodeableConcept, a Period, a Reference, ...)
is wrapped in a Python function that calls its model's `model_validate`, every model first walks
all its declared fields in Python looking for nulls in lists, and a custom `__init__` runs for
each. For a 13 KB visit that is ~125 model validations and most of the request's CPU.

`validate(model_cls, raw)` uses one compiled pydantic-core validator for all the resource types
the rules read (a tagged union sharing their element definitions), built at import from the
models' own core schemas with those layers taken out:

- an element's Python wrapper becomes a reference to the element model's compiled schema, which
  takes a dict, or a model of exactly that class still naming its FHIR type, and refuses
  anything else (JSON text, other mappings, lists, subclasses such as a Duration given for a
  Quantity): the library decides those;
- the null-in-list check goes: a list of complex elements holds model schemas, which refuse null
  natively, and the wrappers kept (contained resources) refuse it in front;
- the custom `__init__` goes: it only pops `resourceType`/`resource_type` and checks it, which
  this module does for the resource itself, and a nested element carrying either key is refused
  (an unknown field) and so reaches the library;
- the after-construction check (at most one value for a choice element, required primitives
  present) runs with its lists computed once per class, on the classes that have such elements;
- every other schema (primitive types, their patterns and conversions, contained resources) is
  the library's own, unchanged;
- input nested deeper than MAX_NESTING element levels is refused: the library validates it, or
  runs out of stack as it always did.

What the compiled validator accepts gives the very model (class, values, fields set) that
fhir.resources would; anything it refuses is validated again by fhir.resources, so an invalid
resource always gets the library's own errors. tests/fuzz/test_compiled_validation.py holds it
to that on valid resources and on every kind of breakage. A model whose schema has a shape this
module does not recognise (a future fhir_core) is simply not compiled: its elements keep the
library's wrapper, correct and slower.
"""
from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir_core.fhirabstractmodel import FHIRAbstractModel
from pydantic import ValidationError
from pydantic_core import CoreSchema, SchemaValidator, core_schema

from plugin.vocabulary import KNOWN_TYPES

__all__ = ["MAX_NESTING", "compiled", "compiled_types", "validate"]

# Abstract types stand for any resource (contained resources, Bundle entries): the library's
# wrapper picks the concrete model by resourceType, so it stays.
_POLYMORPHIC = frozenset({"Resource", "DomainResource"})
_AFTER = FHIRAbstractModel.validate_after_model_construction
_NULL_CHECK = FHIRAbstractModel.reject_null_complex_elements.__func__


def _wrapped_model(schema: dict[str, Any]) -> type | None:
    """The element model a fhir_core element wrapper validates with, else None."""
    function = schema.get("function", {}).get("function")
    if function is None or not getattr(function, "__qualname__", "").startswith("FhirBase.__get_pydantic_core_schema__"):
        return None
    source: Any = inspect.getclosurevars(function).nonlocals.get("source_type")
    klass = source.get_model_klass() if hasattr(source, "get_model_klass") else None
    return klass if isinstance(klass, type) and issubclass(klass, FHIRAbstractModel) else None


def _after_construction(klass: type[FHIRAbstractModel]) -> Callable[[Any], Any] | None:
    """The class's after-construction check, precomputed, or None if it has nothing to check.

    The library recomputes its lists of choice elements and required primitives (and walks every
    field to map aliases) on each model built. This check uses them computed once, and is
    stricter: a required primitive given only by its extension is refused here, so the library
    decides it.
    """
    blank = klass.model_construct()
    choices = [(tuple(names), klass.model_fields[names[0]].json_schema_extra["one_of_many_required"] is True)  # type: ignore[index]
               for names in blank.get_one_of_many_fields().values()]
    aliases = klass.get_alias_mapping()
    required = tuple(aliases[name] for name, _ in blank.get_required_fields())
    if not choices and not required:
        return None

    def check(model: Any) -> Any:
        for names, needed in choices:
            given = sum(getattr(model, name) is not None for name in names)
            if given > 1 or (needed and not given):
                raise ValueError("choice element")
        for name in required:
            if getattr(model, name) is None:
                raise ValueError("required element")
        return model
    return check


def _given_model(klass: type[FHIRAbstractModel]) -> Callable[[Any], Any]:
    """The library's check of a `klass` model given as an element: taken as it is, if it still
    names klass's FHIR type (`__resource_type__` can be set on an instance)."""
    def given(model: Any) -> Any:
        if model.__resource_type__ != klass.__resource_type__:
            raise ValueError("a model naming another FHIR type")
        return model
    return given


def _not_null(value: Any) -> Any:
    if value is None:
        raise ValueError("null element")
    return value


# How deep the compiled validator goes. pydantic-core refuses input nested deeper than 255
# definition references (its recursion guard); fhir.resources runs out of Python stack much
# sooner, at ~7 frames per element level: ~130 levels from a shallow stack, fewer from a deep
# one. Each element level here crosses _HOPS references, so input with more than MAX_NESTING (84)
# element levels inside the resource is refused and left to the library, which validates 84
# levels from any caller less than ~400 frames deep (a request validates from ~20).
_HOPS = 3
MAX_NESTING = 255 // _HOPS - 1


class _Compiler:
    """Rewrites the library's core schemas into one set of definitions, one per element model."""

    def __init__(self) -> None:
        self.definitions: dict[str, dict[str, Any] | None] = {}

    def reference(self, klass: type[FHIRAbstractModel]) -> dict[str, Any] | None:
        """A reference to the compiled schema of `klass`, or None if its shape is not known."""
        name = f"{klass.__module__}.{klass.__qualname__}"
        if name not in self.definitions:
            self.definitions[name] = {}  # in progress: recursive element types refer to it
            hops = [name] + [f"{name}#{i}" for i in range(1, _HOPS)]  # name -> name#1 -> ... -> the model
            model = self._model(klass, hops[-1])
            self.definitions[name] = None
            if model is not None:
                for ref, to in zip(hops, hops[1:], strict=False):
                    self.definitions[ref] = dict(core_schema.definition_reference_schema(to, ref=ref))
                self.definitions[hops[-1]] = model
        if self.definitions[name] is None:
            return None
        return dict(core_schema.definition_reference_schema(name))

    def _model(self, klass: type[FHIRAbstractModel], name: str) -> dict[str, Any] | None:
        after = klass.__pydantic_core_schema__
        if (after.get("type") != "function-after" or after["function"].get("function") != _AFTER
                or after["schema"].get("type") != "model" or after["schema"].get("cls") is not klass):
            return None
        fields = self._fields(after["schema"]["schema"])
        if fields is None:
            return None
        model: CoreSchema = typing.cast(CoreSchema, {**after["schema"], "schema": fields, "custom_init": False})
        check = _after_construction(klass)
        if check is not None:
            model = core_schema.no_info_after_validator_function(check, model)
        # The library's wrapper builds the element from a dict, and takes a model of the element's
        # FHIR type as it is. Chosen by the input's exact type, in C: a dict is built, a `klass`
        # model checked and taken; anything else (JSON text, other mappings, subclasses, a
        # Duration where a Quantity is expected, ...) is refused here and left to the library.
        given = core_schema.no_info_plain_validator_function(_given_model(klass))
        return dict(core_schema.tagged_union_schema(
            typing.cast(dict[Any, CoreSchema], {dict: model, klass: given}), discriminator=type, ref=name))

    def _fields(self, schema: dict[str, Any]) -> dict[str, Any] | None:
        """The model's fields with element wrappers compiled; the null check dropped."""
        if schema.get("type") == "function-before":
            inner = self._fields(schema["schema"])
            if inner is None:
                return None
            if getattr(schema["function"].get("function"), "__func__", None) is _NULL_CHECK:
                return inner
            return {**schema, "schema": inner}
        if schema.get("type") != "model-fields":
            return None
        return {**schema, "fields": {key: {**field, "schema": self._walk(field["schema"])}
                                     for key, field in schema["fields"].items()}}

    def _walk(self, schema: dict[str, Any]) -> dict[str, Any]:
        if schema.get("type") == "function-wrap":
            klass = _wrapped_model(schema)
            if klass is None:
                return schema  # a primitive type's own validator
            ref = self.reference(klass) if klass.__name__ not in _POLYMORPHIC else None
            # The library's element wrapper takes null: only its null check kept it out of lists.
            return ref or dict(core_schema.no_info_before_validator_function(_not_null, typing.cast(CoreSchema, schema)))
        out = dict(schema)
        for key in ("schema", "items_schema"):
            if isinstance(schema.get(key), dict):
                out[key] = self._walk(schema[key])
        if "choices" in schema:
            out["choices"] = [self._walk(c) if isinstance(c, dict) else (self._walk(c[0]), c[1])
                              for c in schema["choices"]]
        return out


def _compile(names: list[str]) -> tuple[SchemaValidator | None, dict[str, type]]:
    """One validator for the resource types `names`, and the model classes it compiled, by name.

    Its input is `(resource type, JSON without resourceType)`. One validator for all types, as
    they share their element definitions: ~2 MB, where one validator per type would hold a copy
    of them each (~28 MB measured).
    """
    def resource_type(pair: tuple[str, Any]) -> str:
        return pair[0]

    def resource(pair: tuple[str, Any]) -> Any:
        return pair[1]

    compiler = _Compiler()
    roots = {}
    for name in names:
        root = compiler.reference(get_fhir_model_class(name))
        if root is not None:
            roots[name] = core_schema.no_info_before_validator_function(resource, typing.cast(CoreSchema, root))
    definitions = [typing.cast(CoreSchema, d) for d in compiler.definitions.values() if d]
    try:
        union = core_schema.tagged_union_schema(typing.cast(dict[Any, CoreSchema], roots), discriminator=resource_type)
        return SchemaValidator(core_schema.definitions_schema(union, definitions)), {name: get_fhir_model_class(name) for name in roots}
    except Exception:  # noqa: BLE001 - a shape not foreseen (a model refused after others referred to it)
        return None, {}


_VALIDATOR, _COMPILED = _compile(sorted(KNOWN_TYPES))


def compiled_types() -> frozenset[str]:
    """The resource types validated by the compiled validator (the others by the library alone)."""
    return frozenset(_COMPILED)


def validate(model_cls: type[Any], raw: Any) -> Any:
    """`model_cls.model_validate(raw)`, compiled where possible: the same model, the same errors.

    `raw` is a resource's JSON (dict); elements inside it may already be models of their type.
    Raises what `model_cls.model_validate` raises (pydantic ValidationError, and TypeError or
    ValueError for some shapes), and TypeError where fhir.resources itself fails on a malformed
    resource (AttributeError for JSON text of a non-object given as a primitive's extension,
    KeyError for a contained resource of no known type).
    """
    try:
        return compiled(model_cls, raw)
    except (ValidationError, TypeError, ValueError, AttributeError, KeyError):
        pass  # refused, not compiled, or the library's code it kept (contained resources) failed: the library decides
    try:
        return model_cls.model_validate(raw)
    except (AttributeError, KeyError) as error:
        raise TypeError(f"fhir.resources failed on this resource ({type(error).__name__})") from error


def compiled(model_cls: type[Any], raw: Any) -> Any:
    """The compiled validator's own verdict: the model, or ValueError/ValidationError if it refuses
    (or `model_cls` is not compiled); a contained resource is validated by the library's own code,
    which may raise anything it raises. Never accepts what fhir.resources refuses."""
    name = model_cls.__name__
    if _VALIDATOR is None or _COMPILED.get(name) is not model_cls or not isinstance(raw, dict):
        raise ValueError(f"no compiled validator for {name} input")  # another FHIR version or a subclass too
    if raw.get("resourceType", name) != name:
        raise ValueError("another resourceType")
    return _VALIDATOR.validate_python((name, {k: v for k, v in raw.items() if k != "resourceType"}))

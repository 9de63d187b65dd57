"""FHIR R4 (4.0.1) input: JSON in `application/fhir+json` or `application/json`, validated with the fhir.resources 6.4
models (the last fhir.resources line whose default package is R4 4.0.1; 7.x and later default to R5 and carry R4B,
not R4)."""

import pydantic
from fhir.resources import construct_fhir_element
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer

from ..errors import FhirInvalid


class JSONBodyParser(JSONParser):
    """JSON, refusing absurdly nested documents with a 400 rather than a RecursionError."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("The JSON document is nested too deeply.") from exc


class FhirJSONParser(JSONBodyParser):
    media_type = "application/fhir+json"


class FhirJSONRenderer(JSONRenderer):
    media_type = "application/fhir+json"
    format = "fhir+json"
    charset = "utf-8"


def _location(loc: tuple) -> str:
    return ".".join(str(part) if not isinstance(part, int) else f"[{part}]" for part in loc).replace(".[", "[")


# Required bindings of the elements we read: fhir.resources checks a code's form, not that it is in its value set.
REQUIRED_CODES = {
    "Patient": {"gender": {"male", "female", "other", "unknown"}},
    "Coverage": {"status": {"active", "cancelled", "draft", "entered-in-error"}},
    "ServiceRequest": {
        "status": {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"},
        "intent": {"proposal", "plan", "directive", "order", "original-order", "reflex-order", "filler-order",
                   "instance-order", "option"},
        "priority": {"routine", "urgent", "asap", "stat"}},
    "Appointment": {"status": {"proposed", "pending", "booked", "arrived", "fulfilled", "cancelled", "noshow",
                               "entered-in-error", "checked-in", "waitlist"}},
}


def _check_codes(data: dict, resource_type: str) -> None:
    issues = [(f"{resource_type}.{name}", f"{data[name]!r} is not one of: {', '.join(sorted(codes))}")
              for name, codes in REQUIRED_CODES.get(resource_type, {}).items()
              if name in data and data[name] not in codes]
    if issues:
        raise FhirInvalid(f"The {resource_type} uses codes outside their required value sets.", issues=issues,
                          code="value")


def _empty_elements(value, where: str, found: list, depth: int = 0) -> None:
    """FHIR JSON forbids empty arrays, objects and strings (fhir.resources lets some through)."""
    if depth > 40:
        raise FhirInvalid("The resource is nested too deeply.", code="structure")
    if value in ([], {}, ""):
        found.append((where, "empty elements are not allowed in FHIR JSON"))
    elif isinstance(value, dict):
        for key, item in value.items():
            _empty_elements(item, f"{where}.{key}", found, depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _empty_elements(item, f"{where}[{i}]", found, depth + 1)


def parse_resource(data, resource_type: str):
    """The validated fhir.resources model of `data`, or FhirInvalid naming every problem."""
    if not isinstance(data, dict):
        raise FhirInvalid("The body must be a JSON object holding one FHIR resource.", code="structure")
    if data.get("resourceType") != resource_type:
        raise FhirInvalid(f"Expected a {resource_type} resource, got {data.get('resourceType')!r}.",
                          issues=[("resourceType", f"must be {resource_type}")], code="structure")
    _check_codes(data, resource_type)
    empty: list = []
    _empty_elements(data, resource_type, empty)
    if empty:
        raise FhirInvalid(f"The {resource_type} has empty elements.", issues=empty[:20], code="structure")
    try:
        return construct_fhir_element(resource_type, data)
    except pydantic.ValidationError as exc:
        issues = [(f"{resource_type}.{_location(err['loc'])}".rstrip("."), err["msg"]) for err in exc.errors()]
        raise FhirInvalid(f"The {resource_type} is not valid FHIR R4.", issues=issues[:20]) from exc
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        raise FhirInvalid(f"The {resource_type} is not valid FHIR R4: {exc}"[:500]) from exc


def reference_id(reference: str | None, resource_type: str) -> str | None:
    """`42` from `Patient/42` (also from a full URL ending so); None when it names another type or nothing."""
    if not reference:
        return None
    parts = reference.rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] == resource_type and parts[-1]:
        return parts[-1]
    return None


def int_id(reference: str | None, resource_type: str) -> int | None:
    raw = reference_id(reference, resource_type)
    return int(raw) if raw and raw.isascii() and raw.isdigit() and len(raw) < 18 else None

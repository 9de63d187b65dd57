"""The one exception handler of the partner APIs: domain errors and DRF errors become one shape, an
OperationOutcome under /fhir/ and `{"code", "detail", "fields"}` under /api/."""

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response

from healthops.errors import DomainError


class FhirInvalid(DomainError):
    """A resource that is not valid FHIR R4 (or not what this endpoint takes). `issues`: (expression, message)."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, issues: list[tuple[str, str]] | None = None, status: int | None = None,
                 code: str | None = None):
        super().__init__(message, code=code)
        self.issues = issues or []
        if status:
            self.status = status


class Unprocessable(DomainError):
    status = 422
    code = "unprocessable"


FHIR_ISSUE = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
              406: "not-supported", 409: "conflict", 415: "not-supported", 422: "processing", 429: "throttled"}


def operation_outcome(message: str, *, status_code: int, issues: list[tuple[str, str]] | None = None,
                      code: str | None = None) -> dict:
    issue_code = code if code in {"invalid", "structure", "required", "value", "duplicate", "business-rule",
                                  "conflict", "not-found", "processing"} else FHIR_ISSUE.get(status_code, "processing")
    if issues:
        return {"resourceType": "OperationOutcome", "issue": [
            {"severity": "error", "code": issue_code, "diagnostics": text, **({"expression": [where]} if where else {})}
            for where, text in issues]}
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": issue_code, "diagnostics": message}]}


def _flatten(detail, prefix="") -> list[tuple[str, str]]:
    if isinstance(detail, dict):
        return [item for key, value in detail.items() for item in _flatten(value, f"{prefix}.{key}" if prefix else str(key))]
    if isinstance(detail, list):
        if all(not isinstance(v, (dict, list)) for v in detail):
            return [(prefix, str(v)) for v in detail]
        return [item for i, value in enumerate(detail) for item in _flatten(value, f"{prefix}[{i}]")]
    return [(prefix, str(detail))]


def exception_handler(exc, context):
    request = context.get("request")
    fhir = bool(request and request.path.startswith("/fhir/"))
    headers, issues, code = {}, [], None
    if isinstance(exc, FhirInvalid):
        status_code, message, issues, code = exc.status, exc.message, exc.issues, exc.code
    elif isinstance(exc, DomainError):
        status_code, message, code = exc.status, exc.message, exc.code
    elif isinstance(exc, DjangoValidationError):
        status_code, message = 400, "; ".join(exc.messages)
        issues = _flatten(exc.message_dict) if hasattr(exc, "error_dict") else []
    elif isinstance(exc, (Http404, ObjectDoesNotExist)):
        status_code, message = 404, str(exc) or "Not found."
    elif isinstance(exc, PermissionDenied):
        status_code, message = 403, str(exc) or "Not allowed."
    elif isinstance(exc, exceptions.APIException):
        status_code = exc.status_code
        if isinstance(exc.detail, (dict, list)):
            issues = _flatten(exc.detail)
            message = "; ".join(f"{where}: {text}" if where else text for where, text in issues)
        else:
            message = str(exc.detail)
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else None
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            headers["Retry-After"] = str(max(1, int(exc.wait + 0.999)))
        if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
            status_code = status.HTTP_401_UNAUTHORIZED
            headers["WWW-Authenticate"] = 'Bearer realm="healthops"'
    else:
        return None
    if fhir:
        body = operation_outcome(message, status_code=status_code, issues=issues, code=code)
        response = Response(body, status=status_code, headers=headers, content_type="application/fhir+json")
    else:
        response = Response({"code": code or FHIR_ISSUE.get(status_code, "error"), "detail": message,
                             "fields": {where: text for where, text in issues if where}},
                            status=status_code, headers=headers)
    return response

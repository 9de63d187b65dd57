"""Tiny request/response types for the sandbox handlers, independent of the HTTP server plumbing."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from ..integrations.fhir import build_operation_outcome

FHIR_JSON = "application/fhir+json"
JSON = "application/json"
FHIR_ACCEPTED = {FHIR_JSON, JSON, "application/json+fhir"}


class HttpError(Exception):
    """Raised by a handler to answer an error; ``fhir`` selects an OperationOutcome body over ``{"error": ...}``."""

    def __init__(self, status: int, message: str, *, fhir: bool = False, code: str = "invalid") -> None:
        super().__init__(message)
        self.status, self.message, self.fhir, self.code = status, message, fhir, code

    def response(self) -> Response:
        if self.fhir:
            return Response(self.status, build_operation_outcome(self.code, self.message), FHIR_JSON)
        return Response(self.status, {"error": self.message, "status": self.status})


@dataclass
class Request:
    method: str
    path: str
    query_string: str
    headers: Mapping[str, str]
    body: bytes

    @property
    def query(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(self.query_string, keep_blank_values=True).items()}

    @property
    def content_type(self) -> str:
        return (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()

    def header(self, name: str) -> str | None:
        value = self.headers.get(name)
        return value.strip() if value and value.strip() else None

    def json(self, *, fhir: bool = False, accepted: set[str] | None = None) -> Any:
        """The body as JSON; 415 for a content type outside ``accepted`` (a missing one is tolerated), 400 if broken."""
        if accepted and self.content_type and self.content_type not in accepted:
            raise HttpError(415, f"Unsupported Content-Type {self.content_type!r}; send one of {sorted(accepted)}.",
                            fhir=fhir, code="not-supported")
        if not self.body.strip():
            raise HttpError(400, "The request body is empty; a JSON body is required.", fhir=fhir)
        try:
            return json.loads(self.body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise HttpError(400, f"The request body is not valid JSON: {exc}.", fhir=fhir) from exc


@dataclass
class Response:
    status: int
    payload: Any = None
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> bytes:
        if self.payload is None:
            return b""
        if isinstance(self.payload, bytes):
            return self.payload
        return json.dumps(self.payload, indent=None, separators=(",", ":")).encode("utf-8")


def fhir(status: int, resource: Any) -> Response:
    return Response(status, resource, FHIR_JSON)

"""Idempotency-Key on POSTs: the same key and body replays the first response with no second effect; the same key
with another body is refused (422). The handler and the stored response share one transaction, so a request either
leaves its effect and its record, or neither.

The record is written last, after the handler, so a first use of a key (nearly every request) costs one INSERT. A
second use runs the handler too, then fails on the key's unique constraint and rolls back: its effects are undone
and the first response is replayed. On PostgreSQL a concurrent second use waits on that constraint until the first
commits (or rolls back, when it then becomes the first use)."""

import hashlib
import json

from django.db import IntegrityError, transaction
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from .auth import partner_client
from .errors import Unprocessable
from .models import IdempotencyRecord

HEADER = "Idempotency-Key"
KEPT_HEADERS = ("Location", "Content-Location", "ETag")


class _ServerError(Exception):
    def __init__(self, response):
        self.response = response


def _digest(request) -> str:
    body = request._request.body  # read before the parsers consume the stream
    return hashlib.sha256(f"{request.method} {request.path}\n".encode() + body).hexdigest()


def _replay(record: IdempotencyRecord, digest: str) -> Response:
    if record.request_hash != digest:
        raise Unprocessable(f"This {HEADER} was used with another request body; use a new key for a new request.",
                            code="idempotency-key-reused")
    response = Response(record.response_body, status=record.status_code, headers=record.response_headers)
    response["Idempotent-Replayed"] = "true"
    return response


def _remember(client, key: str, digest: str, response: Response) -> None:
    """Store the response for the key (IntegrityError when the key has a record already)."""
    IdempotencyRecord.objects.create(
        client=client, key=key, request_hash=digest, status_code=response.status_code,
        response_body=json.loads(JSONRenderer().render(response.data) or b"null"),
        response_headers={h: response[h] for h in KEPT_HEADERS if response.has_header(h)})


def run_idempotent(view, request, handler) -> Response:
    """Run `handler()` (the view's work) at most once per (client, Idempotency-Key)."""
    key = request.headers.get(HEADER, "").strip()
    client = partner_client(request)
    if not key or client is None:
        with transaction.atomic():
            return handler()
    if len(key) > 255:
        raise Unprocessable(f"{HEADER} must be at most 255 characters.", code="invalid")
    digest = _digest(request)
    try:
        with transaction.atomic():
            response = handler()
            if response.status_code >= 500:
                raise _ServerError(response)  # undo it and forget the key: the client may try again
            _remember(client, key, digest, response)
            return response
    except _ServerError as failed:
        return failed.response
    except Exception as exc:  # noqa: BLE001 (a used key, or the handler's error: both are answers to give)
        used = IdempotencyRecord.objects.filter(client=client, key=key).first()
        if used is not None:  # this key's first use committed: whatever this attempt did is undone
            return _replay(used, digest)
        response = view.handle_exception(exc)  # domain and API errors are responses to remember too
        if response.status_code >= 500:
            return response
        try:
            with transaction.atomic():
                _remember(client, key, digest, response)
        except IntegrityError:  # a concurrent first use of the key committed meanwhile: its answer stands
            return _replay(IdempotencyRecord.objects.get(client=client, key=key), digest)
        response.exception = False
        return response

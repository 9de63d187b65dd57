"""Idempotency-Key on POSTs: the same key and body replays the first response with no second effect; the same key
with another body is refused (422). The handler, the key's reservation and the stored response share one transaction,
so a request either leaves its effect and its record, or neither."""

import hashlib
import json

from django.db import IntegrityError, transaction
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from healthops.errors import Conflict

from .auth import partner_client
from .errors import Unprocessable
from .models import IdempotencyRecord

HEADER = "Idempotency-Key"
KEPT_HEADERS = ("Location", "Content-Location", "ETag")


class _KeyUsed(Exception):
    pass


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
            # Claim the key first: a used key fails here (IntegrityError, replayed below), and on PostgreSQL a
            # concurrent first use of the key waits here for the other to commit, then fails and replays it.
            try:
                record = IdempotencyRecord.objects.create(client=client, key=key, request_hash=digest, status_code=0)
            except IntegrityError:
                raise _KeyUsed from None
            try:
                with transaction.atomic():
                    response = handler()
            except Exception as exc:  # noqa: BLE001 (domain and API errors are responses to remember too)
                response = view.handle_exception(exc)
            if response.status_code >= 500:
                raise _ServerError(response)  # forget the key: the client may try again
            record.status_code = response.status_code
            record.response_body = json.loads(JSONRenderer().render(response.data) or b"null")
            record.response_headers = {h: response[h] for h in KEPT_HEADERS if response.has_header(h)}
            record.save(update_fields=["status_code", "response_body", "response_headers"])
            response.exception = False
            return response
    except _ServerError as failed:
        return failed.response
    except _KeyUsed:
        record = IdempotencyRecord.objects.filter(client=client, key=key).first()
        if record is None:  # its first use just failed with a server error, which is not remembered
            raise Conflict(f"The first request with this {HEADER} failed; send it again.", code="conflict") from None
        return _replay(record, digest)

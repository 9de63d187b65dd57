"""The simulated ERP (CloudEvents sink), workforce system (rosters) and messaging sink (SMS / e-mail)."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from .payer import now_iso
from .state import SandboxState, StateInputError, parse_aware
from .web import JSON, HttpError, Request, Response

logger = logging.getLogger("healthops.sandbox")

CLOUDEVENTS_TYPES = {"application/cloudevents+json", JSON}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_ROSTER_DAYS = 366


# ----------------------------------------------------------------------------------------------------------------
# ERP: CloudEvents 1.0, structured JSON mode
# ----------------------------------------------------------------------------------------------------------------

def validate_cloudevent(event: Any) -> dict[str, Any]:
    """Required: specversion "1.0", id, source, type (non-empty strings); optional subject, time (RFC 3339)."""
    if not isinstance(event, Mapping):
        raise HttpError(400, "A CloudEvent in structured mode is a JSON object.")
    if event.get("specversion") != "1.0":
        raise HttpError(400, f"specversion must be \"1.0\" (got {event.get('specversion')!r}).")
    missing = [k for k in ("id", "source", "type") if not isinstance(event.get(k), str) or not event[k].strip()]
    if missing:
        raise HttpError(400, f"Missing or empty CloudEvents attribute(s): {', '.join(missing)}.")
    for key in ("subject", "datacontenttype", "dataschema"):
        if key in event and not isinstance(event[key], str):
            raise HttpError(400, f"CloudEvents attribute {key} must be a string.")
    if "time" in event:
        try:
            parse_aware(event["time"], "time")
        except StateInputError as exc:
            raise HttpError(400, f"CloudEvents attribute {exc}") from exc
    return dict(event)


def erp_accept(state: SandboxState, req: Request) -> Response:
    event = validate_cloudevent(req.json(accepted=CLOUDEVENTS_TYPES))
    key = (event["source"], event["id"])
    with state.lock:  # dedupe on (source, id), as CloudEvents consumers must
        if key in state.erp_seen:
            state.counts["erp_duplicates"] += 1
            state.touch()
            return Response(200, {"status": "duplicate", "id": event["id"], "source": event["source"]})
        state.erp_seen.add(key)
        state.erp_events.append(event)
        state.touch()
    logger.info("erp event accepted type=%s", event["type"])
    return Response(202, {"status": "accepted", "id": event["id"], "source": event["source"]})


def erp_list(state: SandboxState, req: Request) -> Response:
    subject, kind = req.query.get("subject"), req.query.get("type")
    with state.lock:
        events = [e for e in state.erp_events
                  if (subject is None or e.get("subject") == subject) and (kind is None or e.get("type") == kind)]
    return Response(200, {"count": len(events), "events": events})


# ----------------------------------------------------------------------------------------------------------------
# Workforce: rosters
# ----------------------------------------------------------------------------------------------------------------

def _query_date(req: Request, name: str) -> date:
    value = req.query.get(name)
    if not value or not _DATE.match(value):
        raise HttpError(400, f"Query parameter '{name}' must be a date YYYY-MM-DD (got {value!r}).")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise HttpError(400, f"Query parameter '{name}' is not a real date: {value!r}.") from exc


def roster(state: SandboxState, req: Request) -> Response:
    """Shifts whose start (in the shift's own offset) falls on a day from ``from`` to ``to``, both included."""
    start, end = _query_date(req, "from"), _query_date(req, "to")
    if end < start:
        raise HttpError(400, "'to' must not be before 'from'.")
    if (end - start).days >= MAX_ROSTER_DAYS:
        raise HttpError(400, f"Ask for at most {MAX_ROSTER_DAYS} days at a time.")
    site = req.query.get("site")
    with state.lock:
        state.counts["roster_requests"] += 1
        shifts = [s for s in state.roster if start <= parse_aware(s["start"], "start").date() <= end
                  and (site is None or s["site_code"] == site)]
    shifts.sort(key=lambda s: (parse_aware(s["start"], "start"), s["id"]))
    return Response(200, {"from": start.isoformat(), "to": end.isoformat(), "shifts": shifts})


# ----------------------------------------------------------------------------------------------------------------
# Messaging sink
# ----------------------------------------------------------------------------------------------------------------

def _validate_message(body: Any) -> dict[str, Any]:
    if not isinstance(body, Mapping):
        raise HttpError(400, "A message is a JSON object {channel, to, body, idempotency_key?}.")
    if body.get("channel") not in ("sms", "email"):
        raise HttpError(400, "channel must be \"sms\" or \"email\".")
    for key in ("to", "body"):
        if not isinstance(body.get(key), str) or not body[key].strip():
            raise HttpError(400, f"{key} must be a non-empty string.")
    key = body.get("idempotency_key")
    if key is not None and (not isinstance(key, str) or not key):
        raise HttpError(400, "idempotency_key, when given, must be a non-empty string.")
    return {"channel": body["channel"], "to": body["to"], "body": body["body"], "idempotency_key": key}


def message_send(state: SandboxState, req: Request) -> Response:
    message = _validate_message(req.json(accepted={JSON}))
    message["idempotency_key"] = message["idempotency_key"] or req.header("Idempotency-Key")
    key = message["idempotency_key"]
    with state.lock:
        if key and key in state.message_keys:
            state.counts["message_duplicates"] += 1
            state.touch()
            first = next(m for m in state.messages if m["id"] == state.message_keys[key])
            return Response(200, {**first, "duplicate": True})
        message.update(id=f"MSG-{state.next_id('message'):06d}", received_at=now_iso())
        state.messages.append(message)
        if key:
            state.message_keys[key] = message["id"]
        state.touch()
    logger.info("message stored id=%s channel=%s", message["id"], message["channel"])
    return Response(201, {**message, "duplicate": False})


def message_list(state: SandboxState, req: Request) -> Response:
    to, channel = req.query.get("to"), req.query.get("channel")
    with state.lock:
        messages = [m for m in state.messages
                    if (to is None or m["to"] == to) and (channel is None or m["channel"] == channel)]
    return Response(200, {"count": len(messages), "messages": messages})

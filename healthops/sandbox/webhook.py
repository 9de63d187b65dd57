"""Push payer decisions to HealthOps' webhook, retrying with exponential backoff and recording every attempt."""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
from typing import Any

from .payer import now_iso
from .state import SandboxState
from .web import FHIR_JSON

logger = logging.getLogger("healthops.sandbox")


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int | None, str | None]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (URL set by the operator)
            return response.status, None
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return None, type(exc).__name__ + ": " + str(getattr(exc, "reason", exc))


def _deliver(state: SandboxState, url: str, notification: dict[str, Any], tracking_id: str, generation: int) -> None:
    with state.lock:
        attempts, backoff = state.config.webhook_attempts, state.config.webhook_backoff_seconds
        timeout = state.config.webhook_timeout_seconds
    event_number = _event_number(notification)
    body = json.dumps(notification).encode("utf-8")
    for attempt in range(1, max(1, attempts) + 1):
        headers = {"Content-Type": FHIR_JSON, "Idempotency-Key": f"{tracking_id}-event-{event_number}",
                   "X-Sandbox-Attempt": str(attempt)}
        status, error = _post(url, body, headers, timeout)
        delivered = status is not None and 200 <= status < 300
        with state.lock:
            if state.generation != generation:
                return  # the sandbox was reset meanwhile: this delivery belongs to a forgotten world
            state.deliveries.append({"tracking_id": tracking_id, "event_number": event_number, "url": url,
                                     "attempt": attempt, "status": status, "error": error, "delivered": delivered,
                                     "at": now_iso()})
            state.touch()
        logger.info("webhook push tracking_id=%s attempt=%s status=%s", tracking_id, attempt, status or error)
        if delivered or attempt >= attempts or state.stopping.is_set() or state.generation != generation:
            return
        state.stopping.wait(backoff * 2 ** (attempt - 1))


def _event_number(notification: dict[str, Any]) -> int:
    parameters = notification["entry"][0]["resource"]["parameter"]
    event = next(p for p in parameters if p["name"] == "notification-event")
    return int(next(p for p in event["part"] if p["name"] == "event-number")["valueString"])


def push(state: SandboxState, notification: dict[str, Any], tracking_id: str) -> threading.Thread | None:
    """Deliver in the background when a webhook URL is configured; returns the delivery thread (or None)."""
    with state.lock:
        url, generation = state.config.webhook_url, state.generation
    if not url:
        logger.info("webhook not configured; decision for tracking_id=%s not pushed", tracking_id)
        return None
    thread = threading.Thread(target=_deliver, args=(state, url, notification, tracking_id, generation), daemon=True,
                              name=f"sandbox-webhook-{tracking_id}")
    thread.start()
    return thread

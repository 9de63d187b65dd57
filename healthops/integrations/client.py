"""One governed HTTP client for every external system: timeouts, bounded retries with jittered exponential backoff,
a circuit breaker shared by all processes, idempotency keys, and a recorded IntegrationCall for every attempt.

Calls must not run inside a database transaction: a slow partner would hold locks, and a rollback would forget
that the call happened.
"""

import json
import logging
import random
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..models import CircuitBreaker, IntegrationCall

log = logging.getLogger(__name__)
Outcome = IntegrationCall.Outcome


@dataclass
class Result:
    outcome: str
    status_code: int | None = None
    body: Any = None
    attempts: int = 0
    error: str = ""
    headers: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.outcome == Outcome.OK

    @property
    def unreachable(self) -> bool:
        """The system could not be asked (down, timing out, circuit open): try again later or ask a person."""
        return self.outcome in {Outcome.FAILED, Outcome.CIRCUIT_OPEN}


class MalformedAnswer(Exception):
    """Raised by a `parse` callback when the answer is not what the system promised."""


@dataclass
class Policy:
    timeout: float
    max_attempts: int
    backoff_base: float
    backoff_max: float
    failure_threshold: int
    open_seconds: float

    @classmethod
    def from_settings(cls) -> "Policy":
        c = settings.INTEGRATIONS
        return cls(c["TIMEOUT_SECONDS"], c["MAX_ATTEMPTS"], c["BACKOFF_BASE_SECONDS"], c["BACKOFF_MAX_SECONDS"],
                   c["FAILURE_THRESHOLD"], c["OPEN_SECONDS"])


class Breaker:
    """Closed: calls flow. After `failure_threshold` consecutive failures: open, calls are refused at once. After
    `open_seconds`: half-open, one caller gets to probe; its success closes the circuit, its failure reopens it."""

    def __init__(self, system: str, policy: Policy):
        self.system, self.policy = system, policy
        self._clean = False  # what the last allow() saw: closed, no failures

    def allow(self) -> bool:
        # Closed (nearly always): no lock, so callers in every worker do not queue on the one row per system.
        seen = CircuitBreaker.objects.filter(system=self.system).values_list("state", "consecutive_failures").first()
        self._clean = seen is None or seen == (CircuitBreaker.State.CLOSED, 0)  # a success then has nothing to heal
        if seen is None or seen[0] == CircuitBreaker.State.CLOSED:
            return True
        now = timezone.now()
        with transaction.atomic():
            state, _ = CircuitBreaker.objects.select_for_update().get_or_create(system=self.system)  # one prober wins
            if state.state == CircuitBreaker.State.CLOSED:
                return True
            probe_due = state.opened_at is None or now - state.opened_at >= timedelta(seconds=self.policy.open_seconds)
            stale_probe = state.probe_started_at and now - state.probe_started_at > timedelta(
                seconds=self.policy.timeout * 2 + 1)
            if state.state == CircuitBreaker.State.OPEN and probe_due or (
                    state.state == CircuitBreaker.State.HALF_OPEN and stale_probe):
                state.state, state.probe_started_at, state.changed_at = CircuitBreaker.State.HALF_OPEN, now, now
                state.save()
                return True
            return False

    def record(self, success: bool) -> None:
        now = timezone.now()
        if success:  # nothing to write when the circuit was closed with no failures counted; else one UPDATE
            if self._clean:
                return
            healed = (CircuitBreaker.objects.filter(system=self.system)
                      .exclude(state=CircuitBreaker.State.CLOSED, consecutive_failures=0)
                      .update(state=CircuitBreaker.State.CLOSED, consecutive_failures=0, opened_at=None,
                              probe_started_at=None, changed_at=now))
            if healed:
                log.info("circuit closed", extra={"system": self.system})
            return
        with transaction.atomic():
            state, _ = CircuitBreaker.objects.select_for_update().get_or_create(system=self.system)
            state.consecutive_failures += 1
            if state.state == CircuitBreaker.State.HALF_OPEN or (
                    state.consecutive_failures >= self.policy.failure_threshold):
                if state.state != CircuitBreaker.State.OPEN:
                    log.warning("circuit opened", extra={"system": self.system})
                state.state, state.opened_at, state.probe_started_at = CircuitBreaker.State.OPEN, now, None
            state.changed_at = now
            state.save()


class IntegrationClient:
    system = "external"

    def __init__(self, base_url: str, policy: Policy | None = None, sleep=time.sleep):
        self.base_url = base_url.rstrip("/")
        self.policy = policy or Policy.from_settings()
        self.breaker = Breaker(self.system, self.policy)
        self._sleep = sleep

    def request(self, operation: str, method: str, path: str, *, body: Any = None, idempotency_key: str = "",
                subject: str = "", parse=None, headers: dict | None = None, content_type: str = "application/json",
                url: str | None = None) -> Result:
        """Call with retries. `parse(body_json) -> value` turns an answer into what the caller needs, raising
        MalformedAnswer (or KeyError/TypeError/ValueError) when it does not make sense: that is recorded, not retried."""
        data = json.dumps(body).encode() if body is not None else None
        all_headers = {"Accept": "application/json", **(headers or {})}
        if data is not None:
            all_headers["Content-Type"] = content_type
        if idempotency_key:
            all_headers["Idempotency-Key"] = idempotency_key
        target = url or f"{self.base_url}{path}"
        result = Result(Outcome.FAILED)
        for attempt in range(1, self.policy.max_attempts + 1):
            if not self.breaker.allow():
                result = Result(Outcome.CIRCUIT_OPEN, attempts=attempt - 1,
                                error=f"{self.system} is unavailable (circuit open); the call will be retried later.")
                self._record(operation, result, attempt, 0, idempotency_key, subject)
                return result
            started = time.monotonic()
            result = self._once(method, target, data, all_headers, parse)
            result.attempts = attempt
            latency = int((time.monotonic() - started) * 1000)
            self._record(operation, result, attempt, latency, idempotency_key, subject)
            # A refusal or a nonsense answer is the system working and saying no; only failures count against it.
            self.breaker.record(success=result.outcome != Outcome.FAILED)
            if result.outcome != Outcome.FAILED:
                return result
            if attempt < self.policy.max_attempts:
                self._sleep(self._backoff(attempt))
        return result

    def _backoff(self, attempt: int) -> float:
        # Full jitter: spreads retries of many workers so they do not hammer a recovering system together.
        return random.uniform(0, min(self.policy.backoff_max, self.policy.backoff_base * 2 ** (attempt - 1)))

    def _once(self, method: str, url: str, data: bytes | None, headers: dict, parse) -> Result:
        req = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=self.policy.timeout) as response:
                status, raw, resp_headers = response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as exc:
            raw = exc.read() if exc.fp else b""
            outcome = Outcome.FAILED if exc.code >= 500 or exc.code in (408, 429) else Outcome.REJECTED
            return Result(outcome, exc.code, _maybe_json(raw), error=f"HTTP {exc.code}: {raw[:300].decode(errors='replace')}")
        except TimeoutError as exc:
            return Result(Outcome.FAILED, error=f"timed out after {self.policy.timeout:g} s ({exc.__class__.__name__})")
        except (urllib.error.URLError, ConnectionError, OSError) as exc:
            return Result(Outcome.FAILED, error=f"connection failed: {getattr(exc, 'reason', exc)}")
        except Exception as exc:  # http.client.RemoteDisconnected, IncompleteRead, BadStatusLine...
            return Result(Outcome.FAILED, error=f"connection failed: {exc.__class__.__name__}")
        if not raw.strip():
            return Result(Outcome.OK, status, None, headers=resp_headers) if parse is None else Result(
                Outcome.MALFORMED, status, None, error="empty answer")
        try:
            decoded = json.loads(raw)
        except ValueError:
            return Result(Outcome.MALFORMED, status, raw[:2000].decode(errors="replace"), error="answer is not JSON")
        if parse is None:
            return Result(Outcome.OK, status, decoded, headers=resp_headers)
        try:
            return Result(Outcome.OK, status, parse(decoded), headers=resp_headers)
        except (MalformedAnswer, KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            return Result(Outcome.MALFORMED, status, decoded, error=f"unexpected answer: {exc}"[:500])

    def _record(self, operation, result: Result, attempt: int, latency: int, key: str, subject: str) -> None:
        payload = ""
        if result.outcome == Outcome.MALFORMED:
            payload = result.body if isinstance(result.body, str) else json.dumps(result.body)[:20000]
        IntegrationCall.objects.create(
            system=self.system, operation=operation, outcome=result.outcome, attempt=attempt,
            status_code=result.status_code, latency_ms=latency, idempotency_key=key[:100], subject=subject[:120],
            error=result.error[:500], payload=payload, at=timezone.now(),
        )
        log.info("integration call", extra={"system": self.system, "operation": operation, "outcome": result.outcome,
                                             "attempt": attempt, "latency_ms": latency, "status_code": result.status_code})


def _maybe_json(raw: bytes):
    try:
        return json.loads(raw)
    except ValueError:
        return raw[:2000].decode(errors="replace")


def circuit_open(system: str) -> bool:
    return CircuitBreaker.objects.filter(system=system, state=CircuitBreaker.State.OPEN).exists()


def record_incoming(system: str, operation: str, *, ok: bool, error: str = "", payload: bytes = b"",
                    subject: str = "") -> None:
    """Record a call an outside system made to us (a webhook), kept with its payload when it was unusable."""
    IntegrationCall.objects.create(
        system=system, operation=f"incoming-{operation}", outcome=Outcome.OK if ok else Outcome.MALFORMED,
        subject=subject[:120], error=error[:500], payload="" if ok else payload[:20000].decode(errors="replace"),
        at=timezone.now(),
    )

"""Fault injection for the sandbox: latency, error rates, timeouts, outages and malformed answers, on request.

A fault spec is a JSON object (``POST /_faults``, or the ``SANDBOX_FAULTS`` environment variable: one object or a list)::

    {"endpoint": "payer.eligibility" | "payer.submit" | "payer.inquire" | "erp.events" | "workforce.roster"
                 | "messaging" | "*",
     "latency_ms": 200,          # added before every matching answer
     "error_rate": 0.3,          # answer error_status (default 503) without doing anything
     "error_status": 503,
     "timeout_rate": 0.1,        # do the work, then hold the answer timeout_seconds (default 30) before sending it
     "timeout_seconds": 30,
     "outage_seconds": 120,      # every matching request answers 503 for that long from now
     "malformed_rate": 0.2,      # do the work, answer 200 with a broken body
     "malformed_kind": "alternate" | "truncated" | "wrong-shape",   # alternate: truncated JSON first, then wrong shape
     "seed": 42}                 # seeds this spec's own random.Random

Determinism: outside an outage each matching spec draws exactly one ``rng.random()`` per matching request, in the
order the specs were added; ``r < error_rate`` is an error, ``r < error_rate + timeout_rate`` a timeout,
``r < error_rate + timeout_rate + malformed_rate`` a malformed answer. So with one spec
``{"error_rate": 0.3, "seed": 42}`` request n fails exactly when the n-th ``random.Random(42).random()`` is below 0.3.
The first spec that picks an action wins; latencies of all matching specs add up. The ``/_control`` and ``/_faults``
endpoints are never faulted.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

ENDPOINTS = ("payer.eligibility", "payer.submit", "payer.inquire", "erp.events", "workforce.roster", "messaging")
MALFORMED_KINDS = ("alternate", "truncated", "wrong-shape")
_RATES = ("error_rate", "timeout_rate", "malformed_rate")
_KNOWN_KEYS = {"endpoint", "latency_ms", "error_status", "timeout_seconds", "outage_seconds", "malformed_kind",
               "seed", *_RATES}


class FaultSpecError(ValueError):
    """A fault spec that cannot be applied (unknown endpoint, rate outside 0..1, ...)."""


@dataclass
class Fault:
    """One active fault spec, with its own random stream and outage deadline (monotonic clock)."""

    endpoint: str
    latency_ms: float = 0.0
    error_rate: float = 0.0
    error_status: int = 503
    timeout_rate: float = 0.0
    timeout_seconds: float = 30.0
    outage_until: float | None = None
    malformed_rate: float = 0.0
    malformed_kind: str = "alternate"
    seed: int | None = None
    spec: dict[str, Any] = field(default_factory=dict)
    rng: random.Random = field(default_factory=random.Random, repr=False)
    malformed_count: int = 0

    def matches(self, endpoint: str) -> bool:
        return self.endpoint in ("*", endpoint)

    def describe(self, now: float) -> dict[str, Any]:
        remaining = max(0.0, self.outage_until - now) if self.outage_until else 0.0
        return {**self.spec, "outage_remaining_seconds": round(remaining, 3)}


@dataclass(frozen=True)
class FaultDecision:
    """What to do to one request: extra latency and at most one action."""

    latency_seconds: float = 0.0
    action: str | None = None  # None | "outage" | "error" | "timeout" | "malformed"
    status: int = 200
    hold_seconds: float = 0.0
    malformed_kind: str = "truncated"
    retry_after: int | None = None


def _number(spec: Mapping[str, Any], key: str, default: float, *, low: float = 0.0, high: float | None = None) -> float:
    value = spec.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FaultSpecError(f"{key} must be a number.")
    if value < low or (high is not None and value > high):
        raise FaultSpecError(f"{key} must be between {low} and {high}." if high is not None else f"{key} must be >= {low}.")
    return float(value)


def parse_fault(spec: Any, *, now: float | None = None) -> Fault:
    """Validate one spec and turn it into an active ``Fault``; raises ``FaultSpecError`` with a clear message."""
    if not isinstance(spec, Mapping):
        raise FaultSpecError("A fault spec must be a JSON object.")
    unknown = set(spec) - _KNOWN_KEYS
    if unknown:
        raise FaultSpecError(f"Unknown fault spec keys: {sorted(unknown)}; known: {sorted(_KNOWN_KEYS)}.")
    endpoint = spec.get("endpoint", "*")
    if endpoint != "*" and endpoint not in ENDPOINTS:
        raise FaultSpecError(f"endpoint must be '*' or one of {list(ENDPOINTS)}, got {endpoint!r}.")
    rates = {key: _number(spec, key, 0.0, high=1.0) for key in _RATES}
    if sum(rates.values()) > 1.0 + 1e-9:
        raise FaultSpecError("error_rate + timeout_rate + malformed_rate must not exceed 1.")
    status = spec.get("error_status", 503)
    if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599:
        raise FaultSpecError("error_status must be an HTTP status between 400 and 599.")
    kind = spec.get("malformed_kind", "alternate")
    if kind not in MALFORMED_KINDS:
        raise FaultSpecError(f"malformed_kind must be one of {list(MALFORMED_KINDS)}.")
    seed = spec.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise FaultSpecError("seed must be an integer.")
    outage = _number(spec, "outage_seconds", 0.0)
    now = time.monotonic() if now is None else now
    return Fault(endpoint=endpoint, latency_ms=_number(spec, "latency_ms", 0.0), error_status=status,
                 timeout_seconds=_number(spec, "timeout_seconds", 30.0), outage_until=now + outage if outage else None,
                 malformed_kind=kind, seed=seed, spec=dict(spec), rng=random.Random(seed), **rates)


def parse_faults(specs: Any) -> list[Fault]:
    """One spec or a list of specs (as in ``SANDBOX_FAULTS``)."""
    items: Iterable[Any] = specs if isinstance(specs, list) else [specs]
    return [parse_fault(spec) for spec in items]


def _pick(fault: Fault) -> str | None:
    draw = fault.rng.random()
    threshold = 0.0
    for action, rate in (("error", fault.error_rate), ("timeout", fault.timeout_rate),
                         ("malformed", fault.malformed_rate)):
        threshold += rate
        if draw < threshold:
            return action
    return None


def _malformed_kind(fault: Fault) -> str:
    fault.malformed_count += 1
    if fault.malformed_kind != "alternate":
        return fault.malformed_kind
    return "truncated" if fault.malformed_count % 2 else "wrong-shape"


def decide(faults: Iterable[Fault], endpoint: str, *, now: float | None = None) -> FaultDecision:
    """Decide the fault for one request (mutates the specs' random streams: call under the state lock)."""
    now = time.monotonic() if now is None else now
    matching = [f for f in faults if f.matches(endpoint)]
    latency = sum(f.latency_ms for f in matching) / 1000.0
    for fault in matching:
        if fault.outage_until and now < fault.outage_until:
            return FaultDecision(latency, "outage", 503, retry_after=max(1, int(fault.outage_until - now + 0.999)))
    picks = [(fault, _pick(fault)) for fault in matching]  # every spec draws, so each stream stays predictable
    for fault, action in picks:
        if action == "error":
            return FaultDecision(latency, "error", fault.error_status)
        if action == "timeout":
            return FaultDecision(latency, "timeout", 200, hold_seconds=fault.timeout_seconds)
        if action == "malformed":
            return FaultDecision(latency, "malformed", 200, malformed_kind=_malformed_kind(fault))
    return FaultDecision(latency)


def malformed_body(body: bytes, kind: str) -> bytes:
    """A broken version of a JSON answer: cut in the middle, or valid JSON of the wrong shape."""
    if kind == "wrong-shape":
        return b'{"unexpected": true, "items": "not-a-list", "resourceType": 42}'
    return body[: max(1, len(body) // 2)] if len(body) > 1 else b"{"

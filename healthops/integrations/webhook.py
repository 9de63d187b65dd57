"""Partner webhooks: each event is POSTed as a structured CloudEvent, signed with the subscription's secret.

Signature: `X-HealthOps-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` over the exact bytes sent,
so a receiver verifies it before parsing, and rejects old timestamps to stop replays. One attempt per outbox run: the
outbox retries with backoff. Each subscription has its own circuit, so one partner's broken endpoint stops only its
own deliveries."""

import hashlib
import hmac
import json
import time
from dataclasses import replace

from .client import IntegrationClient, Policy, Result

SIGNATURE_HEADER = "X-HealthOps-Signature"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, *, tolerance_seconds: int = 300, now: float | None = None) -> bool:
    """What a receiver does (also used by our tests): check the signature and that the timestamp is recent."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs((now or time.time()) - timestamp) > tolerance_seconds:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


class WebhookClient(IntegrationClient):
    def __init__(self, subscription, **kwargs):
        self.system = f"webhook-{subscription.pk}"[:32]
        self.subscription = subscription
        kwargs.setdefault("policy", replace(Policy.from_settings(), max_attempts=1))
        super().__init__(subscription.url, **kwargs)

    def send_event(self, envelope: dict) -> Result:
        body = json.dumps(envelope).encode()  # the same bytes IntegrationClient.request sends
        headers = {SIGNATURE_HEADER: sign(self.subscription.secret, int(time.time()), body),
                   "ce-id": envelope["id"], "ce-type": envelope["type"], "ce-source": envelope["source"]}
        return self.request("send-event", "POST", "", body=envelope, idempotency_key=envelope["id"],
                            subject=envelope.get("subject", ""), headers=headers,
                            content_type="application/cloudevents+json", url=self.subscription.url)

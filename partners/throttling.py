"""A token bucket per partner client, kept in the database so every web process shares it (429 + Retry-After)."""

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.throttling import BaseThrottle

from .auth import partner_client
from .models import RateLimitBucket


def take_token(client, now=None) -> float:
    """Take one request from the client's bucket. Returns 0 when allowed, else the seconds until one is free."""
    now = now or timezone.now()
    rate = client.rate_per_minute / 60.0
    try:
        with transaction.atomic():
            RateLimitBucket.objects.get_or_create(client=client, defaults={"tokens": float(client.burst),
                                                                           "updated_at": now})
    except IntegrityError:
        pass  # created by a concurrent request
    with transaction.atomic():
        # Lock the bucket: two requests of one client must not both take its last token.
        bucket = RateLimitBucket.objects.select_for_update().get(client=client)
        elapsed = max(0.0, (now - bucket.updated_at).total_seconds())
        tokens = min(float(client.burst), bucket.tokens + elapsed * rate)
        if tokens >= 1:
            bucket.tokens, bucket.updated_at = tokens - 1, now
            bucket.save(update_fields=["tokens", "updated_at"])
            return 0.0
        return (1 - tokens) / rate if rate > 0 else 3600.0


class PartnerRateThrottle(BaseThrottle):
    def allow_request(self, request, view) -> bool:
        client = partner_client(request)
        if client is None:
            return True  # sessions are people at a browser; tokens are what gets rate limited
        self._wait = take_token(client)
        return self._wait == 0

    def wait(self):
        return max(1.0, self._wait)

"""A rate limit per partner client, kept in the database so every web process shares it (429 + Retry-After).

It is GCRA, the token bucket written as one timestamp: the bucket's "theoretical arrival time" moves one emission
interval (60 s / rate_per_minute) into the future with each request, and a request is allowed while that time is at
most `burst - 1` intervals ahead of now. Taking a request is then a single conditional UPDATE: no transaction holds
the client's row across round trips, so a partner's concurrent requests queue on it only for one statement."""

from datetime import timedelta

from django.db import IntegrityError, models, transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone
from rest_framework.throttling import BaseThrottle

from .auth import partner_client
from .models import RateLimitBucket

BLOCKED_SECONDS = 3600.0  # Retry-After for a client whose rate is 0 or whose burst is 0


def take_token(client, now=None) -> float:
    """Take one request from the client's allowance. Returns 0 when allowed, else the seconds until one is free."""
    now = now or timezone.now()
    if client.rate_per_minute <= 0 or client.burst <= 0:
        return BLOCKED_SECONDS
    interval = timedelta(seconds=60.0 / client.rate_per_minute)
    ahead = interval * (client.burst - 1)
    taken = RateLimitBucket.objects.filter(client=client, tat__lte=now + ahead).update(
        tat=Greatest(F("tat"), Value(now, output_field=models.DateTimeField())) + interval)
    if taken:
        return 0.0
    tat = RateLimitBucket.objects.filter(client=client).values_list("tat", flat=True).first()
    if tat is not None:
        return max((tat - ahead - now).total_seconds(), 0.001)
    try:
        with transaction.atomic():
            RateLimitBucket.objects.create(client=client, tat=now + interval)  # the client's first request
        return 0.0
    except IntegrityError:  # a concurrent first request created it: take from it
        return take_token(client, now)


class PartnerRateThrottle(BaseThrottle):
    def allow_request(self, request, view) -> bool:
        client = partner_client(request)
        if client is None:
            return True  # sessions are people at a browser; tokens are what gets rate limited
        self._wait = take_token(client)
        return self._wait == 0

    def wait(self):
        return max(1.0, self._wait)

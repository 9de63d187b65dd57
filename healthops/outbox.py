"""Outbox delivery: every event owed to a subscriber is delivered at least once, in order per subject.

Rows are claimed with a short lease (`SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL, so several workers never take
the same row); the HTTP call runs outside any transaction; a worker that dies mid-batch leaves its rows to be
claimed again when the lease runs out. Consumers dedupe on (source, id).
"""

import logging
import random
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from .integrations.client import Result
from .models import Delivery, Subscription

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=90)
D = Delivery.Status


def request_delivery() -> None:
    """Enqueue a delivery run soon (coalesced: at most one request per process every two seconds)."""
    if cache.add("healthops-outbox-kick", 1, timeout=2):
        from django_q.tasks import async_task

        async_task("healthops.outbox.deliver_pending", q_options={"task_name": "outbox delivery"})


def _claim(batch: int, now: datetime, seen=()) -> list[int]:
    with transaction.atomic():
        due = (Delivery.objects.filter(status=D.PENDING, next_attempt_at__lte=now, subscription__active=True)
               .exclude(pk__in=seen).order_by("event_id"))
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True, of=("self",))
        ids = list(due.values_list("pk", flat=True)[:batch])
        Delivery.objects.filter(pk__in=ids).update(next_attempt_at=now + LEASE)
    return ids


def _owed_before(deliveries: list[Delivery]) -> dict[tuple[int, str], list[tuple[int, int]]]:
    """In order per subject: for each (subscriber, subject) of the claimed rows, the (event id, row id) of every row
    still owed with an event earlier than the last claimed one. One query for the claim."""
    if not deliveries:
        return {}
    keys = Q()
    for key in {(d.subscription_id, d.subject) for d in deliveries}:
        keys |= Q(subscription_id=key[0], subject=key[1])
    owed: dict[tuple[int, str], list[tuple[int, int]]] = {}
    for sub_id, subject, event_id, pk in Delivery.objects.filter(
        keys, status=D.PENDING, event_id__lt=max(d.event_id for d in deliveries)
    ).values_list("subscription_id", "subject", "event_id", "pk"):
        owed.setdefault((sub_id, subject), []).append((event_id, pk))
    return owed


def _earlier_undelivered(delivery: Delivery, owed: dict, settled: set[int]) -> bool:
    """An earlier event for the same subscriber and subject is still owed (not delivered or given up in this run)."""
    return any(event_id < delivery.event_id and pk not in settled
               for event_id, pk in owed.get((delivery.subscription_id, delivery.subject), ()))


CLAIM = 20  # rows leased at a time: a run that stops early leaves few rows waiting for their lease to run out


def _run_budget() -> float:
    """Seconds one run may keep claiming: well inside the worker's timeout, after which django-q2 kills the worker
    (and the rows it leased wait out their lease)."""
    from django_q.conf import Conf

    return (Conf.TIMEOUT or 60) / 3


def deliver_pending(batch: int = 100, now: datetime | None = None) -> dict:
    """Deliver what is due, oldest first: up to `batch` rows, within the run's time budget (then the leases of the
    rows not sent are given back and another run is asked for). Returns counts. Safe to run in several workers at
    once, and twice."""
    counts = {"delivered": 0, "retry": 0, "dead": 0, "waiting": 0}
    deadline = time.monotonic() + _run_budget()
    seen: list[int] = []  # each row once per run, as when the whole batch was claimed at once
    while len(seen) < batch:
        ids = _claim(min(CLAIM, batch - len(seen)), now or timezone.now(), seen)
        seen += ids
        claimed = list(Delivery.objects.select_related("event", "subscription").filter(pk__in=ids).order_by(
            "event_id", "pk"))
        owed, settled = _owed_before(claimed), set()
        for i, delivery in enumerate(claimed):
            if time.monotonic() > deadline:
                Delivery.objects.filter(pk__in=[d.pk for d in claimed[i:]]).update(next_attempt_at=timezone.now())
                transaction.on_commit(request_delivery)
                return _logged(counts)
            if _earlier_undelivered(delivery, owed, settled):
                # Give the lease back: it goes out right after the subject's earlier event does.
                Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
                counts["waiting"] += 1
                continue
            outcome = _settle(delivery, send(delivery))
            if outcome in ("delivered", "dead"):
                settled.add(delivery.pk)
            counts[outcome] += 1
        if len(ids) < CLAIM:
            break
    return _logged(counts)


def _logged(counts: dict) -> dict:
    if counts["delivered"] or counts["retry"] or counts["dead"]:
        log.info("outbox run", extra=counts)
    return counts


def send(delivery: Delivery) -> Result:
    subscription = delivery.subscription
    envelope = delivery.event.as_cloudevent()
    if subscription.system == "erp":
        from .integrations.erp import ErpClient

        return ErpClient(subscription.url or None).send_event(envelope)
    if subscription.system == "webhook":
        from .integrations.webhook import WebhookClient

        return WebhookClient(subscription).send_event(envelope)
    raise ValueError(f"No delivery client for system {subscription.system!r}")


def _settle(delivery: Delivery, result: Result) -> str:
    now = timezone.now()
    if result.ok:
        Delivery.objects.filter(pk=delivery.pk).update(status=D.DELIVERED, delivered_at=now,
                                                       attempts=delivery.attempts + 1, last_error="")
        return "delivered"
    if result.outcome == "circuit-open":
        # Not an attempt: the system is known to be down. Come back when the circuit may half-open.
        wait = timedelta(seconds=settings.INTEGRATIONS["OPEN_SECONDS"])
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=now + wait, last_error=result.error[:500])
        return "retry"
    attempts = delivery.attempts + 1
    if attempts >= settings.OUTBOX_MAX_ATTEMPTS or result.outcome in {"rejected", "malformed"} and attempts >= 3:
        Delivery.objects.filter(pk=delivery.pk).update(status=D.DEAD, attempts=attempts, last_error=result.error[:500])
        log.warning("delivery dead-lettered", extra={"delivery_id": delivery.pk, "attempts": attempts})
        return "dead"
    base = settings.OUTBOX_BACKOFF_SECONDS
    backoff = min(3600.0, base * 2 ** attempts) * random.uniform(0.5, 1.0)
    Delivery.objects.filter(pk=delivery.pk).update(attempts=attempts, next_attempt_at=now + timedelta(seconds=backoff),
                                                   last_error=result.error[:500])
    return "retry"


@transaction.atomic
def replay(*, deliveries, actor) -> int:
    """Put dead (or delivered) deliveries back in the queue, e.g. after fixing a partner's endpoint."""
    from .events import emit

    ids = list(deliveries.values_list("pk", flat=True))
    count = Delivery.objects.filter(pk__in=ids).update(status=D.PENDING, attempts=0, next_attempt_at=timezone.now(),
                                                       last_error="")
    if count:
        emit("delivery.replayed", subject=f"subscription/{deliveries.first().subscription_id}", source="healthops",
             actor=actor, data={"deliveries": ids[:500], "count": count})
        transaction.on_commit(request_delivery)
    return count


def ensure_erp_subscription() -> Subscription:
    sub, _ = Subscription.objects.get_or_create(
        name="ERP", defaults={"system": "erp", "event_types": ["appointment.", "staffing.labor-cost"]})
    return sub

"""`emit()`: record one CloudEvents envelope for a state change, inside the caller's transaction."""

import contextlib
import contextvars
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils import timezone

from .models import Delivery, Event, Subscription

TYPE_PREFIX = "org.healthops."

# In-process reactions, run inside the emitting transaction: how a lower app's change reaches a higher app without
# the lower one importing it (e.g. referrals follows an appointment that scheduling rescheduled).
_subscribers: dict[str, list[Callable[[Event], None]]] = defaultdict(list)


# The active subscriptions, read once per background job delivery (subscriptions_read_once) instead of at every event.
_read_once = contextvars.ContextVar("subscriptions_read_once", default=None)


@contextlib.contextmanager
def subscriptions_read_once():
    """Inside the block, events find the subscriptions active when the first of them was emitted: one query for a
    job's many events. A subscription created meanwhile owes only the events emitted after the block."""
    token = _read_once.set([])
    try:
        yield
    finally:
        _read_once.reset(token)


def _active_subscriptions() -> list[Subscription]:
    memo = _read_once.get()
    if memo is None:
        return list(Subscription.objects.filter(active=True))
    if not memo:
        memo.append(list(Subscription.objects.filter(active=True)))
    return memo[0]


def subscribe(short_type: str):
    """Decorator: call the function with each new event of `short_type` (e.g. "appointment.rescheduled"; "*": all)."""

    def register(handler: Callable[[Event], None]):
        if handler not in _subscribers[short_type]:
            _subscribers[short_type].append(handler)
        return handler

    return register


def emit(
    type: str,
    *,
    subject: str,
    data: dict[str, Any] | None = None,
    source: str,
    actor=None,
    time=None,
) -> Event:
    """Write the event for a change. `type` is the short form (`referral.received`); `source` the component
    (`referrals`). Call it from a service inside its atomic block, so the event exists exactly when the change does.
    `data` holds ids and codes only: minimum necessary PHI."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("emit() must run inside the transaction of the change it records")
    full_type = type if type.startswith(TYPE_PREFIX) else f"{TYPE_PREFIX}{type}.v1"
    event = Event.objects.create(
        source=f"/healthops/{source}",
        type=full_type,
        subject=subject,
        data=data or {},
        time=time or timezone.now(),
        actor=actor if getattr(actor, "pk", None) else None,
    )
    short = event.short_type
    owed = [Delivery(event=event, subscription=sub, subject=subject, next_attempt_at=event.time)
            for sub in _active_subscriptions() if sub.wants(short)]
    if owed:
        Delivery.objects.bulk_create(owed)
        transaction.on_commit(_kick_delivery)
    event.owed = owed  # for the reactions below: what this event owes whom, without asking the database again
    for handler in [*_subscribers.get(short, ()), *_subscribers.get("*", ())]:
        handler(event)
    return event


def _kick_delivery() -> None:
    """Ask the worker to deliver soon; the minute schedule would pick the rows up anyway."""
    from .outbox import request_delivery

    request_delivery()


def events_for(subjects: list[str]):
    return Event.objects.filter(subject__in=subjects).select_related("actor").order_by("time", "sequence")

"""Display helpers for HealthOps pages: relative ages, payer clocks, expiry states and event details."""

import zoneinfo
from datetime import date, datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.formats import date_format

register = template.Library()


@register.filter
def days_ago(value: datetime | date | None) -> str:
    """"today", "1 day ago", "12 days ago" (whole calendar days, in UTC)."""
    if not value:
        return ""
    day = timezone.localdate(value) if isinstance(value, datetime) else value
    days = (timezone.localdate() - day).days
    if days <= 0:
        return "today"
    return "1 day ago" if days == 1 else f"{days} days ago"


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m"


@register.filter
def clock(due: datetime | None) -> dict | None:
    """A payer clock: {"text": "2d 4h left" | "overdue by 5h 10m", "overdue": bool, "soon": bool}."""
    if not due:
        return None
    left = due - timezone.now()
    if left < timedelta(0):
        return {"text": f"overdue by {_span(-left)}", "overdue": True, "soon": False}
    return {"text": f"{_span(left)} left", "overdue": False, "soon": left < timedelta(hours=24)}


@register.filter
def expiry_state(expires_on: date | None) -> str:
    """"expired", "expiring" (within 30 days) or "" for a credential's expiry date."""
    if not expires_on:
        return ""
    days = (expires_on - timezone.localdate()).days
    if days < 0:
        return "expired"
    return "expiring" if days <= 30 else ""


# Event data keys worth showing on a timeline, in this order (ids of linked rows are left out: they are links).
EVENT_KEYS = ("from", "to", "reason", "decision", "decision_code", "status", "outcome", "kind", "channel",
              "priority", "service_type", "site", "urgency", "auth_number", "start", "cancel_reason", "rule", "text",
              "note")


@register.filter
def event_details(data: dict | None, tz: str | None = None) -> list[tuple[str, str]]:
    """(label, value) pairs worth showing from an event's data; ISO timestamps are shown in `tz` (the site's)."""
    if not isinstance(data, dict):
        return []
    return [(key.replace("_", " "), _event_value(data[key], tz)) for key in EVENT_KEYS
            if data.get(key) not in (None, "")]


def _event_value(value, tz: str | None) -> str:
    text = str(value)
    if tz and isinstance(value, str) and len(value) >= 19 and value[4] == "-" and "T" in value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return text
        if moment.tzinfo is not None:
            return date_format(moment.astimezone(zoneinfo.ZoneInfo(tz)), "M j, Y H:i T")
    return text


AUDIT_SKIPPED_FIELDS = {"id", "updated_at", "created_at"}


@register.filter
def audit_changes(entry) -> list[tuple[str, str, str]]:
    """(field, old, new) for an auditlog entry, leaving out bookkeeping fields and fields that stayed empty;
    empty for an access entry."""
    rows = []
    for field, values in (entry.changes_dict or {}).items():
        if field in AUDIT_SKIPPED_FIELDS:
            continue
        if isinstance(values, (list, tuple)) and len(values) == 2:
            old, new = _audit_value(values[0]), _audit_value(values[1])
        else:  # m2m changes are stored as {"type": ..., "objects": [...]}
            old, new = "", _audit_value(values)
        if old or new:
            rows.append((field.replace("_", " "), old, new))
    return rows


def _audit_value(value) -> str:
    text = "" if value is None else str(value)
    # auditlog writes "None" for empty values, and "<app.Model>.None" for an empty reverse relation.
    return "" if text == "None" or text.endswith(".None") else text


@register.filter
def actor_name(user) -> str:
    """Who did something: a person's name, or "HealthOps automation" for jobs and automated steps."""
    if user is None:
        return "HealthOps automation"
    return user.get_full_name() or user.username

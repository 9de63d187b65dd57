"""What /healthz reports: the database, the background worker and the external systems' configuration."""

from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

WORKER_STALE_AFTER = timedelta(minutes=3)
SYSTEMS = ("payer", "erp", "workforce", "messaging")


def database_status() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"status": "ok", "vendor": connection.vendor}
    except Exception as exc:  # any driver error means "down" to a health check
        return {"status": "down", "vendor": connection.vendor, "error": exc.__class__.__name__}


def worker_status() -> dict:
    from django_q.models import OrmQ, Success

    from .tasks import heartbeat

    func = f"{heartbeat.__module__}.{heartbeat.__name__}"
    last = Success.objects.filter(func=func).order_by("-stopped").values_list("stopped", flat=True).first()
    queued = OrmQ.objects.count()
    if last is None:
        state = "not-seen"
    elif timezone.now() - last > WORKER_STALE_AFTER:
        state = "stale"
    else:
        state = "ok"
    return {"status": state, "last_heartbeat": last.isoformat() if last else None, "queued_jobs": queued}


def integrations_status() -> dict:
    """Per system: its URL, circuit state and the outcome of the last call; plus the outbox backlog."""
    from .models import CircuitBreaker, Delivery, IntegrationCall

    circuits = {c.system: c for c in CircuitBreaker.objects.all()}
    status = {}
    for name in SYSTEMS:
        circuit = circuits.get(name)
        last = IntegrationCall.objects.filter(system=name).order_by("-at").values("at", "outcome").first()
        status[name] = {
            "url": getattr(settings, f"{name.upper()}_URL"),
            "circuit": circuit.state if circuit else "closed",
            "last_call": {"at": last["at"].isoformat(), "outcome": last["outcome"]} if last else None,
        }
    status["outbox"] = {
        "pending": Delivery.objects.filter(status=Delivery.Status.PENDING).count(),
        "dead": Delivery.objects.filter(status=Delivery.Status.DEAD).count(),
    }
    return status


def health() -> tuple[dict, int]:
    db = database_status()
    body = {"status": "ok" if db["status"] == "ok" else "down", "time": timezone.now().isoformat(), "database": db}
    if db["status"] == "ok":
        body["worker"] = worker_status()
        if body["worker"]["status"] != "ok":
            body["status"] = "degraded"
        body["integrations"] = integrations_status()
        if any(v.get("circuit") == "open" for v in body["integrations"].values()):
            body["status"] = "degraded"
    return body, 200 if db["status"] == "ok" else 503

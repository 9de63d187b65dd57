"""Reads of the dashboards: who may see them, the cached figures, and the cases behind every number (drill-down)."""

from dataclasses import dataclass
from datetime import datetime

from django.core.cache import cache
from django.db.models import QuerySet

from healthops.permissions import ADMIN, MANAGER, roles_of

from . import kpis
from .facts import facts_version
from .kpis import Filters

CACHE_SECONDS = 60
DRILL_LIMIT = 200


def may_view_dashboards(user) -> bool:
    """Managers and admins (network-wide), and site leads (who see their own sites only)."""
    return user.is_authenticated and (user.is_superuser or bool(roles_of(user) & {MANAGER, ADMIN})
                                      or user.has_perm("referrals.can_lead"))


def _cached(name: str, f: Filters, now: datetime, compute):
    # The facts' cursor is in the key: a refresh that folds new events in makes every cached figure stale at once.
    key = f"dashboards:{name}:{facts_version()}:{now:%Y%m%d%H%M}:{f.key()}"
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, CACHE_SECONDS)
    return value


def dashboard_figures(f: Filters, now: datetime) -> dict:
    return _cached("dashboard", f, now, lambda: kpis.dashboard(f, now))


def bottleneck_figures(f: Filters, now: datetime) -> dict:
    return _cached("bottlenecks", f, now, lambda: {"bottlenecks": kpis.bottlenecks(f),
                                                   "process_map": kpis.process_map(f)})


@dataclass
class Drill:
    kind: str  # referrals | tasks | authorizations | appointments | visits
    title: str
    rows: QuerySet
    definition: str = ""

    @property
    def count(self) -> int:
        return self.rows.count()

    def page(self) -> list:
        return list(self.rows[:DRILL_LIMIT])


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


DRILLS = ["booked", "received", "exceptions", "backlog", "authorizations", "appointments", "stage"]


def drill(kpi: str, f: Filters, params, now: datetime) -> Drill | None:
    """The cases behind a figure: the same filters as the figure, narrowed by the params of the link."""
    definition = ""
    if kpi in ("booked", "received"):
        rows = kpis.booked_cases(f) if kpi == "booked" else kpis.received_cases(f)
        title = "Referrals booked in the period" if kpi == "booked" else "Referrals received in the period"
        if params.get("straight_through") == "1":
            rows, title = rows.filter(tasks_created=0), title + ", straight through (no human task)"
        elif params.get("straight_through") == "0":
            rows, title = rows.filter(tasks_created__gt=0), title + ", with at least one human task"
        rows = rows.select_related("referral__patient", "site", "service_type").order_by("-cycle_seconds", "pk")
        return Drill("referrals", title, rows, kpis.DEFINITIONS_BY_KEY["cycle_p50"].definition)
    if kpi in ("exceptions", "backlog"):
        rows = kpis.tasks(f)
        if kpi == "exceptions":
            rows, title = rows.filter(created_at__gte=f.since, created_at__lt=f.until), "Exceptions created in the period"
            definition = kpis.DEFINITIONS_BY_KEY["exception_rate"].definition
        else:
            rows, title = rows.filter(completed_at__isnull=True), "Open tasks (backlog, now)"
            definition = kpis.DEFINITIONS_BY_KEY["backlog"].definition
        if reason := params.get("queue") or params.get("reason"):
            rows, title = rows.filter(task_type=reason), f"{title}: {kpis.QUEUE_LABELS.get(reason, reason)}"
        if params.get("overdue") == "1":
            rows, title = rows.filter(due_at__lt=now, on_hold=False), title + ", past SLA"
        return Drill("tasks", title, rows.select_related("referral__patient", "site").order_by("created_at", "pk"),
                     definition)
    if kpi == "authorizations":
        rows, title = kpis.authorizations(f), "Authorizations submitted in the period"
        if payer := _int(params.get("payer_id")):
            rows = rows.filter(coverage__payer_id=payer)
        if params.get("urgency") in ("standard", "expedited"):
            rows, title = rows.filter(urgency=params["urgency"]), f"{title}, {params['urgency']}"
        if params.get("breached") == "1":
            rows, title = rows.filter(kpis.breached(now)), title + ", past the payer clock"
        rows = rows.select_related("patient", "coverage__payer", "service_type").prefetch_related("referrals")
        return Drill("authorizations", title, rows.order_by("submitted_at", "pk"),
                     kpis.DEFINITIONS_BY_KEY["auth_breach"].definition)
    if kpi == "appointments":
        rows, title = kpis.appointments(f), "Appointments starting in the period"
        if (outcome := params.get("outcome")) in kpis.APPOINTMENT_OUTCOMES:
            rows, title = rows.filter(kpis.APPOINTMENT_OUTCOMES[outcome]), f"{title}: {outcome}"
        if site := _int(params.get("at_site")):
            rows = rows.filter(site_id=site)
        rows = rows.select_related("patient", "site", "service_type").prefetch_related("referrals")
        return Drill("appointments", title, rows.order_by("start", "pk"),
                     kpis.DEFINITIONS_BY_KEY["appointment_rates"].definition)
    if kpi == "stage":
        rows, title = kpis.stage_visits(f), "Stage stays that ended in the period"
        if stage := params.get("stage"):
            rows, title = rows.filter(stage=stage), f"{title}: {kpis.STAGE_LABELS.get(stage, stage)}"
        if (nxt := params.get("next")) is not None and nxt != "":
            rows, title = rows.filter(next_stage=nxt), f"{title} → {kpis.STAGE_LABELS.get(nxt, nxt)}"
        if site := _int(params.get("at_site")):
            rows = rows.filter(site_id=site)
        rows = rows.select_related("referral__patient", "site").order_by("-seconds", "pk")
        return Drill("visits", title, rows, kpis.DEFINITIONS_BY_KEY["bottleneck"].definition)
    return None

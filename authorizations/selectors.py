"""Reads for authorization pages. An authorization is visible where one of its referrals is, or, for a user
with network-wide scope, everywhere."""

from django.db.models import Case, F, IntegerField, QuerySet, Value, When

from healthops.permissions import site_ids_for

from .models import Authorization


def authorizations_visible_to(user) -> QuerySet[Authorization]:
    authorizations = Authorization.objects.select_related("patient", "coverage__payer", "service_type")
    site_ids = site_ids_for(user)
    if site_ids is None:
        return authorizations
    # Reverse relation from referrals (no import): authorizations reached through a referral at the user's sites. A
    # subquery rather than a join with DISTINCT: the list orders by expressions, which PostgreSQL refuses next to
    # DISTINCT when their parameters are bound by the server.
    return authorizations.filter(pk__in=Authorization.objects.filter(referrals__site_id__in=site_ids).values("pk"))


def authorization_list(*, user, filters: dict) -> QuerySet[Authorization]:
    authorizations = authorizations_visible_to(user)
    if status := filters.get("status"):
        authorizations = authorizations.filter(status=status)
    if payer := filters.get("payer"):
        authorizations = authorizations.filter(coverage__payer=payer)
    if urgency := filters.get("urgency"):
        authorizations = authorizations.filter(urgency=urgency)
    # Work first: decisions still awaited, soonest payer deadline first; then drafts; then decided ones, newest first.
    awaited = [Authorization.Status.SUBMITTED, Authorization.Status.PENDED]
    group = Case(When(status__in=awaited, then=Value(0)), When(status=Authorization.Status.DRAFT, then=Value(1)),
                 default=Value(2), output_field=IntegerField())
    deadline = Case(When(status__in=awaited, then=F("due_at")), default=None)
    # The referrals' sites come along so times can be shown in the site's time zone (no import of referrals).
    return authorizations.prefetch_related("referrals__site").order_by(
        group, deadline.asc(nulls_last=True), "-created_at", "-pk")


def payer_scorecard(*, since=None, until=None, now=None) -> list[dict]:
    """Per payer and urgency, over authorizations submitted in [since, until): count, % approved, % denied,
    % approved after appeal, average and median decision time (hours), % that breached the payer clock."""
    from statistics import mean, median

    from django.utils import timezone

    now = now or timezone.now()
    auths = Authorization.objects.filter(submitted_at__isnull=False)
    if since:
        auths = auths.filter(submitted_at__gte=since)
    if until:
        auths = auths.filter(submitted_at__lt=until)
    rows = auths.values("pk", "coverage__payer__name", "coverage__payer__identifier", "urgency", "status",
                        "submitted_at", "decided_at", "due_at")
    overturned = set(Authorization.objects.filter(appeals__outcome="overturned").values_list("pk", flat=True))
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["coverage__payer__name"], row["coverage__payer__identifier"], row["urgency"]), []).append(row)
    card = []
    for (name, identifier, urgency), items in sorted(groups.items()):
        n = len(items)
        hours = [(r["decided_at"] - r["submitted_at"]).total_seconds() / 3600 for r in items if r["decided_at"]]
        breached = sum(1 for r in items if r["due_at"] and ((r["decided_at"] or now) > r["due_at"]))
        card.append({
            "payer": name, "payer_identifier": identifier, "urgency": urgency, "count": n,
            "approved_pct": round(100 * sum(r["status"] in ("approved", "partial") for r in items) / n, 1),
            "denied_pct": round(100 * sum(r["status"] == "denied" for r in items) / n, 1),
            "approved_after_appeal_pct": round(100 * sum(r["pk"] in overturned for r in items) / n, 1),
            "avg_decision_hours": round(mean(hours), 1) if hours else None,
            "median_decision_hours": round(median(hours), 1) if hours else None,
            "breached_pct": round(100 * breached / n, 1),
            "undecided": sum(1 for r in items if not r["decided_at"]),
        })
    return card

"""Staffing writes: roster imports (workforce pull, CSV), labor cost to the ERP, credential and overtime alerts."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from healthops.errors import DomainError
from healthops.events import emit
from healthops.models import Department, Event, Site

from . import selectors
from .models import Credential, LaborCostPublication, RosterImport, Shift, StaffingSettings, StaffMember


@dataclass(frozen=True)
class RosterRow:
    number: int  # 1-based position in the file or answer, for messages
    external_id: str
    staff_external_id: str
    site_code: str
    department_code: str
    start: datetime
    end: datetime


def _aware(value, what: str) -> datetime:
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{what} is not an ISO 8601 date-time ({value!r})") from None
    if moment.tzinfo is None:
        raise ValueError(f"{what} has no UTC offset ({value!r})")
    return moment.astimezone(UTC)


def roster_rows_parse(rows: list[dict]) -> list[RosterRow]:
    """Read roster rows, or refuse them all with every bad row named: a roster is imported whole or not at all."""
    parsed, problems = [], []
    for number, row in enumerate(rows, start=1):
        number = row.get("_line", number) if isinstance(row, dict) else number  # CSV: the line in the file
        try:
            missing = [k for k in ("staff_external_id", "site_code") if not str(row.get(k) or "").strip()]
            if missing:
                raise ValueError(f"{', '.join(missing)} missing")
            start, end = _aware(row.get("start"), "start"), _aware(row.get("end"), "end")
            if end <= start:
                raise ValueError("end is not after start")
            if end - start > timedelta(hours=24):
                raise ValueError("a shift cannot last more than 24 hours")
            staff_ext = str(row["staff_external_id"]).strip()
            # Without the workforce system's id, the staff member and start time identify a shift.
            ext = str(row.get("id") or "").strip() or f"{staff_ext}@{start:%Y-%m-%dT%H:%MZ}"
            parsed.append(RosterRow(number, ext[:64], staff_ext, str(row["site_code"]).strip(),
                                    str(row.get("department_code") or "").strip(), start, end))
        except (ValueError, TypeError, AttributeError) as exc:
            problems.append(f"{'line' if isinstance(row, dict) and '_line' in row else 'row'} {number}: {exc}")
    if problems:
        raise DomainError("Nothing was imported. Fix these rows and try again: " + "; ".join(problems),
                          code="bad-roster-rows")
    return parsed


def _describe(member: StaffMember, site: Site, start: datetime, end: datetime, dept: str = "") -> str:
    tz = site.tz
    where = f"{site.code}/{dept}" if dept else site.code
    return f"{member.display_name} · {where} · {start.astimezone(tz):%a %b %-d %H:%M}–{end.astimezone(tz):%H:%M}"


def _in_period(moment: datetime, site: Site, period_start: date, period_end: date) -> bool:
    return period_start <= moment.astimezone(site.tz).date() <= period_end


@transaction.atomic
def roster_import(*, rows: list[dict], source: str, period_start: date, period_end: date, actor) -> RosterImport:
    """Make the shifts of `source` starting in [period_start, period_end] (site-local dates) match `rows`.

    Rows match existing shifts by external id. Returns the import with its diff (added / changed / removed) and
    conflicts: rows that cannot be placed (unknown staff or site, outside the period, a second shift at the same
    start) are skipped; overlaps and missing or expired credentials are imported and flagged. Running the same rows
    again changes nothing."""
    if source not in Shift.Source.values or source == Shift.Source.MANUAL:
        raise DomainError(f"Roster imports come from the workforce system or a CSV file, not {source!r}.")
    if period_end < period_start:
        raise DomainError("The import period ends before it starts.")
    parsed = roster_rows_parse(rows)
    window = (datetime.combine(period_start - timedelta(days=2), time(0), tzinfo=UTC),
              datetime.combine(period_end + timedelta(days=2), time(0), tzinfo=UTC))
    staff = {m.external_id: m for m in StaffMember.objects.filter(external_id__in={r.staff_external_id for r in parsed})
             .prefetch_related("credentials__kind")}
    sites = {s.code: s for s in Site.objects.filter(code__in={r.site_code for r in parsed})}
    departments = {(d.site_id, d.code): d for d in Department.objects.filter(site__in=sites.values())}
    # Lock this source's shifts in the period: two imports at once must not both add the same shift.
    existing = {s.external_id: s for s in Shift.objects.select_for_update(of=("self",))
                .filter(source=source, start__gte=window[0], start__lt=window[1]).select_related("site", "staff")
                if _in_period(s.start, s.site, period_start, period_end)}

    conflicts: list[dict] = []

    def conflict(kind: str, row: RosterRow | None, text: str) -> None:
        conflicts.append({"kind": kind, "row": row.number if row else None, "id": row.external_id if row else "",
                          "text": text})

    incoming: dict[str, tuple[RosterRow, StaffMember, Site, Department | None]] = {}
    for row in parsed:
        member, site = staff.get(row.staff_external_id), sites.get(row.site_code)
        if member is None:
            conflict("unknown-staff", row, f"Unknown staff member {row.staff_external_id!r}: shift skipped.")
            continue
        if site is None:
            conflict("unknown-site", row, f"Unknown site {row.site_code!r}: shift skipped.")
            continue
        if not _in_period(row.start, site, period_start, period_end):
            conflict("outside-period", row, f"{_describe(member, site, row.start, row.end)} starts outside "
                                            f"{period_start}–{period_end}: skipped.")
            continue
        if row.external_id in incoming:
            conflict("duplicate-id", row, f"Shift id {row.external_id!r} appears twice: the second is skipped.")
            continue
        dept = departments.get((site.pk, row.department_code))
        if row.department_code and dept is None:
            conflict("unknown-department", row, f"Unknown department {row.department_code!r} at {site.code}: "
                                                "imported without a department.")
        incoming[row.external_id] = (row, member, site, dept)

    # Shifts that stay as they are (other sources, other periods) next to the incoming ones.
    staying = [s for s in Shift.objects.filter(staff__in={m.pk for _, m, _, _ in incoming.values()},
                                               start__lt=window[1], end__gt=window[0]).select_related("site", "staff")
               if not (s.source == source and s.external_id in existing)]
    taken = {(s.staff_id, s.start) for s in staying}
    placed = defaultdict(list)  # staff id -> [(start, end, label)]
    for s in staying:
        placed[s.staff_id].append((s.start, s.end, _describe(s.staff, s.site, s.start, s.end)))
    for ext, (row, member, site, _dept) in list(incoming.items()):
        if (member.pk, row.start) in taken:
            conflict("same-start", row, f"{_describe(member, site, row.start, row.end)}: {member.display_name} "
                                        "already has a shift starting then: skipped.")
            del incoming[ext]
            continue
        taken.add((member.pk, row.start))
        placed[member.pk].append((row.start, row.end, _describe(member, site, row.start, row.end)))
    for intervals in placed.values():
        intervals.sort()
        for (_, e1, a), (s2, _, b) in zip(intervals, intervals[1:], strict=False):
            if s2 < e1:
                conflict("overlap", None, f"Overlapping shifts: {a} and {b}.")

    credential_gaps: dict[tuple[int, str], list[date]] = defaultdict(list)
    for row, member, site, _ in incoming.values():
        day = row.start.astimezone(site.tz).date()
        creds = list(member.credentials.all())
        if not creds:
            credential_gaps[(member.pk, "no credential on file")].append(day)
        for c in creds:
            if c.expires_on < day:
                credential_gaps[(member.pk, f"{c.kind.name} expired on {c.expires_on:%b %-d, %Y}")].append(day)
    by_pk = {m.pk: m for m in staff.values()}
    for (member_pk, what), days in credential_gaps.items():
        conflict("missing-credential", None, f"{by_pk[member_pk].display_name}: {what}, yet rostered for "
                                             f"{len(days)} shift{'s' if len(days) != 1 else ''} from {min(days):%b %-d}.")

    diff, added, changed = [], [], []
    for ext, (row, member, site, dept) in incoming.items():
        text = _describe(member, site, row.start, row.end, dept.code if dept else "")
        current = existing.get(ext)
        if current is None:
            added.append(Shift(staff=member, site=site, department=dept, start=row.start, end=row.end, source=source,
                               external_id=ext))
            diff.append({"op": "added", "id": ext, "text": text})
            continue
        new = {"staff_id": member.pk, "site_id": site.pk, "department_id": dept.pk if dept else None,
               "start": row.start, "end": row.end}
        if any(getattr(current, k) != v for k, v in new.items()):
            before = _describe(current.staff, current.site, current.start, current.end)
            for k, v in new.items():
                setattr(current, k, v)
            changed.append(current)
            diff.append({"op": "changed", "id": ext, "text": f"{before} → {text}"})
    removed = [s for ext, s in existing.items() if ext not in incoming]
    diff += [{"op": "removed", "id": s.external_id, "text": _describe(s.staff, s.site, s.start, s.end)}
             for s in removed]

    Shift.objects.filter(pk__in=[s.pk for s in removed]).delete()
    for s in changed:
        s.save(update_fields=["staff", "site", "department", "start", "end"])
    Shift.objects.bulk_create(added)
    record = RosterImport.objects.create(
        source=source, period_start=period_start, period_end=period_end, added=len(added), changed=len(changed),
        removed=len(removed), unchanged=len(incoming) - len(added) - len(changed), conflict_count=len(conflicts),
        diff=diff, conflicts=conflicts, created_by=actor if getattr(actor, "pk", None) else None,
    )
    emit("staffing.roster-imported", subject=f"roster-import/{record.pk}", source="staffing", actor=actor,
         data={"roster_import_id": record.pk, "source": source, "period_start": period_start.isoformat(),
               "period_end": period_end.isoformat(), "added": record.added, "changed": record.changed,
               "removed": record.removed, "conflicts": record.conflict_count})
    return record


def roster_pull(*, start: date, end: date, actor) -> RosterImport:
    """Ask the workforce system for the roster (outside any transaction), then import it."""
    from healthops.integrations.workforce import WorkforceClient

    if transaction.get_connection().in_atomic_block:
        raise RuntimeError("roster_pull calls the workforce system and must not run inside a transaction")
    result = WorkforceClient().roster(start=start, end=end)
    if not result.ok:
        raise DomainError(f"The workforce system did not give a roster ({result.error or result.outcome}); "
                          "nothing was changed. Try again later or upload a CSV.", code="workforce-unavailable")
    if not result.body and Shift.objects.filter(source=Shift.Source.WORKFORCE, start__date__gte=start,
                                                start__date__lte=end).exists():
        # An empty answer is far likelier a fault on their side than every shift cancelled: keep ours.
        raise DomainError("The workforce system returned no shifts for a period where we have some; nothing was "
                          "removed. Check the workforce system.", code="workforce-empty")
    return roster_import(rows=result.body, source=Shift.Source.WORKFORCE, period_start=start, period_end=end,
                         actor=actor)


@transaction.atomic
def labor_cost_publish(*, week_start: date, actor) -> list[LaborCostPublication]:
    """Send each cost centre's labor cost for the week (shift hours x hourly cost) to the ERP as a
    `staffing.labor-cost` event. The same figures again send nothing; a changed figure goes out as the next revision."""
    week_start = selectors.monday(week_start)
    figures = selectors.labor_cost_week(week_start=week_start)
    # Lock the week's publications: two runs at once must not both publish revision n+1.
    latest: dict[str, LaborCostPublication] = {}
    for pub in LaborCostPublication.objects.select_for_update().filter(week_start=week_start).order_by("revision"):
        latest[pub.cost_centre] = pub
    now = timezone.now()
    published = []
    for centre in sorted(set(figures) | set(latest)):
        fig = figures.get(centre) or selectors.LaborCost(centre, Decimal("0.00"), Decimal("0.00"), 0)
        last = latest.get(centre)
        if last and (last.hours, last.amount, last.shift_count) == (fig.hours, fig.amount, fig.shifts):
            continue
        revision = last.revision + 1 if last else 1
        event = emit("staffing.labor-cost", subject=f"labor-cost/{centre}/{week_start.isoformat()}", source="staffing",
                     actor=actor, data={"cost_centre": centre, "week_start": week_start.isoformat(),
                                        "week_end": (week_start + timedelta(days=6)).isoformat(),
                                        "hours": str(fig.hours), "amount": str(fig.amount), "currency": "USD",
                                        "shifts": fig.shifts, "revision": revision})
        published.append(LaborCostPublication.objects.create(
            cost_centre=centre, week_start=week_start, revision=revision, hours=fig.hours, amount=fig.amount,
            shift_count=fig.shifts, event=event, published_at=now))
    return published


def _already_alerted(type_: str, subject: str, key: str, value: str) -> bool:
    return any(e.data.get(key) == value for e in Event.objects.filter(type=f"org.healthops.{type_}.v1",
                                                                       subject=subject).only("data"))


@transaction.atomic
def credential_expiry_alerts(*, within_days: int | None = None, actor, today: date | None = None) -> int:
    """One `staffing.credential-expiring` event per credential and expiry date, `within_days` ahead (default: the
    staffing settings). A renewed credential (new expiry date) is alerted again when its time comes."""
    today = today or timezone.localdate()
    within = StaffingSettings.current().credential_alert_days if within_days is None else within_days
    count = 0
    for c in Credential.objects.filter(expires_on__lte=today + timedelta(days=within), expires_on__gte=today,
                                       staff__active=True).select_related("kind"):
        subject = f"credential/{c.pk}"
        if _already_alerted("staffing.credential-expiring", subject, "expires_on", c.expires_on.isoformat()):
            continue
        emit("staffing.credential-expiring", subject=subject, source="staffing", actor=actor,
             data={"credential_id": c.pk, "staff_id": c.staff_id, "kind": c.kind.code,
                   "expires_on": c.expires_on.isoformat(), "days_left": (c.expires_on - today).days})
        count += 1
    return count


@transaction.atomic
def overtime_alerts(*, week_start: date, actor) -> int:
    """Before a week starts: one `staffing.overtime-risk` event per staff member over the weekly-hours threshold or
    with too little rest between shifts, once per staff member and week."""
    week_start = selectors.monday(week_start)
    count = 0
    for row in selectors.roster_week(site_ids=None, week_start=week_start).rows:
        if not (row.overtime or row.rest_violations):
            continue
        subject = f"staff/{row.member.pk}"
        if _already_alerted("staffing.overtime-risk", subject, "week_start", week_start.isoformat()):
            continue
        emit("staffing.overtime-risk", subject=subject, source="staffing", actor=actor,
             data={"staff_id": row.member.pk, "week_start": week_start.isoformat(),
                   "projected_hours": str(row.projected_hours), "threshold_hours": str(row.threshold),
                   "rest_violations": len(row.rest_violations)})
        count += 1
    return count


def roster_period(rows: list[dict]) -> tuple[date, date]:
    """The first and last day the rows' shifts start on, as written (in each row's own UTC offset)."""
    days = [datetime.fromisoformat(str(r["start"]).strip().replace("Z", "+00:00")).date() for r in rows]
    return min(days), max(days)

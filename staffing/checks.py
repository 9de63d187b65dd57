"""Staffing checks a booking screen can call before it books: warnings in words, never a write.

Scheduling's slot search already offers only staff on shift with a valid required credential; these checks cover
manual bookings and overrides, and say why a choice is risky (outside a shift, overtime, too little rest).
"""

from datetime import UTC, datetime, timedelta

from healthops.models import Site

from .demand import booked_minutes, staff_booked_intervals
from .models import Shift, StaffingSettings, StaffMember
from .selectors import _day_bounds, _hours, _merge, _minutes, monday, roster_week


def credential_problem(*, staff_member: StaffMember, service_type, day) -> str | None:
    """Why `staff_member` may not deliver `service_type` on `day` for want of a credential, or None."""
    kind_id = getattr(service_type, "required_credential_id", None)
    if not kind_id:
        return None
    held = [c for c in staff_member.credentials.all() if c.kind_id == kind_id]
    if not held:
        return f"{staff_member.display_name} holds no {service_type.required_credential.name} credential, which " \
               f"{service_type.name} requires."
    if all(c.expires_on < day for c in held):
        last = max(c.expires_on for c in held)
        return f"{staff_member.display_name}'s {service_type.required_credential.name} credential expired on " \
               f"{last:%b %-d, %Y}, before {day:%b %-d, %Y}."
    return None


def booking_staff_problems(*, staff_member: StaffMember, service_type, start: datetime, end: datetime,
                           site: Site | None = None) -> list[str]:
    """Warnings for booking `staff_member` for `service_type` in [start, end): a missing or expired credential, time
    outside the staff member's shifts, projected weekly hours over the threshold, and less rest than the minimum
    between this work and the work before or after it. Empty when nothing is wrong."""
    config = StaffingSettings.current()
    shifts = list(Shift.objects.filter(staff=staff_member, start__lt=end + timedelta(days=2),
                                       end__gt=start - timedelta(days=2)).select_related("site"))
    tz = site.tz if site else next((s.site.tz for s in shifts if s.start <= start < s.end), UTC)
    day = start.astimezone(tz).date()
    problems = []
    if credential := credential_problem(staff_member=staff_member, service_type=service_type, day=day):
        problems.append(credential)
    covering = [s for s in shifts if s.start <= start and end <= s.end and (site is None or s.site_id == site.pk)]
    if not covering:
        problems.append(f"{staff_member.display_name} is not rostered {'at ' + site.name + ' ' if site else ''}"
                        f"from {start.astimezone(tz):%a %b %-d %H:%M} to {end.astimezone(tz):%H:%M}.")
    week = roster_week(site_ids=None, week_start=monday(day), staff_ids=[staff_member.pk]).rows
    projected_minutes = (week[0].shift_minutes + week[0].extra_minutes) if week else 0
    inside = _minutes([(max(start, s.start), min(end, s.end)) for s in covering])
    projected = _hours(projected_minutes + _minutes([(start, end)]) - inside)
    if projected > config.weekly_hours_threshold:
        problems.append(f"This would bring {staff_member.display_name} to {projected} h in the week of "
                        f"{monday(day):%b %-d} (threshold {config.weekly_hours_threshold} h).")
    if not covering:
        busy = [(s.start, s.end) for s in shifts] + [
            (s, e) for s, e, _ in staff_booked_intervals(resource_ids=[staff_member.resource_id],
                                                        start=start - timedelta(days=2),
                                                        end=end + timedelta(days=2)).get(staff_member.resource_id, [])]
        blocks = _merge(busy + [(start, end)])
        i = next(i for i, (s, e) in enumerate(blocks) if s <= start and end <= e)
        min_rest = timedelta(hours=float(config.min_rest_hours))
        before = blocks[i][0] - blocks[i - 1][1] if i > 0 else None
        after = blocks[i + 1][0] - blocks[i][1] if i + 1 < len(blocks) else None
        for gap in (before, after):
            if gap is not None and gap < min_rest:
                problems.append(f"Only {_hours(int(gap.total_seconds() // 60))} h rest between this and other work "
                                f"(minimum {config.min_rest_hours} h).")
                break
    return problems


def booking_capacity_problem(*, site: Site, service_type, start: datetime, end: datetime) -> str | None:
    """A warning when booking `service_type` at `site` then would take that day's demand for its staff role beyond
    the rostered capacity (booking it anyway needs an override: healthops.overrides.override_record with rule
    "staffing.capacity"), or None."""
    day = start.astimezone(site.tz).date()
    booked, capacity = role_day_minutes(site=site, day=day, role=service_type.staff_role)
    minutes = int((end - start).total_seconds() // 60)
    if booked + minutes > capacity:
        return (f"Booking this would take {service_type.get_staff_role_display().lower()} time at {site.name} on "
                f"{day:%a %b %-d} to {booked + minutes} min against {capacity} min rostered; it needs an override.")
    return None


def role_day_minutes(*, site: Site, day, role: str) -> tuple[int, int]:
    """(minutes booked, minutes rostered) for a staff role at a site on its local day: the coverage heatmap's line for
    that role and day (staffing.selectors.coverage_week), without the rest of the week."""
    lo, hi = _day_bounds(day, site.tz)
    rostered = sum(int(max(0, (min(e, hi) - max(s, lo)).total_seconds()) // 60)
                   for s, e in Shift.objects.filter(site=site, staff__role=role, start__lt=hi, end__gt=lo)
                   .values_list("start", "end"))
    booked = booked_minutes(site_id=site.pk, start=lo, end=hi, role=role)
    return booked, rostered

"""Display helpers of the work queues: task titles from the flow, days waiting, and the queue's rows as they show."""

import functools
import unicodedata
import zoneinfo
from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.dates import MONTHS_3, WEEKDAYS_ABBR
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator

from healthops.templatetags.healthops_ui import actor_name, clock

register = template.Library()


@functools.cache
def _titles() -> dict[str, str]:
    from referrals.flows import ReferralFlow
    from referrals.steps import TASK_STAGE

    return {name: getattr(ReferralFlow, name).task_title for name in TASK_STAGE}


@register.filter
def task_title(task_type: str) -> str:
    """The human task's title, as its flow node's annotation says it ("Get the missing documents")."""
    return _titles().get(task_type, task_type.replace("_", " ").capitalize())


@register.filter
def days_waiting(since: datetime | None, now: datetime | None = None) -> int | str:
    """Whole days since a moment (the referral's arrival), for the "days waiting" column."""
    if not since:
        return ""
    return max(0, ((now or timezone.now()) - since).days)


@functools.cache
def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def _truncate(text: str, length: int = 110) -> str:
    """As the template's |truncatechars:110, without walking the text when it is short enough anyway."""
    text = unicodedata.normalize("NFC", str(text))
    return text if len(text) <= length else Truncator(text).chars(length)


class QueueRows:
    """The queue's rows as the table shows them, each display value computed once per row in Python: through the
    template's |date, |clock and {% timezone %} per cell the 50 rows cost more than the rest of the page.
    Times are in the site's time zone, formatted as |date:"D M j H:i" would."""

    def __init__(self, *, tab: str, now: datetime | None = None):
        self.tab, self.now = tab, now or timezone.now()
        # The active language's names, resolved once for the page instead of once per cell.
        self.weekdays = [str(WEEKDAYS_ABBR[i]) for i in range(7)]
        self.months = {m: str(MONTHS_3[m]).title() for m in range(1, 13)}

    def site_time(self, value: datetime | None, time_zone: str) -> str:
        if not value:
            return ""
        local = value.astimezone(_zone(time_zone))
        return (f"{self.weekdays[local.weekday()]} {self.months[local.month]} {local.day} "
                f"{local.hour:02d}:{local.minute:02d}")

    def row(self, item) -> dict:
        referral, patient, done = item.referral, item.referral.patient, self.tab == "done"
        tz, sla = referral.site.time_zone, getattr(item, "sla_state", "")
        row = {
            "task_id": item.task_id, "referral_id": item.referral_id,
            "sla_class": f"sla-{sla}" if sla and not done and not item.held_since else "",
            "patient": patient and f"{patient.family_name}, {patient.given_name}", "mrn": patient and patient.mrn,
            "service": referral.service_type.name if referral.service_type else None,
            "requested_code": referral.requested_code, "site": referral.site.name,
            "title": task_title(item.task_type), "priority": item.priority,
            "priority_label": item.get_priority_display(),
            "escalated": bool(item.escalated_at and not item.completed_at),
            "payer_late": getattr(item, "payer_late", False), "auth_expiring": getattr(item, "auth_expiring", False),
            "text": _truncate(item.outcome if done else item.reason),
            "days": days_waiting(referral.received_at, self.now),
            "held": bool(item.held_since) and not done,
        }
        if done:
            row |= {"when": self.site_time(item.completed_at, tz), "person": actor_name(item.completed_by)}
        else:
            owner = item.task.owner
            row["person"] = actor_name(owner) if owner else None
            if row["held"]:
                row["hold_until"] = self.site_time(item.hold_until, tz)
            else:
                due = clock(item.due_at)
                row |= {"when": self.site_time(item.due_at, tz), "clock": due["text"] if due else "",
                        "due_class": {"overdue": "flag-bad", "soon": "flag-warn"}.get(sla, "")}
        return row


@register.simple_tag(takes_context=True)
def queue_rows(context, rows: list[dict]) -> SafeString:
    """The queue table's rows. Rendered in Python, as the filter selects are: through the template engine the 50 rows'
    ~1,500 nodes cost more than the rest of the page's template. The markup is the table's, cell for cell."""
    tab, back, csrf = context["tab"], context["back"], context.get("csrf_token")
    select = context["lead"] and tab != "done"
    return mark_safe("".join(f"\n        {_row_html(row, tab=tab, select=select, back=back, csrf=csrf)}\n      "
                             for row in rows))


def _row_html(row: dict, *, tab: str, select: bool, back: str, csrf) -> SafeString:
    checkbox = format_html('<td><input type="checkbox" name="tasks" value="{}" form="bulk" aria-label="Select R-{}">'
                           "</td>", row["task_id"], row["referral_id"]) if select else ""
    patient = (format_html('{}<span class="sub mono">{}</span>', row["patient"], row["mrn"]) if row["patient"]
               else mark_safe('<span class="muted">Not matched yet</span>'))
    service = (format_html("{}", row["service"]) if row["service"]
               else format_html('<span class="muted">Unknown code</span> <code>{}</code>', row["requested_code"]))
    flags = "".join([
        '<span class="pill bad">Escalated</span>' if row["escalated"] else "",
        "\n              ",
        "<span class=\"pill warn\" title=\"The payer's decision clock has run out\">Payer clock overdue</span>"
        if row["payer_late"] else "",
        "\n              ",
        '<span class="pill warn" title="The approved authorization ends within 14 days">Auth expiring</span>'
        if row["auth_expiring"] else "",
    ])
    if tab == "done":
        when = format_html("{}\n            ", row["when"])
    elif row["held"]:
        when = format_html('<span class="flag-warn">On hold</span><span class="sub">until {}</span>\n            ',
                           row["hold_until"] or "a document arrives")
    else:
        when = format_html('<span class="{}">{}</span>\n              <span class="sub">{}</span>', row["due_class"],
                           row["when"], row["clock"])
    person = format_html("{}", row["person"]) if row["person"] else mark_safe('<span class="muted">Unassigned</span>')
    # As {% csrf_token %} renders it, once for the page rather than once per row.
    token = (format_html('<input type="hidden" name="csrfmiddlewaretoken" value="{}">', csrf)
             if csrf and csrf != "NOTPROVIDED" else "")
    claim = format_html('<form method="post" action="{}">{}<input type="hidden" name="next" value="{}"><button '
                        'class="btn small" type="submit">Claim</button></form>', row["claim_url"], token, back
                        ) if tab == "team" else ""
    release = format_html('<form method="post" action="{}">{}<input type="hidden" name="next" value="{}"><button '
                          'class="btn small secondary" type="submit">Release</button></form>', row["release_url"],
                          token, back) if tab == "mine" else ""
    return format_html(
        '<tr data-task="{}" class="{}">\n'
        "          {}\n"
        '          <td class="patient">{}\n'
        '            <span class="sub"><a href="{}">R-{}</a></span></td>\n'
        '          <td>{}<span class="sub">{}</span></td>\n'
        '          <td><a href="{}"><strong>{}</strong></a>\n'
        '            <span class="sub"><span class="pill priority-{}">{}</span>\n'
        "              {}</span></td>\n"
        '          <td class="reason">{}</td>\n'
        '          <td class="num">{}</td>\n'
        '          <td class="nowrap">\n'
        "            {}\n"
        "          </td>\n"
        "          <td>{}</td>\n"
        '          <td class="row-actions">\n'
        "            {}\n"
        "            {}\n"
        '            <a class="btn small secondary" href="{}">Open</a>\n'
        "          </td>\n"
        "        </tr>",
        row["task_id"], row["sla_class"], checkbox, patient, row["referral_url"], row["referral_id"], service,
        row["site"], row["task_url"], row["title"], row["priority"], row["priority_label"], mark_safe(flags),
        row["text"], row["days"], when, person, claim, release, row["task_url"])

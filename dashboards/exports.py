"""Exports: CSV for every dashboard table, and the event log as OCEL 2.0 JSON for process-mining tools."""

import csv
import io
import json
from datetime import datetime

from django.db.models import Q

from healthops.models import Event
from referrals.models import ReferralAppointment, ReferralAuthorization
from scheduling.models import Appointment

from . import kpis
from .facts import short
from .kpis import Filters

TASK_TYPES = ("task.created", "task.assigned", "task.released", "task.held", "task.resumed", "task.escalated",
              "task.completed")


def csv_text(rows: list[dict]) -> str:
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (json.dumps(v) if isinstance(v, dict | list) else v) for k, v in row.items()})
    return out.getvalue()


def table_rows(name: str, f: Filters, now: datetime, figures: dict, bottlenecks: dict) -> list[dict] | None:
    """The rows of one dashboard table, as shown on the page."""
    if name == "tiles":
        return [{k: v for k, v in t.items() if k != "drill_params"} for t in figures["tiles"]]
    if name in ("cycle_trend", "backlog", "exceptions", "payer_clocks", "utilization", "access", "overtime_risk"):
        return figures[name]
    if name in ("bottlenecks", "process_map"):
        return bottlenecks[name]
    return None


def drill_rows(d) -> list[dict]:
    """The drill-down list as flat rows (all of them, not just the page)."""
    if d.kind == "referrals":
        return [{"referral": f"R-{r.referral_id}", "site": r.site.name if r.site else "",
                 "service": r.service_type.name if r.service_type else "", "received_at": r.received_at.isoformat(),
                 "booked_at": r.booked_at.isoformat() if r.booked_at else "",
                 "cycle_hours": kpis.hours(r.cycle_seconds), "worked_hours": kpis.hours(r.worked_seconds),
                 "waiting_hours": kpis.hours(r.waiting_seconds), "tasks": r.tasks_created,
                 "manual_touches": r.manual_touches, "stage": r.stage} for r in d.rows.iterator()]
    if d.kind == "tasks":
        return [{"task_id": w.task_id, "referral": f"R-{w.referral_id}", "queue": w.task_type,
                 "created_at": w.created_at.isoformat(), "due_at": w.due_at.isoformat(),
                 "completed_at": w.completed_at.isoformat() if w.completed_at else "", "reason": w.reason}
                for w in d.rows.iterator()]
    if d.kind == "authorizations":
        return [{"authorization_id": a.pk, "payer": a.coverage.payer.name, "urgency": a.urgency, "status": a.status,
                 "submitted_at": a.submitted_at.isoformat(), "due_at": a.due_at.isoformat() if a.due_at else "",
                 "decided_at": a.decided_at.isoformat() if a.decided_at else ""} for a in d.rows]
    if d.kind == "appointments":
        return [{"appointment_id": a.pk, "site": a.site.name, "service": a.service_type.name,
                 "start": a.start.isoformat(), "status": a.status, "cancel_reason": a.cancel_reason}
                for a in d.rows]
    return [{"referral": f"R-{v.referral_id}", "site": v.site.name, "stage": v.stage, "next_stage": v.next_stage,
             "entered_at": v.entered_at.isoformat(), "left_at": v.left_at.isoformat() if v.left_at else "",
             "hours": kpis.hours(v.seconds)} for v in d.rows.iterator()]


# --- OCEL 2.0 -----------------------------------------------------------------------------------------------------

def _ocel_type(value) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    return "string"


def _scalar(value):
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return json.dumps(value)


RELATION_KEYS = {"referral_id": ("referral", "referral"), "appointment_id": ("appointment", "appointment"),
                 "new_appointment_id": ("appointment", "rescheduled to"),
                 "authorization_id": ("authorization", "authorization"), "task_id": ("task", "task")}


def ocel(f: Filters) -> dict:
    """OCEL 2.0 JSON of the referrals received or booked in the period (within the filters), with their appointments,
    authorizations and human tasks, and every event about them."""
    cases = kpis.facts(f).filter(Q(received_at__gte=f.since, received_at__lt=f.until)
                                 | Q(booked_at__gte=f.since, booked_at__lt=f.until))
    referrals = {r["referral_id"]: r for r in cases.values("referral_id", "site__code", "service_type__code",
                                                            "priority", "received_at", "stage")}
    # Subqueries, not id lists: a long period holds more referrals than PostgreSQL binds parameters (65,535).
    case_ids = cases.values("referral_id")
    links_a = list(ReferralAppointment.objects.filter(referral_id__in=case_ids)
                   .values_list("appointment_id", "referral_id"))
    links_z = list(ReferralAuthorization.objects.filter(referral_id__in=case_ids)
                   .values_list("authorization_id", "referral_id", "authorization__coverage__payer__identifier",
                                "authorization__urgency", "authorization__status", "authorization__created_at"))
    appts = {a["pk"]: a for a in Appointment.objects.filter(referral_link__referral_id__in=case_ids)
             .values("pk", "site__code", "service_type__code", "status", "created_at")}
    subjects = ([f"referral/{pk}" for pk in referrals] + [f"appointment/{pk}" for pk in appts]
                + [f"authorization/{z[0]}" for z in links_z])
    objects: dict[str, dict] = {}

    def obj(oid, type_, attrs, time, rels=()):
        objects[oid] = {"id": oid, "type": type_, "attributes": [
            {"name": k, "value": _scalar(v), "time": time.isoformat()} for k, v in attrs.items()],
            "relationships": [{"objectId": o, "qualifier": q} for o, q in rels]}

    for pk, r in referrals.items():
        obj(f"referral/{pk}", "referral", {"site": r["site__code"], "service_type": r["service_type__code"] or "",
                                           "priority": r["priority"], "stage": r["stage"]}, r["received_at"])
    for apk, rpk in links_a:
        a = appts[apk]
        obj(f"appointment/{apk}", "appointment", {"site": a["site__code"], "service_type": a["service_type__code"],
                                                  "status": a["status"]}, a["created_at"], [(f"referral/{rpk}", "for")])
    for zpk, rpk, payer, urgency, status, created in links_z:
        obj(f"authorization/{zpk}", "authorization", {"payer": payer, "urgency": urgency, "status": status}, created,
            [(f"referral/{rpk}", "for")])

    events = []
    for i in range(0, len(subjects), 1000):
        chunk = subjects[i:i + 1000]
        events += list(Event.objects.filter(subject__in=chunk).values("id", "type", "subject", "time", "data"))
    events.sort(key=lambda e: (e["time"], str(e["id"])))
    out_events = []
    for e in events:
        kind, data = short(e["type"]), e["data"] or {}
        rels = [(e["subject"], e["subject"].split("/", 1)[0])]
        if kind in TASK_TYPES and data.get("task_id") is not None:
            tid = f"task/{data['task_id']}"
            if tid not in objects:
                obj(tid, "task", {"task_type": data.get("task_type", "")}, e["time"], [(e["subject"], "for")])
        for key, (type_, qualifier) in RELATION_KEYS.items():
            if data.get(key) is not None:
                oid = f"{type_}/{data[key]}"
                if oid in objects and all(oid != o for o, _ in rels):
                    rels.append((oid, qualifier))
        out_events.append({
            "id": str(e["id"]), "type": kind, "time": e["time"].isoformat(),
            "attributes": [{"name": k, "value": _scalar(v)} for k, v in sorted(data.items())
                           if k not in RELATION_KEYS],
            "relationships": [{"objectId": o, "qualifier": q} for o, q in rels]})

    def types(items, key_attrs):
        found: dict[str, dict[str, str]] = {}
        for item in items:
            attrs = found.setdefault(item["type"], {})
            for a in item[key_attrs]:
                attrs.setdefault(a["name"], _ocel_type(a["value"]) if a["value"] is not None else "string")
        return [{"name": n, "attributes": [{"name": k, "type": t} for k, t in sorted(a.items())]}
                for n, a in sorted(found.items())]

    object_list = list(objects.values())
    object_types = {t["name"]: t for t in types(object_list, "attributes")}
    for name in ("appointment", "authorization", "referral", "task"):
        object_types.setdefault(name, {"name": name, "attributes": []})
    return {"objectTypes": [object_types[n] for n in sorted(object_types)], "eventTypes": types(out_events, "attributes"),
            "objects": object_list, "events": out_events}

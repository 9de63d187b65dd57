"""Our rows as FHIR R4 resources (plain dicts), and the vocabulary maps between viewflow and FHIR Task."""

from django.conf import settings

SERVICE_SYSTEM = "urn:healthops:service-type"
SITE_SYSTEM = "urn:healthops:site"
MRN_SYSTEM = "urn:healthops:mrn"
STEP_SYSTEM = "urn:healthops:referral-step"

# viewflow task status -> FHIR Task.status
TASK_STATUS = {"NEW": "ready", "ASSIGNED": "accepted", "SCHEDULED": "requested", "STARTED": "in-progress",
               "DONE": "completed", "CANCELED": "cancelled", "ERROR": "failed", "REVIVED": "cancelled"}


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def patient_resource(patient) -> dict:
    resource = {
        "resourceType": "Patient", "id": str(patient.pk),
        "identifier": [{"use": "usual", "system": MRN_SYSTEM, "value": patient.mrn,
                        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}}],
        "name": [{"family": patient.family_name, "given": [patient.given_name]}],
        "gender": patient.sex, "birthDate": patient.birth_date.isoformat(),
    }
    telecom = [{"system": "phone", "value": patient.phone}] if patient.phone else []
    telecom += [{"system": "email", "value": patient.email}] if patient.email else []
    if telecom:
        resource["telecom"] = telecom
    return resource


def coverage_resource(coverage) -> dict:
    resource = {
        "resourceType": "Coverage", "id": str(coverage.pk), "status": coverage.status,
        "subscriberId": coverage.member_id, "beneficiary": {"reference": f"Patient/{coverage.patient_id}"},
        "payor": [{"identifier": {"value": coverage.payer.identifier}, "display": coverage.payer.name}],
        "period": {"start": coverage.period_start.isoformat(),
                   **({"end": coverage.period_end.isoformat()} if coverage.period_end else {})},
        "order": coverage.priority,
    }
    if coverage.plan:
        resource["class"] = [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/coverage-class",
                                                    "code": "plan"}]}, "value": coverage.plan}]
    return resource


KEEP_AS_SENT = ("requester", "performer", "performerType", "encounter", "reasonCode", "reasonReference", "note",
                "supportingInfo", "category", "occurrenceDateTime", "occurrencePeriod", "occurrenceTiming",
                "orderDetail", "quantityQuantity", "quantityRatio", "quantityRange", "bodySite",
                "patientInstruction", "locationReference", "locationCode", "insurance", "extension")


def _service_code(referral, sent: dict) -> dict:
    """The code as the partner sent it (a code in another system, such as X12 service type 3, stays in that system),
    led by our service type's coding when the referral names one of ours."""
    ours = {"system": SERVICE_SYSTEM, "code": referral.requested_code}
    if referral.service_type_id:
        ours.update(code=referral.service_type.code, display=referral.service_type.name)
    code = dict(sent.get("code") or {})
    theirs = [c for c in code.get("coding") or [] if isinstance(c, dict) and c.get("system") not in (None, SERVICE_SYSTEM)]
    if referral.service_type_id or (referral.requested_code and not theirs):
        theirs.insert(0, ours)
    if theirs:
        code["coding"] = theirs
    else:  # named in words only (code.text)
        code.pop("coding", None)
    return code


def service_request_resource(referral) -> dict:
    sent = getattr(getattr(referral, "partner_record", None), "resource", None) or {}
    resource = {key: sent[key] for key in KEEP_AS_SENT if key in sent}
    resource.update({
        "resourceType": "ServiceRequest", "id": str(referral.pk), "status": referral.status, "intent": "order",
        "priority": referral.priority, "code": _service_code(referral, sent),
        "authoredOn": _iso(referral.received_at), "meta": {"lastUpdated": _iso(referral.updated_at)},
    })
    if referral.patient_id:
        resource["subject"] = {"reference": f"Patient/{referral.patient_id}"}
    if referral.external_identifier:
        resource["identifier"] = [{"value": referral.external_identifier}]
    if referral.coverage_id:
        resource["insurance"] = [{"reference": f"Coverage/{referral.coverage_id}"}]
    resource["extension"] = [*resource.get("extension", []), {
        "url": "urn:healthops:referral-stage", "valueCode": referral.stage}]
    return resource


def slot_resource(candidate, service_type, site) -> dict:
    return {
        "resourceType": "Slot", "id": candidate.token, "status": "free",
        "schedule": {"reference": f"Schedule/{site.code}.{service_type.code}", "display": f"{service_type.name} at {site.name}"},
        "serviceType": [{"coding": [{"system": SERVICE_SYSTEM, "code": service_type.code, "display": service_type.name}]}],
        "start": candidate.start.isoformat(), "end": candidate.end.isoformat(),
        "extension": [{"url": "urn:healthops:location", "valueReference": {"reference": f"Location/{site.code}",
                                                                            "display": site.name}}],
    }


def appointment_resource(appointment, referral_id: int | None) -> dict:
    resource = {
        "resourceType": "Appointment", "id": str(appointment.pk), "status": appointment.status,
        "serviceType": [{"coding": [{"system": SERVICE_SYSTEM, "code": appointment.service_type.code,
                                     "display": appointment.service_type.name}]}],
        "start": appointment.start.isoformat(), "end": appointment.end.isoformat(),
        "minutesDuration": int((appointment.end - appointment.start).total_seconds() // 60),
        "created": appointment.created_at.date().isoformat(),
        "participant": [
            {"actor": {"reference": f"Patient/{appointment.patient_id}"}, "status": "accepted"},
            {"actor": {"reference": f"Location/{appointment.site.code}", "display": appointment.site.name},
             "status": "accepted"},
        ],
    }
    if referral_id:
        resource["basedOn"] = [{"reference": f"ServiceRequest/{referral_id}"}]
    return resource


def task_resource(task, referral) -> dict:
    step = task.flow_task.name if hasattr(task.flow_task, "name") else str(task.flow_task).rsplit(".", 1)[-1]
    title = str(getattr(task.flow_task, "task_title", "") or step.replace("_", " "))
    resource = {
        "resourceType": "Task", "id": str(task.pk), "status": TASK_STATUS.get(str(task.status), "requested"),
        "intent": "order", "businessStatus": {"coding": [{"system": STEP_SYSTEM, "code": step}], "text": title},
        "focus": {"reference": f"ServiceRequest/{referral.pk}"}, "authoredOn": _iso(task.created),
        "lastModified": _iso(task.finished or task.started or task.assigned or task.created),
    }
    if referral.patient_id:
        resource["for"] = {"reference": f"Patient/{referral.patient_id}"}
    item = getattr(task, "work_item", None) if hasattr(task, "_state") else None
    if item is not None:
        resource["description"] = item.reason
        resource["restriction"] = {"period": {"end": _iso(item.due_at)}}
    return resource


def bundle(resources: list[dict], *, request, total: int | None = None, next_url: str | None = None) -> dict:
    base = request.build_absolute_uri("/fhir/r4/")
    out = {"resourceType": "Bundle", "type": "searchset", "total": len(resources) if total is None else total,
           "link": [{"relation": "self", "url": request.build_absolute_uri()}],
           "entry": [{"fullUrl": f"{base}{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}}
                     for r in resources]}
    if next_url:
        out["link"].append({"relation": "next", "url": next_url})
    return out


def capability_statement(request) -> dict:
    def resource(kind, interactions, params=()):
        return {"type": kind, "interaction": [{"code": i} for i in interactions],
                "searchParam": [{"name": n, "type": t} for n, t in params]}

    return {
        "resourceType": "CapabilityStatement", "status": "active", "date": "2026-01-01", "kind": "instance",
        "software": {"name": "HealthOps"}, "implementation": {"description": "HealthOps partner API",
                                                             "url": request.build_absolute_uri("/fhir/r4/")},
        "fhirVersion": "4.0.1", "format": ["application/fhir+json", "application/json"],
        "rest": [{
            "mode": "server",
            "security": {"description": "OAuth-style bearer token: Authorization: Bearer <token> "
                                        "(create_partner_token); POSTs honour Idempotency-Key."},
            "resource": [
                resource("Patient", ["create"]),
                resource("Coverage", ["create"]),
                resource("ServiceRequest", ["create", "read", "search-type"],
                         [("patient", "reference"), ("status", "token")]),
                resource("Slot", ["search-type"], [("service-type", "token"), ("start", "date"),
                                                  ("location", "reference")]),
                resource("Appointment", ["create", "search-type"], [("based-on", "reference"),
                                                                    ("patient", "reference")]),
                resource("Task", ["search-type"], [("focus", "reference")]),
            ],
        }],
        "publisher": getattr(settings, "HEALTHOPS_PUBLISHER", "HealthOps"),
    }

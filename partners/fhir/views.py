"""FHIR R4 endpoints under /fhir/r4/: one view per operation; validation in fhir.validation, writes in
partners.intake, reads in partners.selectors, rendering in fhir.mapping."""

from datetime import datetime, time, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from healthops.models import Site
from scheduling.models import ServiceType
from scheduling.slots import find_slots

from .. import intake
from ..auth import BearerTokenAuthentication
from ..base import PartnerAPIView
from ..errors import FhirInvalid
from ..models import Scope
from ..selectors import appointments_for, partner_referrals, tasks_for
from . import mapping
from .validation import FhirJSONParser, FhirJSONRenderer, JSONBodyParser, int_id, parse_resource

MAX_COUNT = 200
FHIR_JSON = "application/fhir+json"
RESOURCE = {"type": "object", "additionalProperties": True}
OUTCOME_EXAMPLE = OpenApiExample("OperationOutcome", response_only=True, status_codes=["400", "422"], value={
    "resourceType": "OperationOutcome",
    "issue": [{"severity": "error", "code": "invalid", "diagnostics": "ServiceRequest.status: field required",
               "expression": ["ServiceRequest.status"]}]})


class FhirView(PartnerAPIView):
    authentication_classes = [BearerTokenAuthentication]
    parser_classes = [FhirJSONParser, JSONBodyParser]
    renderer_classes = [FhirJSONRenderer, JSONRenderer]
    token_only = True

    def created(self, resource: dict, status: int = 201) -> Response:
        location = f"/fhir/r4/{resource['resourceType']}/{resource['id']}"
        return Response(resource, status=status, headers={"Location": location} if status == 201 else {
            "Content-Location": location})

    def page(self, request) -> tuple[int, int]:
        raw_count, raw_offset = request.query_params.get("_count", "50"), request.query_params.get("_offset", "0")
        if not (raw_count.isascii() and raw_count.isdigit() and raw_offset.isascii() and raw_offset.isdigit()
                and len(raw_count) <= 6 and len(raw_offset) <= 6):
            raise FhirInvalid("_count and _offset must be whole numbers below 1000000.",
                              issues=[("_count", raw_count[:20]), ("_offset", raw_offset[:20])])
        return min(max(int(raw_count), 1), MAX_COUNT), int(raw_offset)

    def search(self, request, queryset, render) -> Response:
        count, offset = self.page(request)
        total = queryset.count()
        rows = list(queryset[offset: offset + count])
        next_url = None
        if offset + count < total:
            query = request.query_params.copy()
            query["_offset"], query["_count"] = str(offset + count), str(count)
            next_url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
        return Response(mapping.bundle(render(rows), request=request, total=total, next_url=next_url))


def _schema(summary: str, *, write: str | None = None, params=(), example=None, operation_id=None):
    return extend_schema(
        summary=summary, operation_id=operation_id, tags=["FHIR R4"], parameters=list(params),
        request={FHIR_JSON: RESOURCE, "application/json": RESOURCE} if write else None,
        responses={(200, FHIR_JSON): RESOURCE, (201, FHIR_JSON): RESOURCE, (400, FHIR_JSON): RESOURCE,
                   (401, FHIR_JSON): RESOURCE, (403, FHIR_JSON): RESOURCE, (409, FHIR_JSON): RESOURCE,
                   (422, FHIR_JSON): RESOURCE, (429, FHIR_JSON): RESOURCE},
        examples=[*([OpenApiExample(write, value=example, request_only=True)] if write else []), OUTCOME_EXAMPLE],
    )


IDEMPOTENCY = OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False,
                               description="Same key and body: the first response, no second effect.")


class CapabilityStatementView(FhirView):
    permission_classes = []
    authentication_classes = []
    throttle_classes = []

    @_schema("The server's CapabilityStatement")
    def get(self, request):
        return Response(mapping.capability_statement(request))


class PatientCreateView(FhirView):
    required_scopes = {"POST": Scope.REFERRALS_WRITE}

    @_schema("Create or match a Patient (by MRN identifier and birth date)", write="Patient", params=[IDEMPOTENCY],
             example={"resourceType": "Patient", "identifier": [{"type": {"coding": [
                 {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}, "value": "MRN-1001"}],
                 "name": [{"family": "Rivera", "given": ["Ana"]}], "gender": "female", "birthDate": "1980-04-02"})
    def post(self, request):
        def handler():
            resource = parse_resource(request.data, "Patient")
            patient, created = intake.fhir_patient_create_or_match(client=self.client, resource=resource)
            return self.created(mapping.patient_resource(patient), status=201 if created else 200)

        return self.idempotent(handler)


class CoverageCreateView(FhirView):
    required_scopes = {"POST": Scope.REFERRALS_WRITE}

    @_schema("Create a Coverage for a patient (payer named by identifier)", write="Coverage", params=[IDEMPOTENCY],
             example={"resourceType": "Coverage", "status": "active", "subscriberId": "TEST-ACTIVE-1",
                      "beneficiary": {"reference": "Patient/1"}, "payor": [{"identifier": {"value": "ACME"}}],
                      "period": {"start": "2026-01-01"}})
    def post(self, request):
        def handler():
            resource = parse_resource(request.data, "Coverage")
            coverage, created = intake.fhir_coverage_create(client=self.client, resource=resource)
            return self.created(mapping.coverage_resource(coverage), status=201 if created else 200)

        return self.idempotent(handler)


class ServiceRequestListCreateView(FhirView):
    required_scopes = {"POST": Scope.REFERRALS_WRITE, "GET": Scope.REFERRALS_READ}

    @_schema("Create a referral from a ServiceRequest (starts the ReferralFlow)", write="ServiceRequest",
             params=[IDEMPOTENCY], example={
                 "resourceType": "ServiceRequest", "status": "active", "intent": "order", "priority": "routine",
                 "identifier": [{"value": "PARTNER-REF-1"}], "subject": {"reference": "Patient/1"},
                 "code": {"coding": [{"code": "derm-consult"}]}, "reasonCode": [{"text": "Changing mole"}],
                 "requester": {"reference": "Practitioner/abc", "display": "Dr Jones"}})
    def post(self, request):
        def handler():
            resource = parse_resource(request.data, "ServiceRequest")
            # The referral in hand is the answer (no second read): its patient, service type, site, coverage and
            # partner record are the objects intake just used, and its flow starts on the worker after the commit.
            # (With Q_SYNC the flow runs inline; the answer still shows the referral as it was received.)
            referral = intake.fhir_referral_create(client=self.client, resource=resource, raw=request.data)
            return self.created(mapping.service_request_resource(referral))

        return self.idempotent(handler)

    @_schema("Search this partner's ServiceRequests", params=[
        OpenApiParameter("patient", str, description="Patient/<id> or <id>"),
        OpenApiParameter("status", str), OpenApiParameter("_count", int), OpenApiParameter("_offset", int)],
        operation_id="fhir_servicerequest_search")
    def get(self, request):
        referrals = partner_referrals(self.client).order_by("-received_at", "-pk")
        if "patient" in request.query_params:
            raw = request.query_params["patient"]
            referrals = referrals.filter(patient_id=int_id(raw if "/" in raw else f"Patient/{raw}", "Patient") or 0)
        if status := request.query_params.get("status"):
            referrals = referrals.filter(status__in=status.split(","))
        return self.search(request, referrals, lambda rows: [mapping.service_request_resource(r) for r in rows])


class ServiceRequestReadView(FhirView):
    required_scopes = {"GET": Scope.REFERRALS_READ}

    @_schema("Read one of this partner's ServiceRequests", operation_id="fhir_servicerequest_read")
    def get(self, request, pk: int):
        referral = partner_referrals(self.client).filter(pk=pk).first()
        if referral is None:
            raise FhirInvalid(f"ServiceRequest/{pk} is not known.", status=404, code="not-found")
        return Response(mapping.service_request_resource(referral))


SEARCH_HORIZON = timedelta(days=366)


def _bound(raw: str) -> datetime | None:
    """A date or dateTime search value, within a year of today (slot search looks no further)."""
    try:
        value = parse_datetime(raw)
        if value is None and (day := parse_date(raw)):
            value = datetime.combine(day, time.min)
        if value is not None and timezone.is_naive(value):
            value = timezone.make_aware(value, timezone.get_current_timezone())
    except (ValueError, OverflowError):
        return None
    now = timezone.now()
    if value is None or not (now - SEARCH_HORIZON <= value <= now + SEARCH_HORIZON):
        return None
    return value


class SlotSearchView(FhirView):
    required_scopes = {"GET": Scope.SLOTS_READ}

    @_schema("Search free Slots for a service type", params=[
        OpenApiParameter("service-type", str, required=True, description="Our service type code (token)"),
        OpenApiParameter("start", str, many=True, description="ge<date|dateTime> and/or lt<date|dateTime>"),
        OpenApiParameter("location", str, description="Location/<site code> or <site code>"),
        OpenApiParameter("_count", int)])
    def get(self, request):
        code = request.query_params.get("service-type", "").rsplit("|", 1)[-1]
        service_type = ServiceType.objects.filter(code=code, active=True).first() if code else None
        if service_type is None:
            raise FhirInvalid(f"service-type must name a service type code we offer (got {code!r}).",
                              issues=[("service-type", "unknown or missing")])
        start = end = None
        for raw in request.query_params.getlist("start"):
            prefix, value = raw[:2], _bound(raw[2:])
            if prefix not in ("ge", "gt", "lt", "le") or value is None:
                raise FhirInvalid(f"start={raw[:60]!r}: use ge<date> or lt<date> (ISO 8601, within a year of today).",
                                  issues=[("start", raw[:60])])
            if prefix in ("ge", "gt"):
                start = value
            else:
                end = value
        sites = None
        if location := request.query_params.get("location"):
            site = Site.objects.filter(code=location.rsplit("/", 1)[-1], active=True).first()
            if site is None:
                raise FhirInvalid(f"location {location!r} is not a site we know.", issues=[("location", location)])
            sites = [site.pk]
        count, _ = self.page(request)
        found = find_slots(service_type=service_type, start=start, end=end, sites=sites, limit=min(count, 100))
        site_by_id = Site.objects.in_bulk({c.site_id for c in found})
        resources = [mapping.slot_resource(c, service_type, site_by_id[c.site_id]) for c in found]
        return Response(mapping.bundle(resources, request=request))


class AppointmentListCreateView(FhirView):
    required_scopes = {"POST": Scope.APPOINTMENTS_WRITE, "GET": Scope.APPOINTMENTS_READ}

    @_schema("Book an Appointment from a Slot for a ServiceRequest (409 when the slot is taken)",
             write="Appointment", params=[IDEMPOTENCY], example={
                 "resourceType": "Appointment", "status": "booked", "slot": [{"reference": "Slot/<id from search>"}],
                 "basedOn": [{"reference": "ServiceRequest/1"}],
                 "participant": [{"actor": {"reference": "Patient/1"}, "status": "accepted"}]})
    def post(self, request):
        def handler():
            resource = parse_resource(request.data, "Appointment")
            appointment, referral = intake.fhir_appointment_book(client=self.client, resource=resource)
            appointment = appointments_for(client=self.client, user=request.user).get(pk=appointment.pk)
            return self.created(mapping.appointment_resource(appointment, referral.pk))

        return self.idempotent(handler)

    @_schema("Search this partner's Appointments", params=[
        OpenApiParameter("based-on", str, description="ServiceRequest/<id>"),
        OpenApiParameter("patient", str, description="Patient/<id>"), OpenApiParameter("_count", int)])
    def get(self, request):
        appointments = appointments_for(client=self.client, user=request.user).order_by("start", "pk")
        if raw := request.query_params.get("based-on"):
            ref = raw if "/" in raw else f"ServiceRequest/{raw}"
            appointments = appointments.filter(referral_link__referral_id=int_id(ref, "ServiceRequest") or 0)
        if raw := request.query_params.get("patient"):
            appointments = appointments.filter(patient_id=int_id(raw if "/" in raw else f"Patient/{raw}", "Patient") or 0)
        return self.search(request, appointments, lambda rows: [
            mapping.appointment_resource(a, a.referral_link.referral_id) for a in rows])


class TaskSearchView(FhirView):
    required_scopes = {"GET": Scope.REFERRALS_READ}

    @_schema("Search the workflow Tasks of this partner's ServiceRequests", params=[
        OpenApiParameter("focus", str, description="ServiceRequest/<id>"), OpenApiParameter("_count", int)])
    def get(self, request):
        tasks = tasks_for(client=self.client, user=request.user)
        if raw := request.query_params.get("focus"):
            ref = raw if "/" in raw else f"ServiceRequest/{raw}"
            tasks = tasks.filter(process__referralprocess__referral_id=int_id(ref, "ServiceRequest") or 0)
        return self.search(request, tasks, lambda rows: [
            mapping.task_resource(t, t.process.referralprocess.referral) for t in rows])



"""Native JSON under /api/v1/: reference data, the partner's (or the user's) referrals, appointments, authorizations
and tasks, staffing for staff (KPIs: dashboards.api), and webhook registration with its delivery log. One view per operation."""

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers as s
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from authorizations.models import Authorization, Payer, PayerRule
from authorizations.selectors import authorizations_visible_to
from healthops.models import Site
from healthops.permissions import site_ids_for
from scheduling.models import ServiceType
from staffing.models import StaffMember

from .. import services
from ..base import PartnerAPIView
from ..models import Scope
from ..selectors import appointments_for, deliveries_for, referrals_for, tasks_for, webhooks_for
from . import serializers as ser

ERROR = inline_serializer("Error", {"code": s.CharField(), "detail": s.CharField(), "fields": s.DictField()})
ERRORS = {400: ERROR, 401: ERROR, 403: ERROR, 404: ERROR, 422: ERROR, 429: ERROR}


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class ListView(PartnerAPIView):
    """A paginated, filtered, ordered list: `query_class` validates the query string, `rows(query)` builds the
    queryset (all joins in it, so the number of queries does not grow with the page)."""

    query_class = ser.ListQuery
    output_class = None
    ordering_fields: tuple[str, ...] = ("id",)
    default_ordering = "id"

    def rows(self, query: dict):
        raise NotImplementedError

    def get(self, request):
        query = self.query_class(data=request.query_params, context={"ordering_fields": self.ordering_fields})
        query.is_valid(raise_exception=True)
        ordering = query.validated_data.get("ordering", self.default_ordering)
        rows = self.rows(query.validated_data).order_by(ordering, "-pk" if ordering.startswith("-") else "pk")
        paginator = Pagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(self.output_class(page, many=True).data)


def _list_schema(summary, output, query, example):
    return extend_schema(summary=summary, tags=["JSON API"], parameters=[query], responses={200: output(many=True), **ERRORS},
                         examples=[OpenApiExample("page", value=example, response_only=True)])


class SiteListView(ListView):
    output_class = ser.SiteOut
    ordering_fields = ("code", "name")
    default_ordering = "code"

    @_list_schema("Sites that take referrals", ser.SiteOut, ser.ListQuery,
                  {"count": 1, "next": None, "previous": None, "results": [
                      {"code": "north", "name": "North Clinic", "kind": "clinic", "time_zone": "America/Chicago",
                       "address": "", "phone": ""}]})
    def get(self, request):
        return super().get(request)

    def rows(self, query):
        return Site.objects.filter(active=True)


class ServiceTypeListView(ListView):
    output_class = ser.ServiceTypeOut
    ordering_fields = ("code", "name", "duration_minutes")
    default_ordering = "code"

    @_list_schema("Service types a ServiceRequest may name in code.coding[].code", ser.ServiceTypeOut, ser.ListQuery,
                  {"count": 1, "next": None, "previous": None, "results": [
                      {"code": "derm-consult", "name": "Dermatology consult", "specialty": "dermatology",
                       "duration_minutes": 30, "auto_book": True, "capacity": 1, "min_notice_hours": 24,
                       "required_documents": []}]})
    def get(self, request):
        return super().get(request)

    def rows(self, query):
        return ServiceType.objects.filter(active=True).select_related("specialty").prefetch_related("required_documents")


class PayerListView(ListView):
    output_class = ser.PayerOut
    ordering_fields = ("identifier", "name")
    default_ordering = "identifier"

    @_list_schema("Payers (Coverage.payor.identifier) with their rules per service type", ser.PayerOut, ser.ListQuery,
                  {"count": 1, "next": None, "previous": None, "results": [
                      {"identifier": "ACME", "name": "Acme Health", "phone": "", "rules": [
                          {"service_type": "derm-consult", "prior_auth_required": False, "required_documents": []}]}]})
    def get(self, request):
        return super().get(request)

    def rows(self, query):
        rules = PayerRule.objects.select_related("service_type").prefetch_related("required_documents").order_by(
            "service_type__code")
        return Payer.objects.filter(active=True).prefetch_related(Prefetch("rules", queryset=rules))


class ReferralListView(ListView):
    required_scopes = {"GET": Scope.REFERRALS_READ}
    query_class = ser.ReferralQuery
    output_class = ser.ReferralOut
    ordering_fields = ("received_at", "updated_at", "priority", "id")
    default_ordering = "-received_at"

    @_list_schema("Referrals (a partner's own; a user's sites')", ser.ReferralOut, ser.ReferralQuery,
                  {"count": 1, "next": None, "previous": None, "results": [{
                      "id": 12, "status": "active", "stage": "scheduling", "stage_reason": "Looking for a slot",
                      "priority": "routine", "patient": 3, "service_type": "derm-consult", "service_type_known": True,
                      "site": "north", "received_at": "2026-03-01T10:00:00Z", "updated_at": "2026-03-01T10:00:05Z",
                      "external_identifier": "PARTNER-REF-1", "source_channel": "fhir-api",
                      "fhir": "/fhir/r4/ServiceRequest/12"}]})
    def get(self, request):
        return super().get(request)

    def rows(self, query):
        referrals = referrals_for(client=self.client, user=self.request.user)
        for key in ("status", "stage", "priority"):
            if key in query:
                referrals = referrals.filter(**{key: query[key]})
        if "service_type" in query:
            referrals = referrals.filter(requested_code=query["service_type"])
        if "patient" in query:
            referrals = referrals.filter(patient_id=query["patient"])
        return referrals


class ReferralDetailView(PartnerAPIView):
    required_scopes = {"GET": Scope.REFERRALS_READ}

    @extend_schema(summary="One referral", tags=["JSON API"], responses={200: ser.ReferralOut, **ERRORS})
    def get(self, request, pk: int):
        referral = get_object_or_404(referrals_for(client=self.client, user=request.user), pk=pk)
        return Response(ser.ReferralOut(referral).data)


class AppointmentListView(ListView):
    required_scopes = {"GET": Scope.APPOINTMENTS_READ}
    query_class = ser.AppointmentQuery
    output_class = ser.AppointmentOut
    ordering_fields = ("start", "id")
    default_ordering = "start"

    @_list_schema("Appointments of the referrals one may see", ser.AppointmentOut, ser.AppointmentQuery,
                  {"count": 1, "next": None, "previous": None, "results": [{
                      "id": 5, "status": "booked", "referral": 12, "patient": 3, "service_type": "derm-consult",
                      "site": "north", "start": "2026-03-04T15:00:00Z", "end": "2026-03-04T15:30:00Z"}]})
    def get(self, request):
        return super().get(request)

    def rows(self, query):
        appointments = appointments_for(client=self.client, user=self.request.user)
        if "status" in query:
            appointments = appointments.filter(status__in=query["status"].split(","))
        if "referral" in query:
            appointments = appointments.filter(referral_link__referral_id=query["referral"])
        if "start_after" in query:
            appointments = appointments.filter(start__gte=query["start_after"])
        if "start_before" in query:
            appointments = appointments.filter(start__lt=query["start_before"])
        return appointments


class AuthorizationListView(ListView):
    required_scopes = {"GET": Scope.REFERRALS_READ}
    query_class = ser.AuthorizationQuery
    output_class = ser.AuthorizationOut
    ordering_fields = ("created_at", "due_at", "id")
    default_ordering = "-created_at"

    @_list_schema("Prior authorizations of the referrals one may see", ser.AuthorizationOut, ser.AuthorizationQuery,
                  {"count": 1, "next": None, "previous": None, "results": [{
                      "id": 2, "status": "approved", "decision_code": "A1", "urgency": "standard", "payer": "ACME",
                      "service_type": "mri", "auth_number": "AUTH-1", "valid_from": "2026-03-01",
                      "valid_to": "2026-05-30", "units_approved": 1, "units_used": 1,
                      "submitted_at": "2026-03-01T10:00:00Z", "decided_at": "2026-03-01T10:00:01Z",
                      "due_at": "2026-03-08T10:00:00Z"}]})
    def get(self, request):
        return super().get(request)

    def rows(self, query):
        if self.client is not None:
            auths = Authorization.objects.filter(referrals__partner=self.client.organization).distinct()
        else:
            auths = authorizations_visible_to(self.request.user)
        auths = auths.select_related("coverage__payer", "service_type")
        if "status" in query:
            auths = auths.filter(status__in=query["status"].split(","))
        if "payer" in query:
            auths = auths.filter(coverage__payer__identifier=query["payer"])
        return auths.order_by()


class TaskListView(ListView):
    required_scopes = {"GET": Scope.REFERRALS_READ}
    query_class = ser.TaskQuery
    output_class = ser.TaskOut
    ordering_fields = ("created", "id")
    default_ordering = "created"

    @_list_schema("Workflow tasks (queues) of the referrals one may see", ser.TaskOut, ser.TaskQuery,
                  {"count": 1, "next": None, "previous": None, "results": [{
                      "id": 40, "referral": 12, "step": "schedule", "status": "ready",
                      "reason": "This referral needs a person to book it.", "due_at": "2026-03-03T10:00:00+00:00",
                      "created": "2026-03-01T10:00:05Z", "finished": None}]})
    def get(self, request):
        return super().get(request)

    def rows(self, query):
        tasks = tasks_for(client=self.client, user=self.request.user)
        if "referral" in query:
            tasks = tasks.filter(process__referralprocess__referral_id=query["referral"])
        if query.get("open") is True:
            tasks = tasks.filter(finished__isnull=True)
        elif query.get("open") is False:
            tasks = tasks.filter(finished__isnull=False)
        return tasks


class StaffListView(ListView):
    staff_only = True
    staff_permission = "staffing.view_staffmember"
    output_class = ser.StaffOut
    ordering_fields = ("family_name", "id")
    default_ordering = "family_name"

    @_list_schema("Staff members at the user's sites (staff sessions only)", ser.StaffOut, ser.ListQuery,
                  {"count": 1, "next": None, "previous": None, "results": [{
                      "id": 1, "given_name": "Ada", "family_name": "Ng", "role": "physician", "active": True,
                      "sites": ["north"], "specialties": ["dermatology"]}]})
    def get(self, request):
        return super().get(request)

    def rows(self, query):
        staff = StaffMember.objects.prefetch_related("sites", "specialties")
        site_ids = site_ids_for(self.request.user)
        return staff if site_ids is None else staff.filter(pk__in=StaffMember.objects.filter(
            sites__in=site_ids).values("pk"))


class WebhookListCreateView(PartnerAPIView):
    required_scope = Scope.WEBHOOKS_MANAGE
    token_only = True

    @extend_schema(summary="This partner's webhook endpoints", tags=["Webhooks"],
                   responses={200: ser.WebhookOut(many=True), **ERRORS})
    def get(self, request):
        return Response(ser.WebhookOut(webhooks_for(self.client), many=True).data)

    @extend_schema(summary="Register an endpoint for CloudEvents about this partner's referrals", tags=["Webhooks"],
                   request=ser.WebhookIn, responses={201: ser.WebhookCreatedOut, **ERRORS},
                   examples=[OpenApiExample("register", request_only=True, value={
                       "url": "https://partner.example/hooks/healthops", "event_types": ["referral.", "task."]})])
    def post(self, request):
        def handler():
            data = ser.WebhookIn(data=request.data)
            data.is_valid(raise_exception=True)
            subscription = services.webhook_register(client=self.client, actor=self.client.user, **data.validated_data)
            return Response(ser.WebhookCreatedOut(subscription).data, status=201,
                            headers={"Location": f"/api/v1/webhooks/{subscription.pk}"})

        return self.idempotent(handler)


class WebhookDeleteView(PartnerAPIView):
    required_scope = Scope.WEBHOOKS_MANAGE
    token_only = True

    @extend_schema(summary="Stop sending to a webhook endpoint", tags=["Webhooks"], responses={204: None, **ERRORS})
    def delete(self, request, pk: int):
        subscription = get_object_or_404(webhooks_for(self.client), pk=pk)
        services.webhook_deactivate(subscription=subscription, actor=self.client.user)
        return Response(status=204)


class DeliveryListView(ListView):
    required_scope = Scope.WEBHOOKS_MANAGE
    token_only = True
    output_class = ser.DeliveryOut
    ordering_fields = ("id", "event_id")
    default_ordering = "-event_id"

    @_list_schema("The delivery log of this partner's webhooks", ser.DeliveryOut, ser.ListQuery,
                  {"count": 1, "next": None, "previous": None, "results": [{
                      "id": 9, "event_id": "6c1d4a8e-0000-4000-8000-000000000000",
                      "event_type": "org.healthops.referral.received.v1", "subject": "referral/12", "webhook": 3,
                      "status": "delivered", "attempts": 1, "next_attempt_at": "2026-03-01T10:00:00Z",
                      "last_error": "", "delivered_at": "2026-03-01T10:00:01Z"}]})
    def get(self, request):
        return super().get(request)

    def rows(self, query):
        return deliveries_for(self.client)

"""Small input (query) and output serializers of the native JSON API. Shape only; selectors and services do the work."""

from rest_framework import serializers

from healthops.models import Delivery, Site, Subscription
from referrals.models import Referral

MAX_ID = 2**63 - 1  # larger ids cannot exist (and would overflow the database's integer)


class ListQuery(serializers.Serializer):
    """Pagination and ordering every list takes; `ordering` is checked against the view's own list."""

    page = serializers.IntegerField(min_value=1, max_value=10**6, required=False)
    page_size = serializers.IntegerField(min_value=1, max_value=200, required=False)
    ordering = serializers.CharField(required=False)

    def validate_ordering(self, value):
        allowed = self.context["ordering_fields"]
        if value.lstrip("-") not in allowed:
            raise serializers.ValidationError(f"Order by one of: {', '.join(allowed)} (prefix - for descending).")
        return value


class ReferralQuery(ListQuery):
    status = serializers.ChoiceField(Referral.Status.choices, required=False)
    stage = serializers.ChoiceField(Referral.Stage.choices, required=False)
    priority = serializers.ChoiceField(Referral.Priority.choices, required=False)
    service_type = serializers.SlugField(required=False)
    patient = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)


class AppointmentQuery(ListQuery):
    status = serializers.CharField(required=False)
    referral = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    start_after = serializers.DateTimeField(required=False)
    start_before = serializers.DateTimeField(required=False)


class AuthorizationQuery(ListQuery):
    status = serializers.CharField(required=False)
    payer = serializers.CharField(required=False)


class TaskQuery(ListQuery):
    referral = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    open = serializers.BooleanField(required=False, allow_null=True, default=None)


class SiteOut(serializers.ModelSerializer):
    class Meta:
        model = Site
        fields = ["code", "name", "kind", "time_zone", "address", "phone"]


class ServiceTypeOut(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    specialty = serializers.CharField(source="specialty.code")
    duration_minutes = serializers.IntegerField()
    auto_book = serializers.BooleanField()
    capacity = serializers.IntegerField()
    min_notice_hours = serializers.IntegerField()
    required_documents = serializers.SerializerMethodField()

    def get_required_documents(self, obj) -> list[str]:
        return [d.code for d in obj.required_documents.all()]


class PayerRuleOut(serializers.Serializer):
    service_type = serializers.CharField(source="service_type.code")
    prior_auth_required = serializers.BooleanField()
    required_documents = serializers.SerializerMethodField()

    def get_required_documents(self, obj) -> list[str]:
        return [d.code for d in obj.required_documents.all()]


class PayerOut(serializers.Serializer):
    identifier = serializers.CharField()
    name = serializers.CharField()
    phone = serializers.CharField()
    rules = PayerRuleOut(many=True)


class ReferralOut(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    stage = serializers.CharField()
    stage_reason = serializers.CharField()
    priority = serializers.CharField()
    patient = serializers.IntegerField(source="patient_id")
    service_type = serializers.CharField(source="requested_code")
    service_type_known = serializers.SerializerMethodField()
    site = serializers.CharField(source="site.code")
    received_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    external_identifier = serializers.CharField()
    source_channel = serializers.CharField()
    fhir = serializers.SerializerMethodField()

    def get_service_type_known(self, obj) -> bool:
        return obj.service_type_id is not None

    def get_fhir(self, obj) -> str:
        return f"/fhir/r4/ServiceRequest/{obj.pk}"


class AppointmentOut(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    referral = serializers.IntegerField(source="referral_link.referral_id")
    patient = serializers.IntegerField(source="patient_id")
    service_type = serializers.CharField(source="service_type.code")
    site = serializers.CharField(source="site.code")
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()


class AuthorizationOut(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    decision_code = serializers.CharField()
    urgency = serializers.CharField()
    payer = serializers.CharField(source="coverage.payer.identifier")
    service_type = serializers.CharField(source="service_type.code")
    auth_number = serializers.CharField()
    valid_from = serializers.DateField()
    valid_to = serializers.DateField()
    units_approved = serializers.IntegerField()
    units_used = serializers.IntegerField()
    submitted_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField()
    due_at = serializers.DateTimeField()


class TaskOut(serializers.Serializer):
    id = serializers.IntegerField()
    referral = serializers.IntegerField(source="process.referralprocess.referral_id")
    step = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()
    reason = serializers.SerializerMethodField()
    due_at = serializers.SerializerMethodField()
    created = serializers.DateTimeField()
    finished = serializers.DateTimeField()

    def get_step(self, obj) -> str:
        return obj.flow_task.name

    def get_status(self, obj) -> str:
        from ..fhir.mapping import TASK_STATUS

        return TASK_STATUS.get(str(obj.status), "requested")

    def _item(self, obj):
        return getattr(obj, "work_item", None)

    def get_reason(self, obj) -> str:
        item = self._item(obj)
        return item.reason if item else ""

    def get_due_at(self, obj) -> str | None:
        item = self._item(obj)
        return item.due_at.isoformat() if item else None


class StaffOut(serializers.Serializer):
    id = serializers.IntegerField()
    given_name = serializers.CharField()
    family_name = serializers.CharField()
    role = serializers.CharField()
    active = serializers.BooleanField()
    sites = serializers.SerializerMethodField()
    specialties = serializers.SerializerMethodField()

    def get_sites(self, obj) -> list[str]:
        return [s.code for s in obj.sites.all()]

    def get_specialties(self, obj) -> list[str]:
        return [s.code for s in obj.specialties.all()]


class WebhookIn(serializers.Serializer):
    url = serializers.URLField(max_length=200)
    event_types = serializers.ListField(child=serializers.CharField(max_length=80), required=False, max_length=50)


class WebhookOut(serializers.ModelSerializer):
    class Meta:
        model = Subscription
        fields = ["id", "url", "event_types", "active"]


class WebhookCreatedOut(WebhookOut):
    class Meta(WebhookOut.Meta):
        fields = [*WebhookOut.Meta.fields, "secret"]


class DeliveryOut(serializers.ModelSerializer):
    event_id = serializers.UUIDField(source="event.id")
    event_type = serializers.CharField(source="event.type")
    webhook = serializers.IntegerField(source="subscription_id")

    class Meta:
        model = Delivery
        fields = ["id", "event_id", "event_type", "subject", "webhook", "status", "attempts", "next_attempt_at",
                  "last_error", "delivered_at"]

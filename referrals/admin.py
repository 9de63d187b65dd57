from django.contrib import admin

from healthops.admin import ReadOnlyAdmin

from .models import Referral, ReferralAppointment, ReferralAuthorization, ReferralDocument, ReferralProcess, TaskSLA, WorkItem


class ReferralDocumentInline(admin.TabularInline):
    model = ReferralDocument
    extra = 0
    can_delete = False
    readonly_fields = ["kind", "original_name", "content_type", "size", "uploaded_at", "uploaded_by"]
    exclude = ["file"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Referral)
class ReferralAdmin(ReadOnlyAdmin):
    """Referrals move only through their services and flow; the admin shows them for support and audit."""

    list_display = ["__str__", "received_at", "site", "service_type", "priority", "stage", "status", "source_channel",
                    "referring_organization"]
    list_filter = ["stage", "status", "priority", "source_channel", "site", "service_type"]
    search_fields = ["=id", "external_identifier", "patient__mrn", "patient__family_name"]
    date_hierarchy = "received_at"
    list_select_related = ["site", "service_type", "referring_organization"]
    inlines = [ReferralDocumentInline]


@admin.register(ReferralDocument)
class ReferralDocumentAdmin(ReadOnlyAdmin):
    list_display = ["referral", "kind", "original_name", "content_type", "size", "uploaded_at"]
    list_filter = ["kind", "content_type"]
    date_hierarchy = "uploaded_at"


@admin.register(TaskSLA)
class TaskSLAAdmin(admin.ModelAdmin):
    """How long each kind of human task may wait, by priority; overdue tasks go to the leads' queue."""

    list_display = ["task_type", "priority", "hours", "business_days"]
    list_filter = ["task_type", "priority", "business_days"]
    list_editable = ["hours", "business_days"]


@admin.register(WorkItem)
class WorkItemAdmin(ReadOnlyAdmin):
    list_display = ["task_id", "referral", "task_type", "priority", "reason", "due_at", "held_since", "escalated_at",
                    "completed_at", "completed_by"]
    list_filter = ["task_type", "priority", ("completed_at", admin.EmptyFieldListFilter)]
    search_fields = ["=referral__id", "reason"]
    date_hierarchy = "created_at"
    list_select_related = ["referral", "completed_by"]


@admin.register(ReferralProcess)
class ReferralProcessAdmin(ReadOnlyAdmin):
    list_display = ["pk", "referral", "status", "eligibility", "auth_needed", "auth_status", "booked", "created"]
    list_filter = ["status", "eligibility", "auth_status", "booked"]
    search_fields = ["=referral__id"]
    list_select_related = ["referral"]


@admin.register(ReferralAppointment, ReferralAuthorization)
class ReferralLinkAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "referral"]
    search_fields = ["=referral__id"]

from django.contrib import admin

from healthops.admin import ReadOnlyAdmin

from .models import (
    Credential,
    CredentialKind,
    LaborCostPublication,
    RosterImport,
    Shift,
    Specialty,
    StaffingSettings,
    StaffMember,
    TimeOff,
)


@admin.register(Specialty)
class SpecialtyAdmin(admin.ModelAdmin):
    list_display = ["name", "code"]
    search_fields = ["name", "code"]


@admin.register(CredentialKind)
class CredentialKindAdmin(admin.ModelAdmin):
    list_display = ["name", "code"]
    search_fields = ["name", "code"]


class CredentialInline(admin.TabularInline):
    model = Credential
    extra = 0


@admin.register(StaffMember)
class StaffMemberAdmin(admin.ModelAdmin):
    list_display = ["family_name", "given_name", "role", "cost_centre", "hourly_cost", "external_id", "active"]
    list_filter = ["role", "specialties", "sites", "active"]
    search_fields = ["family_name", "given_name", "npi", "external_id"]
    filter_horizontal = ["specialties", "sites"]
    raw_id_fields = ["resource", "user"]
    inlines = [CredentialInline]


@admin.register(Credential)
class CredentialAdmin(admin.ModelAdmin):
    list_display = ["staff", "kind", "number", "expires_on"]
    list_filter = ["kind"]
    search_fields = ["staff__family_name", "number"]
    date_hierarchy = "expires_on"
    list_select_related = ["staff", "kind"]


@admin.register(Shift)
class ShiftAdmin(admin.ModelAdmin):
    list_display = ["staff", "site", "department", "start", "end", "source"]
    list_filter = ["site", "source"]
    search_fields = ["staff__family_name", "external_id"]
    date_hierarchy = "start"
    list_select_related = ["staff", "site", "department"]
    raw_id_fields = ["staff"]


@admin.register(TimeOff)
class TimeOffAdmin(admin.ModelAdmin):
    list_display = ["staff", "start", "end", "reason"]
    search_fields = ["staff__family_name", "reason"]
    date_hierarchy = "start"
    raw_id_fields = ["staff"]


@admin.register(StaffingSettings)
class StaffingSettingsAdmin(admin.ModelAdmin):
    """One row: the thresholds of the overtime, rest and credential checks."""

    list_display = ["__str__", "weekly_hours_threshold", "min_rest_hours", "credential_alert_days"]

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not StaffingSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(RosterImport)
class RosterImportAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "source", "period_start", "period_end", "added", "changed", "removed",
                    "conflict_count", "created_by"]
    list_filter = ["source"]
    date_hierarchy = "created_at"


@admin.register(LaborCostPublication)
class LaborCostPublicationAdmin(ReadOnlyAdmin):
    list_display = ["week_start", "cost_centre", "revision", "hours", "amount", "shift_count", "published_at"]
    list_filter = ["cost_centre"]
    date_hierarchy = "week_start"

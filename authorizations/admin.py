from django.contrib import admin

from healthops.admin import ReadOnlyAdmin

from .models import Appeal, Authorization, Coverage, EligibilityCheck, Payer, PayerRule


class PayerRuleInline(admin.TabularInline):
    model = PayerRule
    extra = 0
    autocomplete_fields = ["service_type"]


@admin.register(Payer)
class PayerAdmin(admin.ModelAdmin):
    list_display = ["name", "identifier", "sandbox_key", "phone", "active"]
    list_filter = ["active"]
    search_fields = ["name", "identifier"]
    inlines = [PayerRuleInline]


@admin.register(PayerRule)
class PayerRuleAdmin(admin.ModelAdmin):
    list_display = ["payer", "service_type", "prior_auth_required", "notes"]
    list_filter = ["payer", "prior_auth_required", "service_type__specialty"]
    search_fields = ["service_type__name", "service_type__code", "payer__name"]
    list_editable = ["prior_auth_required"]
    filter_horizontal = ["required_documents"]
    list_select_related = ["payer", "service_type"]


@admin.register(Coverage)
class CoverageAdmin(admin.ModelAdmin):
    list_display = ["patient", "payer", "member_id", "plan", "period_start", "period_end", "status", "priority"]
    list_filter = ["payer", "status"]
    search_fields = ["member_id", "patient__mrn", "patient__family_name"]
    raw_id_fields = ["patient"]
    list_select_related = ["patient", "payer"]


@admin.register(EligibilityCheck)
class EligibilityCheckAdmin(ReadOnlyAdmin):
    list_display = ["checked_at", "coverage", "outcome", "source", "purpose", "checked_by"]
    list_filter = ["outcome", "source", "purpose", "coverage__payer"]
    search_fields = ["coverage__member_id", "payer_reference"]
    date_hierarchy = "checked_at"
    list_select_related = ["coverage__payer", "checked_by"]


@admin.register(Authorization)
class AuthorizationAdmin(ReadOnlyAdmin):
    list_display = ["pk", "service_type", "coverage", "status", "decision_code", "urgency", "submitted_at", "due_at",
                    "decided_at", "auth_number", "valid_from", "valid_to", "units_approved", "units_used"]
    list_filter = ["status", "decision_code", "urgency", "coverage__payer", "service_type"]
    search_fields = ["auth_number", "payer_tracking_id", "patient__mrn"]
    date_hierarchy = "submitted_at"
    list_select_related = ["service_type", "coverage__payer"]


@admin.register(Appeal)
class AppealAdmin(ReadOnlyAdmin):
    list_display = ["authorization", "submitted_at", "outcome", "decided_at", "submitted_by"]
    list_filter = ["outcome"]
    date_hierarchy = "submitted_at"
    list_select_related = ["authorization", "submitted_by"]

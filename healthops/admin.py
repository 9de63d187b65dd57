"""Rule console: network structure, patients, resources, the event log (read-only) and overrides (read-only)."""

from django.contrib import admin

from .models import (
    CircuitBreaker,
    Delivery,
    Department,
    Event,
    IntegrationCall,
    Organization,
    Override,
    Patient,
    Resource,
    Site,
    Subscription,
    UserProfile,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """For records written only by services: visible, never edited here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "identifier", "phone", "active"]
    list_filter = ["kind", "active"]
    search_fields = ["name", "identifier"]


class DepartmentInline(admin.TabularInline):
    model = Department
    extra = 0


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "kind", "organization", "time_zone", "active"]
    list_filter = ["kind", "time_zone", "active"]
    search_fields = ["name", "code"]
    inlines = [DepartmentInline]


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "site", "cost_centre", "active"]
    list_filter = ["site", "active"]
    search_fields = ["name", "code", "cost_centre"]


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ["mrn", "family_name", "given_name", "birth_date", "sex", "language", "home_site"]
    list_filter = ["sex", "language", "home_site"]
    search_fields = ["mrn", "family_name", "given_name", "email", "phone"]
    list_select_related = ["home_site"]


@admin.register(Resource)
class ResourceAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "site", "active"]
    list_filter = ["kind", "site", "active"]
    search_fields = ["name"]
    list_select_related = ["site"]


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["time", "type", "subject", "source", "actor"]
    list_filter = ["type", "source"]
    search_fields = ["subject", "id"]
    date_hierarchy = "time"
    list_select_related = ["actor"]


@admin.register(Override)
class OverrideAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "rule", "subject", "reason_code", "actor"]
    list_filter = ["rule", "reason_code"]
    search_fields = ["subject", "justification", "actor__username"]
    list_select_related = ["actor"]


@admin.register(UserProfile)
class UserProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "title", "network_wide"]
    list_filter = ["network_wide", "sites"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]
    filter_horizontal = ["sites"]


@admin.register(IntegrationCall)
class IntegrationCallAdmin(ReadOnlyAdmin):
    list_display = ["at", "system", "operation", "outcome", "attempt", "status_code", "latency_ms", "subject", "error"]
    list_filter = ["system", "outcome", "operation"]
    search_fields = ["subject", "idempotency_key", "error"]
    date_hierarchy = "at"


@admin.register(CircuitBreaker)
class CircuitBreakerAdmin(ReadOnlyAdmin):
    list_display = ["system", "state", "consecutive_failures", "opened_at", "changed_at"]


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ["name", "system", "url", "event_types", "partner", "active"]
    list_filter = ["system", "active"]
    search_fields = ["name", "url"]
    exclude = ["secret"]


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ["event_id", "subscription", "subject", "status", "attempts", "next_attempt_at", "delivered_at",
                    "last_error"]
    list_filter = ["status", "subscription"]
    search_fields = ["subject", "last_error"]
    list_select_related = ["subscription"]
    actions = ["replay_selected"]

    @admin.action(description="Replay selected deliveries (send them again)", permissions=["replay"])
    def replay_selected(self, request, queryset):
        from .outbox import replay

        count = replay(deliveries=queryset, actor=request.user)
        self.message_user(request, f"{count} deliveries queued again; the worker sends them within a minute.")

    def has_replay_permission(self, request):
        return request.user.is_superuser or request.user.has_perm("healthops.change_delivery")

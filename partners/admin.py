from django.contrib import admin, messages

from .models import ApiCall, IdempotencyRecord, PartnerClient, PartnerPatient, PartnerReferral, RateLimitBucket, Scope
from .services import partner_client_create, partner_client_revoke


@admin.register(PartnerClient)
class PartnerClientAdmin(admin.ModelAdmin):
    list_display = ["prefix", "name", "organization", "scopes", "expires_at", "revoked_at", "last_used_at"]
    list_filter = ["organization"]
    search_fields = ["prefix", "name", "organization__name", "organization__identifier"]
    readonly_fields = ["prefix", "user", "created_at", "last_used_at", "revoked_at"]
    fields = ["organization", "name", "scopes", "expires_at", "rate_per_minute", "burst", *readonly_fields]
    actions = ["revoke"]

    def get_changeform_initial_data(self, request):
        return {"scopes": list(Scope.values)}

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        # New clients go through the service: the token is shown once, only its hash is stored.
        client, token = partner_client_create(organization=obj.organization, scopes=obj.scopes or [],
                                              actor=request.user, name=obj.name, expires_at=obj.expires_at)
        client.rate_per_minute, client.burst = obj.rate_per_minute, obj.burst
        client.save(update_fields=["rate_per_minute", "burst"])
        obj.pk = client.pk
        obj.__dict__.update({k: getattr(client, k) for k in ("prefix", "token_hash", "user_id", "created_at")})
        messages.warning(request, f"Token for {client.prefix}… (copy it now, it is not shown again): {token}")

    @admin.action(description="Revoke the selected clients' tokens")
    def revoke(self, request, queryset):
        for client in queryset.filter(revoked_at__isnull=True):
            partner_client_revoke(client=client, actor=request.user)


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(admin.ModelAdmin):
    list_display = ["key", "client", "status_code", "created_at"]
    list_filter = ["client"]
    readonly_fields = [f.name for f in IdempotencyRecord._meta.fields]


@admin.register(PartnerReferral)
class PartnerReferralAdmin(admin.ModelAdmin):
    list_display = ["referral", "client", "received_at"]
    raw_id_fields = ["referral"]
    readonly_fields = ["referral", "client", "resource", "received_at"]


admin.site.register(PartnerPatient, list_display=["organization", "patient", "linked_at"], raw_id_fields=["patient"])
admin.site.register(RateLimitBucket, list_display=["client", "tat"])


@admin.register(ApiCall)
class ApiCallAdmin(admin.ModelAdmin):
    """The API audit: who called which endpoint, with what outcome and how fast. Read-only."""

    list_display = ["at", "client", "user", "method", "route", "status", "latency_ms"]
    list_filter = ["status", "method", "client"]
    search_fields = ["route", "client__prefix", "client__organization__name"]
    date_hierarchy = "at"
    list_select_related = ["client", "user"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

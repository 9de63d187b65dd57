from django.contrib import admin

from healthops.admin import ReadOnlyAdmin

from .models import Referral, ReferralDocument


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

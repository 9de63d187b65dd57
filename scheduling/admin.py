from django.contrib import admin

from healthops.admin import ReadOnlyAdmin

from .models import (
    Appointment,
    AvailabilityException,
    BookedResource,
    Booking,
    DocumentKind,
    Equipment,
    EquipmentKind,
    Room,
    RoomKind,
    ServiceType,
    WaitlistEntry,
    WaitlistOffer,
    WeeklyAvailability,
)


@admin.register(RoomKind, EquipmentKind, DocumentKind)
class KindAdmin(admin.ModelAdmin):
    list_display = ["name", "code"]
    search_fields = ["name", "code"]


@admin.register(ServiceType)
class ServiceTypeAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "specialty", "duration_minutes", "staff_role", "room_kind", "capacity", "auto_book",
                    "min_notice_hours", "active"]
    list_filter = ["auto_book", "specialty", "staff_role", "room_kind", "active"]
    search_fields = ["name", "code"]
    filter_horizontal = ["equipment_kinds", "required_documents"]
    list_select_related = ["specialty", "room_kind"]


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ["name", "site", "department", "kind", "active"]
    list_filter = ["site", "kind", "active"]
    search_fields = ["name"]
    raw_id_fields = ["resource"]
    list_select_related = ["site", "department", "kind"]


@admin.register(Equipment)
class EquipmentAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "site", "room", "serial_number", "active"]
    list_filter = ["kind", "site", "active"]
    search_fields = ["name", "serial_number"]
    raw_id_fields = ["resource"]
    list_select_related = ["kind", "site", "room"]


class BookedResourceInline(admin.TabularInline):
    model = BookedResource
    extra = 0
    can_delete = False
    readonly_fields = ["resource", "start", "end", "active"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Booking)
class BookingAdmin(ReadOnlyAdmin):
    list_display = ["start", "end", "service_type", "site", "active"]
    list_filter = ["site", "active", "service_type"]
    date_hierarchy = "start"
    inlines = [BookedResourceInline]
    list_select_related = ["service_type", "site"]


@admin.register(Appointment)
class AppointmentAdmin(ReadOnlyAdmin):
    """Appointments change only through the booking services (holds, events, audit), never by hand here."""

    list_display = ["start", "service_type", "site", "status", "patient", "cancel_reason"]
    list_filter = ["status", "site", "service_type", "cancel_reason"]
    search_fields = ["patient__mrn", "patient__family_name"]
    date_hierarchy = "start"
    list_select_related = ["service_type", "site", "patient"]


@admin.register(BookedResource)
class BookedResourceAdmin(ReadOnlyAdmin):
    list_display = ["resource", "start", "end", "active", "booking"]
    list_filter = ["active", "resource__kind", "resource__site"]
    search_fields = ["resource__name"]
    date_hierarchy = "start"
    list_select_related = ["resource"]




@admin.register(WeeklyAvailability)
class WeeklyAvailabilityAdmin(admin.ModelAdmin):
    list_display = ["resource", "weekday", "start_time", "end_time"]
    list_filter = ["weekday", "resource__kind", "resource__site"]
    search_fields = ["resource__name"]
    list_select_related = ["resource"]
    raw_id_fields = ["resource"]


@admin.register(AvailabilityException)
class AvailabilityExceptionAdmin(admin.ModelAdmin):
    list_display = ["resource", "kind", "start", "end", "reason"]
    list_filter = ["kind", "resource__kind", "resource__site"]
    search_fields = ["resource__name", "reason"]
    date_hierarchy = "start"
    raw_id_fields = ["resource"]


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(ReadOnlyAdmin):
    list_display = ["pk", "service_type", "status", "priority", "time_of_day", "earliest", "latest", "created_at"]
    list_filter = ["status", "service_type", "time_of_day"]
    search_fields = ["patient__mrn"]


@admin.register(WaitlistOffer)
class WaitlistOfferAdmin(ReadOnlyAdmin):
    list_display = ["pk", "entry", "status", "offered_at", "expires_at", "answered_at"]
    list_filter = ["status"]
    date_hierarchy = "offered_at"

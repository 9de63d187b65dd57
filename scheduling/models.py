"""The service catalog, rooms and equipment, and appointments with the resources they hold."""

from django.contrib.postgres.fields import RangeBoundary, RangeOperators
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from healthops.constraints import PortableExclusionConstraint, TsTzRange
from healthops.models import CodedName, Department, Patient, Resource, Site
from staffing.models import CredentialKind, Specialty, StaffMember


class RoomKind(CodedName):
    pass


class EquipmentKind(CodedName):
    pass


class DocumentKind(CodedName):
    pass


class ServiceType(models.Model):
    code = models.SlugField(max_length=40, unique=True, help_text="The code partners send in ServiceRequest.code.")
    name = models.CharField(max_length=200)
    specialty = models.ForeignKey(Specialty, on_delete=models.PROTECT, related_name="service_types")
    duration_minutes = models.PositiveIntegerField()
    staff_role = models.CharField(max_length=32, choices=StaffMember.Role.choices)
    staff_specialty = models.ForeignKey(
        Specialty, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="Specialty the staff member must have (empty: any).",
    )
    required_credential = models.ForeignKey(
        CredentialKind, null=True, blank=True, on_delete=models.PROTECT, related_name="service_types"
    )
    room_kind = models.ForeignKey(RoomKind, null=True, blank=True, on_delete=models.PROTECT, related_name="service_types")
    equipment_kinds = models.ManyToManyField(EquipmentKind, blank=True, related_name="service_types")
    capacity = models.PositiveIntegerField(default=1, help_text="Patients one slot can take.")
    auto_book = models.BooleanField(default=False, help_text="May be booked automatically when a slot fits.")
    min_notice_hours = models.PositiveIntegerField(default=24)
    required_documents = models.ManyToManyField(
        DocumentKind, blank=True, related_name="service_types",
        help_text="Documents a referral must carry before it is complete.",
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(duration_minutes__gt=0), name="service_duration_positive"),
            models.CheckConstraint(condition=Q(capacity__gte=1), name="service_capacity_at_least_one"),
        ]

    def __str__(self) -> str:
        return self.name


class Room(models.Model):
    resource = models.OneToOneField(Resource, on_delete=models.PROTECT, related_name="room")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="rooms")
    department = models.ForeignKey(Department, null=True, blank=True, on_delete=models.SET_NULL, related_name="rooms")
    name = models.CharField(max_length=100)
    kind = models.ForeignKey(RoomKind, on_delete=models.PROTECT, related_name="rooms")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["site__name", "name"]
        constraints = [models.UniqueConstraint(fields=["site", "name"], name="room_name_unique_per_site")]

    def __str__(self) -> str:
        return f"{self.name} ({self.site.code})"


class Equipment(models.Model):
    resource = models.OneToOneField(Resource, on_delete=models.PROTECT, related_name="equipment")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="equipment")
    room = models.ForeignKey(Room, null=True, blank=True, on_delete=models.SET_NULL, related_name="equipment")
    name = models.CharField(max_length=100)
    kind = models.ForeignKey(EquipmentKind, on_delete=models.PROTECT, related_name="items")
    serial_number = models.CharField(max_length=64, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["site__name", "name"]
        verbose_name_plural = "equipment"

    def __str__(self) -> str:
        return f"{self.name} ({self.site.code})"


class Booking(models.Model):
    """One block of time holding a set of resources; one or more appointments (up to the service's capacity) use it."""

    service_type = models.ForeignKey(ServiceType, on_delete=models.PROTECT, related_name="bookings")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="bookings")
    start = models.DateTimeField()
    end = models.DateTimeField()
    active = models.BooleanField(default=True, help_text="False once every appointment using it is released.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["start"]
        indexes = [models.Index(fields=["site", "start"])]
        constraints = [models.CheckConstraint(condition=Q(end__gt=F("start")), name="booking_end_after_start")]

    def __str__(self) -> str:
        return f"{self.service_type} at {self.start:%Y-%m-%d %H:%M}"


def check_no_overlap_in_python(constraint, model, instance, using) -> None:
    """SQLite fallback for the exclusion constraint (best effort: not safe under concurrent writers)."""
    if not instance.active:
        return
    clash = (
        model._default_manager.using(using)
        .filter(resource_id=instance.resource_id, active=True, start__lt=instance.end, end__gt=instance.start)
        .exclude(pk=instance.pk)
    )
    if clash.exists():
        raise ValidationError(constraint.violation_error_message, code="overlap")


class BookedResource(models.Model):
    """A resource held by a booking for a time range. Two active rows for one resource never overlap."""

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="resources")
    resource = models.ForeignKey(Resource, on_delete=models.PROTECT, related_name="bookings")
    start = models.DateTimeField()
    end = models.DateTimeField()
    active = models.BooleanField(default=True)

    class Meta:
        # (resource, end) of active rows: a resource's free time in a window reads the holds ending after the window
        # starts, not every booking the resource ever had.
        indexes = [models.Index(fields=["resource", "start"]),
                   models.Index(fields=["resource", "end"], condition=Q(active=True), name="bookedresource_active_end")]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="bookedresource_end_after_start"),
            PortableExclusionConstraint(
                name="bookedresource_no_overlap",
                expressions=[
                    (TsTzRange("start", "end", RangeBoundary()), RangeOperators.OVERLAPS),
                    ("resource", RangeOperators.EQUAL),
                ],
                condition=Q(active=True),
                violation_error_message="This resource is already booked for an overlapping time.",
                fallback_validator="scheduling.models.check_no_overlap_in_python",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.resource} {self.start:%Y-%m-%d %H:%M}-{self.end:%H:%M}"


class Appointment(models.Model):
    class Status(models.TextChoices):  # FHIR Appointment.status, verbatim
        PROPOSED = "proposed", "Proposed"
        PENDING = "pending", "Pending"
        BOOKED = "booked", "Booked"
        ARRIVED = "arrived", "Arrived"
        FULFILLED = "fulfilled", "Fulfilled"
        CANCELLED = "cancelled", "Cancelled"
        NOSHOW = "noshow", "No-show"
        ENTERED_IN_ERROR = "entered-in-error", "Entered in error"
        CHECKED_IN = "checked-in", "Checked in"
        WAITLIST = "waitlist", "Waitlist"

    class CancelReason(models.TextChoices):
        PATIENT = "patient", "Patient"
        PROVIDER = "provider", "Provider"
        FACILITY = "facility", "Facility"
        PAYER = "payer", "Payer"

    # Statuses in which the appointment holds its resources.
    HOLDING = (Status.PROPOSED, Status.PENDING, Status.BOOKED, Status.ARRIVED, Status.CHECKED_IN, Status.FULFILLED)

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="appointments")
    service_type = models.ForeignKey(ServiceType, on_delete=models.PROTECT, related_name="appointments")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="appointments")
    booking = models.ForeignKey(Booking, null=True, blank=True, on_delete=models.PROTECT, related_name="appointments")
    start = models.DateTimeField()
    end = models.DateTimeField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.BOOKED)
    cancel_reason = models.CharField(max_length=16, choices=CancelReason.choices, blank=True)
    cancel_text = models.CharField(max_length=300, blank=True)
    rescheduled_from = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="rescheduled_to"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["start"]
        indexes = [models.Index(fields=["site", "start"]), models.Index(fields=["status", "start"])]
        constraints = [models.CheckConstraint(condition=Q(end__gt=F("start")), name="appointment_end_after_start")]
        permissions = [("book_outside_template", "Can book outside the availability templates, with a reason")]

    def __str__(self) -> str:
        return f"{self.service_type} for patient {self.patient_id} at {self.start:%Y-%m-%d %H:%M}"


class WeeklyAvailability(models.Model):
    """When a room or equipment item can be used, week by week, in its site's local time."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, "Monday"
        TUESDAY = 1, "Tuesday"
        WEDNESDAY = 2, "Wednesday"
        THURSDAY = 3, "Thursday"
        FRIDAY = 4, "Friday"
        SATURDAY = 5, "Saturday"
        SUNDAY = 6, "Sunday"

    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="weekly_availability")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start_time = models.TimeField()
    end_time = models.TimeField()

    class Meta:
        ordering = ["resource_id", "weekday", "start_time"]
        verbose_name_plural = "weekly availability"
        constraints = [
            models.CheckConstraint(condition=Q(end_time__gt=F("start_time")), name="weekly_end_after_start"),
            models.CheckConstraint(condition=Q(weekday__gte=0, weekday__lte=6), name="weekly_weekday_range"),
        ]

    def __str__(self) -> str:
        return f"{self.resource.name}: {self.get_weekday_display()} {self.start_time:%H:%M}-{self.end_time:%H:%M}"


class AvailabilityException(models.Model):
    """A dated closure, maintenance window or holiday when a room or equipment item cannot be booked."""

    class Kind(models.TextChoices):
        CLOSURE = "closure", "Closure"
        MAINTENANCE = "maintenance", "Maintenance"
        HOLIDAY = "holiday", "Holiday"

    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="availability_exceptions")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    start = models.DateTimeField()
    end = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["start"]
        indexes = [models.Index(fields=["resource", "start"])]
        constraints = [models.CheckConstraint(condition=Q(end__gt=F("start")), name="exception_end_after_start")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.resource.name} {self.start:%Y-%m-%d}"


class WaitlistEntry(models.Model):
    """A patient waiting for an earlier slot of a service, with what suits them."""

    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting"
        OFFERED = "offered", "Offer open"
        BOOKED = "booked", "Booked from waitlist"
        REMOVED = "removed", "Removed"

    class TimeOfDay(models.TextChoices):
        ANY = "any", "Any time"
        MORNING = "morning", "Morning (before 12:00)"
        AFTERNOON = "afternoon", "Afternoon (12:00-17:00)"
        EVENING = "evening", "Evening (after 17:00)"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="waitlist_entries")
    service_type = models.ForeignKey(ServiceType, on_delete=models.PROTECT, related_name="waitlist_entries")
    preferred_sites = models.ManyToManyField(Site, blank=True, related_name="+", help_text="Empty: any site.")
    weekdays = models.JSONField(default=list, blank=True, help_text="Weekday numbers 0=Monday..6=Sunday; empty: any.")
    time_of_day = models.CharField(max_length=16, choices=TimeOfDay.choices, default=TimeOfDay.ANY)
    earliest = models.DateField(null=True, blank=True)
    latest = models.DateField(null=True, blank=True, help_text="e.g. the end of the authorization's validity.")
    priority = models.PositiveSmallIntegerField(default=0, help_text="Higher goes first.")
    current_appointment = models.ForeignKey(
        Appointment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The later appointment the patient holds now and would give up.",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.WAITING)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-priority", "created_at"]
        verbose_name_plural = "waitlist entries"
        indexes = [models.Index(fields=["service_type", "status"])]

    def __str__(self) -> str:
        return f"Waitlist {self.pk}: patient {self.patient_id} for {self.service_type}"


class WaitlistOffer(models.Model):
    """A freed slot offered to one waiting patient. The slot is held by a `proposed` appointment until it expires."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"
        EXPIRED = "expired", "Expired"

    entry = models.ForeignKey(WaitlistEntry, on_delete=models.CASCADE, related_name="offers")
    appointment = models.OneToOneField(Appointment, on_delete=models.PROTECT, related_name="waitlist_offer")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    offered_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-offered_at"]
        indexes = [models.Index(fields=["status", "expires_at"])]

    def __str__(self) -> str:
        return f"Offer {self.pk} ({self.get_status_display()})"


class NetworkVersion(models.Model):
    """One row whose token changes, by database triggers (migration 0005), in every transaction that writes what a
    slot search's plan reads: sites, staff and their sites, specialties and credentials, rooms, equipment, and the
    equipment a service needs. `scheduling.slots.site_plans` keeps its plans per process under this token."""

    token = models.CharField(max_length=40)

    def __str__(self) -> str:
        return self.token

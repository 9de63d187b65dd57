"""The shared kernel: organizations, sites, patients, bookable resources, the event log, overrides and user scope."""

import uuid
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse


class CodedName(models.Model):
    """A small vocabulary row an administrator maintains: a stable code and a display name."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone name (for example America/Chicago).")


class Organization(models.Model):
    class Kind(models.TextChoices):
        NETWORK = "network", "Provider network"
        PRACTICE = "practice", "Referring practice"
        PAYER = "payer", "Payer"
        PARTNER = "partner", "Partner"

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    identifier = models.CharField(
        max_length=64, unique=True, help_text="Stable identifier (NPI, payer id, partner code) used by integrations."
    )
    phone = models.CharField(max_length=40, blank=True)
    fax = models.CharField(max_length=40, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Site(models.Model):
    class Kind(models.TextChoices):
        HOSPITAL = "hospital", "Hospital"
        CLINIC = "clinic", "Clinic"
        IMAGING = "imaging", "Imaging centre"
        SPECIALTY = "specialty", "Specialty practice"

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="sites")
    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    time_zone = models.CharField(max_length=64, default="America/Chicago", validators=[validate_time_zone])
    address = models.CharField(max_length=300, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class Department(models.Model):
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="departments")
    code = models.SlugField(max_length=32)
    name = models.CharField(max_length=200)
    cost_centre = models.CharField(max_length=32, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["site__name", "name"]
        constraints = [models.UniqueConstraint(fields=["site", "code"], name="department_code_unique_per_site")]

    def __str__(self) -> str:
        return f"{self.name} ({self.site.code})"


class Patient(models.Model):
    class Sex(models.TextChoices):  # FHIR AdministrativeGender
        MALE = "male", "Male"
        FEMALE = "female", "Female"
        OTHER = "other", "Other"
        UNKNOWN = "unknown", "Unknown"

    mrn = models.CharField("MRN", max_length=32, unique=True, help_text="Medical record number, unique in the network.")
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    birth_date = models.DateField()
    sex = models.CharField(max_length=10, choices=Sex.choices, default=Sex.UNKNOWN)
    phone = models.CharField(max_length=40, blank=True)
    email = models.EmailField(blank=True)
    language = models.CharField(max_length=16, default="en", help_text="BCP-47 code, e.g. en, es, vi.")
    address_line = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=40, blank=True)
    postal_code = models.CharField(max_length=16, blank=True)
    home_site = models.ForeignKey(
        Site, null=True, blank=True, on_delete=models.SET_NULL, related_name="patients",
        help_text="The site that usually cares for the patient; staff of that site can see them.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["family_name", "given_name"]
        indexes = [models.Index(fields=["family_name", "given_name"]), models.Index(fields=["birth_date"])]

    def __str__(self) -> str:
        return f"{self.family_name}, {self.given_name}"

    def get_absolute_url(self) -> str:
        return reverse("patient-detail", args=[self.pk])

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"


class Resource(models.Model):
    """Anything bookable: a staff member, a room or an equipment item. One booking rule guards all three."""

    class Kind(models.TextChoices):
        STAFF = "staff", "Staff member"
        ROOM = "room", "Room"
        EQUIPMENT = "equipment", "Equipment"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    name = models.CharField(max_length=200)
    site = models.ForeignKey(
        Site, null=True, blank=True, on_delete=models.PROTECT, related_name="resources",
        help_text="Where a room or equipment item is; staff work at several sites and leave this empty.",
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["kind", "name"]
        indexes = [models.Index(fields=["kind", "site"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.name}"


class Event(models.Model):
    """One CloudEvents 1.0 envelope per state change, written in the same transaction. Append-only."""

    sequence = models.BigAutoField(primary_key=True)
    id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    specversion = models.CharField(max_length=8, default="1.0", editable=False)
    source = models.CharField(max_length=100)
    type = models.CharField(max_length=120, db_index=True)
    subject = models.CharField(max_length=120, db_index=True)
    time = models.DateTimeField(db_index=True)
    data = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["sequence"]
        indexes = [models.Index(fields=["subject", "sequence"]), models.Index(fields=["type", "time"])]

    def __str__(self) -> str:
        return f"{self.type} {self.subject}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise EventLogIsAppendOnly("Events are append-only: an event cannot be changed once written.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise EventLogIsAppendOnly("Events are append-only: an event cannot be deleted.")

    @property
    def short_type(self) -> str:
        """`referral.received` from `org.healthops.referral.received.v1`."""
        return self.type.removeprefix("org.healthops.").rsplit(".v", 1)[0]

    def as_cloudevent(self) -> dict:
        return {
            "specversion": self.specversion,
            "id": str(self.id),
            "source": self.source,
            "type": self.type,
            "subject": self.subject,
            "time": self.time.isoformat(),
            "datacontenttype": "application/json",
            "data": self.data,
        }


class EventLogIsAppendOnly(Exception):
    pass


class Override(models.Model):
    """A person overruling a rule (capacity, notice, eligibility, ...), with the reason. Written only by
    `healthops.overrides.override_record`."""

    class ReasonCode(models.TextChoices):
        CLINICAL_URGENCY = "clinical-urgency", "Clinical urgency"
        PATIENT_PREFERENCE = "patient-preference", "Patient preference or access need"
        PAYER_CONFIRMED = "payer-confirmed", "Confirmed with the payer by phone"
        DATA_CORRECTION = "data-correction", "Source data was wrong"
        CAPACITY_APPROVED = "capacity-approved", "Extra capacity approved by the department"
        MANAGER_DECISION = "manager-decision", "Manager decision"
        OTHER = "other", "Other (explain)"

    rule = models.CharField(max_length=64, help_text="Code of the rule overridden, e.g. booking.capacity.")
    subject = models.CharField(max_length=120, db_index=True, help_text="What it applies to, e.g. referral/12.")
    reason_code = models.CharField(max_length=32, choices=ReasonCode.choices)
    justification = models.TextField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="overrides")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.rule} on {self.subject}"


class UserProfile(models.Model):
    """Which sites a user works for. Roles (groups) decide whether they see the whole network."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    sites = models.ManyToManyField(Site, blank=True, related_name="users")
    network_wide = models.BooleanField(
        default=False, help_text="Sees every site, whatever the role (e.g. a central scheduling team)."
    )
    title = models.CharField(max_length=100, blank=True)

    def __str__(self) -> str:
        return f"Profile of {self.user}"


class IntegrationCall(models.Model):
    """One attempt of one call to an external system, whatever its outcome."""

    class Outcome(models.TextChoices):
        OK = "ok", "Succeeded"
        REJECTED = "rejected", "Refused by the system (4xx)"
        FAILED = "failed", "Failed (5xx, timeout, connection)"
        MALFORMED = "malformed", "Answer could not be understood"
        CIRCUIT_OPEN = "circuit-open", "Not attempted: circuit open"

    system = models.CharField(max_length=32, db_index=True)
    operation = models.CharField(max_length=64)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    attempt = models.PositiveSmallIntegerField(default=1)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    idempotency_key = models.CharField(max_length=100, blank=True)
    subject = models.CharField(max_length=120, blank=True, help_text="What the call was about, e.g. coverage/12.")
    error = models.CharField(max_length=500, blank=True)
    payload = models.TextField(blank=True, help_text="The answer, kept when it could not be understood.")
    at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["system", "-at"])]

    def __str__(self) -> str:
        return f"{self.system}.{self.operation} {self.outcome}"


class CircuitBreaker(models.Model):
    """Shared state of one external system's circuit, so every web and worker process agrees on it."""

    class State(models.TextChoices):
        CLOSED = "closed", "Closed (calls flow)"
        OPEN = "open", "Open (calls stopped)"
        HALF_OPEN = "half-open", "Half-open (one probe allowed)"

    system = models.CharField(max_length=32, primary_key=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.CLOSED)
    consecutive_failures = models.PositiveIntegerField(default=0)
    opened_at = models.DateTimeField(null=True, blank=True)
    probe_started_at = models.DateTimeField(null=True, blank=True)
    changed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.system}: {self.state}"


class Subscription(models.Model):
    """Someone outside who receives our events: the ERP, and later partners' webhooks."""

    name = models.CharField(max_length=100, unique=True)
    system = models.CharField(max_length=32, help_text="Integration client that delivers, e.g. erp or webhook.")
    url = models.URLField(blank=True, help_text="Empty: the system's configured URL.")
    event_types = models.JSONField(default=list, blank=True,
                                   help_text='Short types or prefixes, e.g. ["appointment."]; empty: every event.')
    secret = models.CharField(max_length=128, blank=True, help_text="For signing webhook deliveries.")
    partner = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.CASCADE,
                                related_name="subscriptions")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def wants(self, short_type: str) -> bool:
        return not self.event_types or any(short_type.startswith(prefix) for prefix in self.event_types)


class Delivery(models.Model):
    """One event owed to one subscriber (the outbox). Written with the event; delivered at least once."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        DEAD = "dead", "Dead letter (gave up)"

    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="deliveries")
    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="deliveries")
    subject = models.CharField(max_length=120, help_text="The event's subject, for in-order delivery per subject.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["event_id"]
        verbose_name_plural = "deliveries"
        indexes = [models.Index(fields=["status", "next_attempt_at"]),
                   models.Index(fields=["subscription", "subject", "status"])]
        constraints = [models.UniqueConstraint(fields=["event", "subscription"], name="delivery_once_per_subscriber")]

    def __str__(self) -> str:
        return f"{self.event_id} -> {self.subscription_id} ({self.status})"

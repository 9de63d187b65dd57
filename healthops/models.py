"""The shared kernel: organizations, sites, patients, bookable resources, the event log, overrides and user scope."""

import uuid
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse


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

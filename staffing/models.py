"""Staff members, their specialties and credentials, shifts and time off."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse

from healthops.models import CodedName, Department, Resource, Site


class Specialty(CodedName):
    class Meta(CodedName.Meta):
        verbose_name_plural = "specialties"


class CredentialKind(CodedName):
    name = models.CharField(max_length=120)


class StaffMember(models.Model):
    class Role(models.TextChoices):
        PHYSICIAN = "physician", "Physician"
        NURSE_PRACTITIONER = "nurse-practitioner", "Nurse practitioner"
        NURSE = "nurse", "Registered nurse"
        RADIOLOGY_TECH = "radiology-tech", "Radiology technologist"
        SONOGRAPHER = "sonographer", "Sonographer"
        THERAPIST = "therapist", "Therapist"
        MEDICAL_ASSISTANT = "medical-assistant", "Medical assistant"

    resource = models.OneToOneField(Resource, on_delete=models.PROTECT, related_name="staff_member")
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    role = models.CharField(max_length=32, choices=Role.choices)
    specialties = models.ManyToManyField(Specialty, blank=True, related_name="staff")
    sites = models.ManyToManyField(Site, related_name="staff")
    home_department = models.ForeignKey(Department, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    npi = models.CharField("NPI", max_length=10, blank=True)
    hourly_cost = models.DecimalField(max_digits=8, decimal_places=2)
    cost_centre = models.CharField(max_length=32)
    external_id = models.CharField(max_length=64, unique=True, help_text="Id in the workforce system.")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="staff_member"
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["family_name", "given_name"]

    def __str__(self) -> str:
        return f"{self.given_name} {self.family_name} ({self.get_role_display()})"

    @property
    def display_name(self) -> str:
        prefix = "Dr. " if self.role == self.Role.PHYSICIAN else ""
        return f"{prefix}{self.given_name} {self.family_name}"


class Credential(models.Model):
    staff = models.ForeignKey(StaffMember, on_delete=models.CASCADE, related_name="credentials")
    kind = models.ForeignKey(CredentialKind, on_delete=models.PROTECT, related_name="credentials")
    number = models.CharField(max_length=64, blank=True)
    issued_on = models.DateField(null=True, blank=True)
    expires_on = models.DateField()

    class Meta:
        ordering = ["expires_on"]
        constraints = [models.UniqueConstraint(fields=["staff", "kind"], name="credential_one_per_kind")]

    def __str__(self) -> str:
        return f"{self.kind} for {self.staff} (expires {self.expires_on})"


class Shift(models.Model):
    class Source(models.TextChoices):
        WORKFORCE = "workforce", "Workforce system"
        CSV = "csv", "CSV upload"
        MANUAL = "manual", "Entered here"

    staff = models.ForeignKey(StaffMember, on_delete=models.CASCADE, related_name="shifts")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="shifts")
    department = models.ForeignKey(Department, null=True, blank=True, on_delete=models.SET_NULL, related_name="shifts")
    start = models.DateTimeField()
    end = models.DateTimeField()
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.MANUAL)
    external_id = models.CharField(max_length=64, blank=True, help_text="Id in the workforce system, for idempotent import.")

    class Meta:
        ordering = ["start"]
        # (site, end): "shifts at a site overlapping a window" (slot search, rostered capacity) reads the shifts
        # ending after the window starts, not the site's whole history.
        indexes = [models.Index(fields=["staff", "start"]), models.Index(fields=["site", "start"]),
                   models.Index(fields=["site", "end"], name="shift_site_end")]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="shift_end_after_start"),
            models.UniqueConstraint(fields=["staff", "start"], name="shift_unique_staff_start"),
        ]

    def __str__(self) -> str:
        return f"{self.staff} at {self.site.code} {self.start:%Y-%m-%d %H:%M}"


class TimeOff(models.Model):
    staff = models.ForeignKey(StaffMember, on_delete=models.CASCADE, related_name="time_off")
    start = models.DateTimeField()
    end = models.DateTimeField()
    reason = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["start"]
        verbose_name_plural = "time off"
        constraints = [models.CheckConstraint(condition=Q(end__gt=F("start")), name="timeoff_end_after_start")]

    def __str__(self) -> str:
        return f"{self.staff} off {self.start:%Y-%m-%d}"


class StaffingSettings(models.Model):
    """The thresholds staffing checks use, edited in the admin. One row (pk=1); defaults apply until it is saved."""

    weekly_hours_threshold = models.DecimalField(
        max_digits=5, decimal_places=1, default=40,
        help_text="Projected hours in a week (Monday to Sunday, site time) above which a staff member is at overtime risk.")
    min_rest_hours = models.DecimalField(
        max_digits=4, decimal_places=1, default=10,
        help_text="Shortest allowed rest between the end of one shift and the start of the next.")
    credential_alert_days = models.PositiveIntegerField(
        default=30, help_text="Alert this many days before a credential expires.")

    class Meta:
        verbose_name = verbose_name_plural = "staffing settings"
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="staffingsettings_singleton")]

    def __str__(self) -> str:
        return "Staffing settings"

    def save(self, *args, **kwargs):
        self.pk = 1
        super().save(*args, **kwargs)

    @classmethod
    def current(cls) -> "StaffingSettings":
        """The saved row, or the defaults (unsaved) when nobody has edited them yet: a read never writes."""
        return cls.objects.filter(pk=1).first() or cls(pk=1)


class RosterImport(models.Model):
    """One roster import (a workforce pull or a CSV upload): what it changed and what looked wrong."""

    source = models.CharField(max_length=16, choices=Shift.Source.choices)
    period_start = models.DateField()
    period_end = models.DateField()
    added = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    removed = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    conflict_count = models.PositiveIntegerField(default=0)
    diff = models.JSONField(default=list, blank=True, help_text='[{"op": "added|changed|removed", "id", "text"}]')
    conflicts = models.JSONField(default=list, blank=True, help_text='[{"kind", "row", "id", "text"}]')
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [models.CheckConstraint(condition=Q(period_end__gte=F("period_start")),
                                              name="rosterimport_period_ordered")]

    def __str__(self) -> str:
        return f"{self.get_source_display()} import {self.period_start}–{self.period_end}"

    def get_absolute_url(self) -> str:
        return f"{reverse('staffing:import')}?show={self.pk}"


class LaborCostPublication(models.Model):
    """A labor-cost figure sent to the ERP for one cost centre and week. A changed figure is a new revision."""

    cost_centre = models.CharField(max_length=32)
    week_start = models.DateField(help_text="The Monday of the week.")
    revision = models.PositiveIntegerField()
    hours = models.DecimalField(max_digits=10, decimal_places=2)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    shift_count = models.PositiveIntegerField()
    event = models.ForeignKey("healthops.Event", on_delete=models.PROTECT, related_name="+")
    published_at = models.DateTimeField()

    class Meta:
        ordering = ["week_start", "cost_centre", "revision"]
        constraints = [models.UniqueConstraint(fields=["cost_centre", "week_start", "revision"],
                                               name="laborcost_one_per_revision")]

    def __str__(self) -> str:
        return f"{self.cost_centre} week of {self.week_start} r{self.revision}: {self.amount}"

"""Referrals, their documents, and the appointments and authorizations each one led to."""

from django.conf import settings
from django.db import models
from django.urls import reverse
from viewflow.workflow.models import Process

from authorizations.models import Authorization, Coverage
from healthops.models import Department, Organization, Patient, Site
from scheduling.models import Appointment, DocumentKind, ServiceType


class Referral(models.Model):
    class Priority(models.TextChoices):  # FHIR ServiceRequest.priority, increasing urgency
        ROUTINE = "routine", "Routine"
        URGENT = "urgent", "Urgent"
        ASAP = "asap", "ASAP"
        STAT = "stat", "STAT"

    class Status(models.TextChoices):  # FHIR ServiceRequest.status
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        ON_HOLD = "on-hold", "On hold"
        REVOKED = "revoked", "Revoked"
        COMPLETED = "completed", "Completed"
        ENTERED_IN_ERROR = "entered-in-error", "Entered in error"
        UNKNOWN = "unknown", "Unknown"

    class Stage(models.TextChoices):  # where the referral is in its journey (DESIGN.md)
        INTAKE = "intake", "Intake"
        PATIENT_MATCH = "patient-match", "Patient match"
        COMPLETENESS = "completeness", "Completeness"
        ELIGIBILITY = "eligibility", "Eligibility"
        AUTHORIZATION = "authorization", "Authorization"
        SCHEDULING = "scheduling", "Scheduling"
        BOOKED = "booked", "Booked"
        COMPLETED = "completed", "Completed"
        CLOSED = "closed", "Closed"

    class Channel(models.TextChoices):
        WEB = "web", "Web form"
        FHIR_API = "fhir-api", "Partner API (FHIR)"
        FAX = "fax", "Fax / PDF upload"
        HL7V2 = "hl7v2", "HL7 v2 feed"
        PHONE = "phone", "Phone"

    PRIORITY_RANK = {Priority.ROUTINE: 0, Priority.URGENT: 1, Priority.ASAP: 2, Priority.STAT: 3}
    OPEN_STAGES = [Stage.INTAKE, Stage.PATIENT_MATCH, Stage.COMPLETENESS, Stage.ELIGIBILITY, Stage.AUTHORIZATION,
                   Stage.SCHEDULING]

    patient = models.ForeignKey(Patient, null=True, blank=True, on_delete=models.PROTECT, related_name="referrals",
                                help_text="Empty until the patient is matched.")
    coverage = models.ForeignKey(Coverage, null=True, blank=True, on_delete=models.SET_NULL, related_name="referrals")
    referring_organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="referrals_sent")
    referring_practitioner = models.CharField(max_length=200, blank=True)
    referring_practitioner_npi = models.CharField("Referring NPI", max_length=10, blank=True)
    partner = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="partner_referrals", help_text="The partner that sent it over the API.")
    service_type = models.ForeignKey(ServiceType, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="referrals", help_text="Empty when the requested code is unknown.")
    requested_code = models.CharField(max_length=64, blank=True, help_text="The service code as the sender gave it.")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="referrals",
                             help_text="The site that will see the patient.")
    department = models.ForeignKey(Department, null=True, blank=True, on_delete=models.SET_NULL, related_name="referrals")
    priority = models.CharField(max_length=8, choices=Priority.choices, default=Priority.ROUTINE)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.INTAKE)
    stage_reason = models.CharField(max_length=300, blank=True, help_text="Why it waits where it is.")
    reason = models.TextField(help_text="Clinical reason for the referral.")
    received_at = models.DateTimeField()
    source_channel = models.CharField(max_length=16, choices=Channel.choices)
    external_identifier = models.CharField(max_length=100, blank=True,
                                           help_text="The sender's id for this referral (ServiceRequest.identifier).")
    appointments = models.ManyToManyField(Appointment, through="ReferralAppointment", related_name="referrals")
    authorizations = models.ManyToManyField(Authorization, through="ReferralAuthorization", related_name="referrals")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            models.Index(fields=["site", "stage"]),
            models.Index(fields=["stage", "received_at"]),
            models.Index(fields=["-received_at"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["referring_organization", "external_identifier"],
                condition=~models.Q(external_identifier=""),
                name="referral_external_id_unique_per_sender",
            ),
        ]

    def __str__(self) -> str:
        return f"Referral R-{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("referrals:detail", args=[self.pk])

    @property
    def subject(self) -> str:
        return f"referral/{self.pk}"

    @property
    def is_open(self) -> bool:
        """Still being worked towards a booking."""
        return self.stage in self.OPEN_STAGES

    @property
    def is_final(self) -> bool:
        """Completed or closed: nothing moves it any more."""
        return self.stage in (self.Stage.COMPLETED, self.Stage.CLOSED)


def document_upload_to(instance, filename: str) -> str:
    # No patient data in paths: the referral id and a random name only.
    import uuid
    from pathlib import PurePath

    return f"referrals/{instance.referral_id}/{uuid.uuid4().hex}{PurePath(filename).suffix.lower()[:10]}"


class ReferralDocument(models.Model):
    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="documents")
    kind = models.ForeignKey(DocumentKind, on_delete=models.PROTECT, related_name="documents")
    file = models.FileField(upload_to=document_upload_to)
    original_name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100, default="application/octet-stream")
    size = models.PositiveBigIntegerField(default=0)
    uploaded_at = models.DateTimeField()
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")

    class Meta:
        ordering = ["uploaded_at"]

    def __str__(self) -> str:
        return f"{self.kind} for referral {self.referral_id}"


class ReferralAppointment(models.Model):
    referral = models.ForeignKey(Referral, on_delete=models.CASCADE)
    appointment = models.OneToOneField(Appointment, on_delete=models.CASCADE, related_name="referral_link")

    def __str__(self) -> str:
        return f"referral {self.referral_id} -> appointment {self.appointment_id}"


class ReferralAuthorization(models.Model):
    referral = models.ForeignKey(Referral, on_delete=models.CASCADE)
    authorization = models.OneToOneField(Authorization, on_delete=models.CASCADE, related_name="referral_link")

    def __str__(self) -> str:
        return f"referral {self.referral_id} -> authorization {self.authorization_id}"


class ReferralProcess(Process):
    """The ReferralFlow's process for one referral. Routing facts live here; the work lives in the services."""

    class Eligibility(models.TextChoices):
        UNKNOWN = "", "Not checked"
        IN_FORCE = "in-force", "In force"
        NOT_IN_FORCE = "not-in-force", "Not in force"
        MEMBER_UNKNOWN = "member-unknown", "Member unknown"
        UNREACHABLE = "unreachable", "Payer unreachable"
        ERROR = "error", "Payer answer unusable"
        NO_COVERAGE = "no-coverage", "No coverage on file"

    referral = models.OneToOneField(Referral, on_delete=models.PROTECT, related_name="process")
    eligibility = models.CharField(max_length=20, choices=Eligibility.choices, blank=True)
    auth_needed = models.BooleanField(null=True, help_text="From the payer rule; empty when no rule says.")
    auth_status = models.CharField(max_length=16, blank=True)
    auth_overridden = models.BooleanField(default=False, help_text="Booked before the payer decided, by override.")
    booked = models.BooleanField(default=False)
    close_reason = models.CharField(max_length=300, blank=True)
    handoff_reason = models.CharField(max_length=300, blank=True,
                                      help_text="Why the last automated step handed the case to a person.")

    class Meta:
        default_permissions = ("add", "change", "delete", "view", "manage")
        permissions = [
            ("can_match_patient", "Can match a referral to a patient"),
            ("can_outreach", "Can chase missing referral documents"),
            ("can_verify_eligibility", "Can verify eligibility manually"),
            ("can_work_authorizations", "Can work prior authorizations, denials and appeals"),
            ("can_schedule", "Can book referrals by hand"),
            ("can_lead", "Can work escalated tasks and reassign work"),
            ("can_override", "Can override rules (e.g. book before the payer decides) with a reason"),
        ]

    def __str__(self) -> str:
        return f"Flow of referral R-{self.referral_id}"


class TaskSLA(models.Model):
    """How long a kind of human task may wait, by priority (admin-configured)."""

    task_type = models.CharField(max_length=40, help_text="The flow step, e.g. outreach, schedule.")
    priority = models.CharField(max_length=8, choices=Referral.Priority.choices)
    hours = models.PositiveIntegerField()
    business_days = models.BooleanField(default=False, help_text="Count only Monday to Friday.")

    class Meta:
        ordering = ["task_type", "priority"]
        verbose_name = "task SLA"
        constraints = [models.UniqueConstraint(fields=["task_type", "priority"], name="tasksla_unique")]

    def __str__(self) -> str:
        return f"{self.task_type} ({self.priority}): {self.hours} h"


class WorkItem(models.Model):
    """Queue facts about one human task of the ReferralFlow: why it exists, when it is due, holds, escalation."""

    task = models.OneToOneField("viewflow.Task", on_delete=models.CASCADE, related_name="work_item")
    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="work_items")
    task_type = models.CharField(max_length=40, db_index=True)
    reason = models.CharField(max_length=300)
    priority = models.CharField(max_length=8, choices=Referral.Priority.choices, default=Referral.Priority.ROUTINE)
    created_at = models.DateTimeField()
    due_at = models.DateTimeField(db_index=True)
    hold_until = models.DateTimeField(null=True, blank=True)
    hold_event = models.CharField(max_length=80, blank=True, help_text="Short event type that ends the hold.")
    held_since = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    outcome = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["due_at"]
        indexes = [models.Index(fields=["completed_at", "due_at"])]

    def __str__(self) -> str:
        return f"{self.task_type} for R-{self.referral_id}"

    @property
    def on_hold(self) -> bool:
        return self.held_since is not None

"""Payers, coverage, payer rules, eligibility checks and prior authorizations with their payer clocks."""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from healthops.models import Organization, Patient
from scheduling.models import DocumentKind, ServiceType


class Payer(models.Model):
    organization = models.OneToOneField(Organization, on_delete=models.PROTECT, related_name="payer")
    identifier = models.CharField(
        max_length=64, unique=True, help_text="What partners put in Coverage.payor.identifier."
    )
    name = models.CharField(max_length=200)
    sandbox_key = models.SlugField(max_length=40, unique=True, help_text="Path segment of this payer's API.")
    phone = models.CharField(max_length=40, blank=True, help_text="Provider services line for manual checks.")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Coverage(models.Model):
    class Status(models.TextChoices):  # FHIR Coverage.status
        ACTIVE = "active", "Active"
        CANCELLED = "cancelled", "Cancelled"
        DRAFT = "draft", "Draft"
        ENTERED_IN_ERROR = "entered-in-error", "Entered in error"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="coverages")
    payer = models.ForeignKey(Payer, on_delete=models.PROTECT, related_name="coverages")
    member_id = models.CharField(max_length=64)
    plan = models.CharField(max_length=120, blank=True)
    period_start = models.DateField()
    period_end = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    priority = models.PositiveSmallIntegerField(default=1, help_text="1 = primary coverage.")

    class Meta:
        ordering = ["patient_id", "priority"]
        constraints = [
            models.UniqueConstraint(fields=["payer", "member_id"], name="coverage_member_unique_per_payer"),
            models.CheckConstraint(
                condition=Q(period_end__isnull=True) | Q(period_end__gte=F("period_start")),
                name="coverage_period_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.payer} coverage {self.pk}"


class PayerRule(models.Model):
    payer = models.ForeignKey(Payer, on_delete=models.CASCADE, related_name="rules")
    service_type = models.ForeignKey(ServiceType, on_delete=models.CASCADE, related_name="payer_rules")
    prior_auth_required = models.BooleanField(default=False)
    required_documents = models.ManyToManyField(
        DocumentKind, blank=True, related_name="payer_rules", help_text="Documents this payer wants on top of the service's."
    )
    notes = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["payer__name", "service_type__name"]
        constraints = [models.UniqueConstraint(fields=["payer", "service_type"], name="payerrule_unique")]

    def __str__(self) -> str:
        return f"{self.payer} x {self.service_type}"


class EligibilityCheck(models.Model):
    class Outcome(models.TextChoices):
        IN_FORCE = "in-force", "Coverage in force"
        NOT_IN_FORCE = "not-in-force", "Coverage not in force"
        MEMBER_UNKNOWN = "member-unknown", "Member unknown to payer"
        UNREACHABLE = "unreachable", "Payer unreachable"
        ERROR = "error", "Payer answer could not be used"

    class Source(models.TextChoices):
        PAYER_API = "payer-api", "Payer API"
        MANUAL = "manual", "Manual verification"

    class Purpose(models.TextChoices):  # FHIR CoverageEligibilityRequest.purpose
        AUTH_REQUIREMENTS = "auth-requirements", "Auth requirements"
        BENEFITS = "benefits", "Benefits"
        DISCOVERY = "discovery", "Discovery"
        VALIDATION = "validation", "Validation"

    coverage = models.ForeignKey(Coverage, on_delete=models.PROTECT, related_name="eligibility_checks")
    checked_at = models.DateTimeField()
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    source = models.CharField(max_length=16, choices=Source.choices)
    purpose = models.CharField(max_length=20, choices=Purpose.choices, default=Purpose.VALIDATION)
    checked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(max_length=300, blank=True)
    payer_reference = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-checked_at"]
        indexes = [models.Index(fields=["coverage", "-checked_at"])]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} ({self.checked_at:%Y-%m-%d})"


class Authorization(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Not yet submitted"
        SUBMITTED = "submitted", "Submitted, awaiting decision"
        PENDED = "pended", "Pended by payer"
        APPROVED = "approved", "Approved"
        PARTIAL = "partial", "Partially approved"
        DENIED = "denied", "Denied"
        CANCELLED = "cancelled", "Cancelled"

    class Decision(models.TextChoices):  # PAS reviewActionCode (X12 HCR01), verbatim
        A1 = "A1", "A1 Certified in total"
        A2 = "A2", "A2 Certified, partial"
        A3 = "A3", "A3 Not certified"
        A4 = "A4", "A4 Pended"
        A6 = "A6", "A6 Modified"
        C = "C", "C Cancelled"
        CT = "CT", "CT Contact payer"
        NA = "NA", "NA No action required"

    class Urgency(models.TextChoices):
        STANDARD = "standard", "Standard (7 calendar days)"
        EXPEDITED = "expedited", "Expedited (72 hours)"

    # CMS-0057-F payer decision clocks, from 2026.
    CLOCKS = {Urgency.STANDARD: timedelta(days=7), Urgency.EXPEDITED: timedelta(hours=72)}

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="authorizations")
    coverage = models.ForeignKey(Coverage, on_delete=models.PROTECT, related_name="authorizations")
    service_type = models.ForeignKey(ServiceType, on_delete=models.PROTECT, related_name="authorizations")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    decision_code = models.CharField(max_length=2, choices=Decision.choices, blank=True)
    urgency = models.CharField(max_length=16, choices=Urgency.choices, default=Urgency.STANDARD)
    auth_number = models.CharField(max_length=64, blank=True)
    payer_tracking_id = models.CharField(max_length=64, blank=True)
    valid_from = models.DateField(null=True, blank=True)
    valid_to = models.DateField(null=True, blank=True)
    units_requested = models.PositiveIntegerField(default=1)
    units_approved = models.PositiveIntegerField(null=True, blank=True)
    units_used = models.PositiveIntegerField(default=0)
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True, help_text="When the payer's regulatory clock runs out.")
    denial_reason = models.CharField(max_length=300, blank=True)
    last_error = models.CharField(max_length=500, blank=True, help_text="Why the last payer call did not work.")
    expiry_alerted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "due_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_from__isnull=True) | Q(valid_to__gte=F("valid_from")),
                name="authorization_validity_ordered",
            ),
            models.CheckConstraint(
                condition=Q(units_approved__isnull=True) | Q(units_used__lte=F("units_approved")),
                name="authorization_units_within_approved",
            ),
        ]

    def __str__(self) -> str:
        return f"Authorization {self.auth_number or self.pk} ({self.get_status_display()})"

    def clock_due(self, submitted_at):
        return submitted_at + self.CLOCKS[self.urgency]

    @property
    def claim_identifier(self) -> str:
        """Our stable id for the PAS Claim: the idempotency key of every submission of this authorization."""
        return f"HO-AUTH-{self.pk}"

    def breached(self, now=None) -> bool:
        """The payer missed its regulatory clock (decided late, or still undecided past due)."""
        if not self.due_at:
            return False
        if self.decided_at:
            return self.decided_at > self.due_at
        from django.utils import timezone

        return (now or timezone.now()) > self.due_at

    @property
    def units_left(self) -> int | None:
        return None if self.units_approved is None else self.units_approved - self.units_used


class Appeal(models.Model):
    """A request to the payer to reverse a denial, and what came of it."""

    class Outcome(models.TextChoices):
        PENDING = "pending", "Awaiting payer"
        OVERTURNED = "overturned", "Overturned: approved"
        UPHELD = "upheld", "Upheld: still denied"
        WITHDRAWN = "withdrawn", "Withdrawn"

    authorization = models.ForeignKey(Authorization, on_delete=models.PROTECT, related_name="appeals")
    submitted_at = models.DateTimeField()
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    grounds = models.TextField(help_text="Why the denial should be reversed (clinical notes, policy reference).")
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.PENDING)
    decided_at = models.DateTimeField(null=True, blank=True)
    payer_reference = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-submitted_at"]

    def __str__(self) -> str:
        return f"Appeal of authorization {self.authorization_id} ({self.get_outcome_display()})"

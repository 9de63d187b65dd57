"""Partner API clients (hashed bearer tokens with scopes), idempotency records, rate-limit buckets, and what a partner
sent us with each referral (the FHIR ServiceRequest as received)."""

import hashlib

from django.conf import settings
from django.db import models
from django.utils import timezone

from healthops.models import Organization


class Scope(models.TextChoices):
    REFERRALS_WRITE = "referrals:write", "Create referrals"
    REFERRALS_READ = "referrals:read", "Read own referrals and their tasks"
    SLOTS_READ = "slots:read", "Search free slots"
    APPOINTMENTS_WRITE = "appointments:write", "Book appointments"
    APPOINTMENTS_READ = "appointments:read", "Read own appointments"
    WEBHOOKS_MANAGE = "webhooks:manage", "Register webhooks and read their delivery log"


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class PartnerClient(models.Model):
    """One API client of a partner organization. Only the token's SHA-256 is stored; its prefix identifies it."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="api_clients")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True, help_text="The token's first characters, to recognise it.")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list, blank=True)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="partner_client",
                                help_text="The actor recorded for this client's changes (cannot log in).")
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")
    revoked_at = models.DateTimeField(null=True, blank=True)
    rate_per_minute = models.PositiveIntegerField(default=600, help_text="Sustained requests per minute.")
    burst = models.PositiveIntegerField(default=60, help_text="Requests allowed at once before the rate applies.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["organization__name", "name"]

    def __str__(self) -> str:
        return f"{self.organization} / {self.name} ({self.prefix}…)"

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > timezone.now())

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


class IdempotencyRecord(models.Model):
    """The first response to a POST with an Idempotency-Key, replayed for the same key and body (kept >= 24 h)."""

    client = models.ForeignKey(PartnerClient, on_delete=models.CASCADE, related_name="idempotency_records")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response_body = models.JSONField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["client", "key"], name="idempotency_key_unique_per_client")]

    def __str__(self) -> str:
        return f"{self.client_id}:{self.key}"


class RateLimitBucket(models.Model):
    """Rate-limit state of one client, shared by every web process (GCRA: see partners.throttling)."""

    client = models.OneToOneField(PartnerClient, on_delete=models.CASCADE, primary_key=True, related_name="bucket")
    tat = models.DateTimeField("theoretical arrival time",
                               help_text="Requests are allowed while this is at most burst - 1 intervals ahead of now.")

    def __str__(self) -> str:
        return f"bucket of {self.client_id}: {self.tat:%Y-%m-%d %H:%M:%S}"


class PartnerReferral(models.Model):
    """A referral a partner sent as a FHIR ServiceRequest: who sent it, and the resource as sent (its requester,
    performer, encounter and other references are kept as the partner gave them)."""

    referral = models.OneToOneField("referrals.Referral", on_delete=models.CASCADE, related_name="partner_record")
    client = models.ForeignKey(PartnerClient, on_delete=models.PROTECT, related_name="referrals")
    resource = models.JSONField()
    received_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.referral} from {self.client}"


class PartnerPatient(models.Model):
    """A patient a partner created or matched through `POST Patient`: the patients its referrals may name."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="partner_patients")
    patient = models.ForeignKey("healthops.Patient", on_delete=models.CASCADE, related_name="partner_links")
    linked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "patient"], name="partner_patient_once")]

    def __str__(self) -> str:
        return f"{self.organization_id} knows patient {self.patient_id}"


class ApiCall(models.Model):
    """One call to the partner APIs: who, which endpoint (its route, never the path with ids), outcome, latency."""

    client = models.ForeignKey(PartnerClient, null=True, blank=True, on_delete=models.SET_NULL, related_name="calls")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    method = models.CharField(max_length=8)
    route = models.CharField(max_length=200)
    status = models.PositiveSmallIntegerField()
    latency_ms = models.PositiveIntegerField()
    at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["client", "-at"])]

    def __str__(self) -> str:
        return f"{self.method} {self.route} {self.status}"

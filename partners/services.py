"""Writes for partner API clients and webhook registrations."""

import secrets
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from healthops.errors import DomainError
from healthops.events import emit
from healthops.models import Organization, Subscription

from .models import IdempotencyRecord, PartnerClient, Scope, hash_token

TOKEN_PREFIX = "hop_"
IDEMPOTENCY_KEEP = timedelta(hours=24)


@transaction.atomic
def partner_organization_ensure(*, identifier: str, actor, name: str = "") -> Organization:
    """The partner organization with this identifier, created when it does not exist yet."""
    identifier = identifier.strip()
    if not identifier:
        raise DomainError("A partner needs an identifier.")
    org = Organization.objects.filter(identifier=identifier).first()
    if org is None:
        org = Organization.objects.create(identifier=identifier, name=name or identifier, kind=Organization.Kind.PARTNER)
        emit("partner.created", subject=f"organization/{org.pk}", source="partners", actor=actor,
             data={"organization_id": org.pk, "identifier": identifier})
    elif org.kind != Organization.Kind.PARTNER:
        raise DomainError(f"{org.name} is a {org.get_kind_display().lower()}, not a partner.")
    return org


@transaction.atomic
def partner_client_create(*, organization: Organization, scopes: list[str], actor, name: str = "",
                          expires_at: datetime | None = None, rate_per_minute: int | None = None,
                          burst: int | None = None) -> tuple[PartnerClient, str]:
    """A new API client and its token. The token is returned once and only its hash is kept. The rate limit
    defaults to the model's (600 a minute, bursts of 60)."""
    unknown = sorted(set(scopes) - set(Scope.values))
    if unknown:
        raise DomainError(f"Unknown scopes: {', '.join(unknown)} (known: {', '.join(Scope.values)}).")
    if organization.kind != Organization.Kind.PARTNER:
        raise DomainError("API clients belong to partner organizations.")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    prefix = raw[: len(TOKEN_PREFIX) + 8]
    user = get_user_model().objects.create(username=f"partner-{prefix}", is_active=False,
                                           first_name=organization.name[:150], last_name="(API)")
    user.set_unusable_password()
    user.save(update_fields=["password"])
    client = PartnerClient.objects.create(
        organization=organization, name=name or f"{organization.identifier} client", prefix=prefix,
        token_hash=hash_token(raw), scopes=sorted(set(scopes)), user=user, expires_at=expires_at,
        **{k: v for k, v in (("rate_per_minute", rate_per_minute), ("burst", burst)) if v is not None})
    emit("partner.client-created", subject=f"organization/{organization.pk}", source="partners", actor=actor,
         data={"client_id": client.pk, "prefix": prefix, "scopes": client.scopes})
    return client, raw


@transaction.atomic
def partner_client_revoke(*, client: PartnerClient, actor) -> PartnerClient:
    client = PartnerClient.objects.select_for_update().get(pk=client.pk)
    if client.revoked_at is None:
        client.revoked_at = timezone.now()
        client.save(update_fields=["revoked_at"])
        emit("partner.client-revoked", subject=f"organization/{client.organization_id}", source="partners",
             actor=actor, data={"client_id": client.pk, "prefix": client.prefix})
    return client


@transaction.atomic
def webhook_register(*, client: PartnerClient, url: str, actor, event_types: list[str] | None = None) -> Subscription:
    """A partner endpoint that receives CloudEvents about the partner's own referrals, signed with a new secret."""
    if not url.startswith(("https://", "http://")):
        raise DomainError("The webhook URL must be http(s).")
    subscription = Subscription.objects.create(
        name=f"webhook {client.organization.identifier} {secrets.token_hex(4)}", system="webhook", url=url,
        event_types=event_types or [], secret=secrets.token_hex(32), partner=client.organization)
    emit("partner.webhook-registered", subject=f"organization/{client.organization_id}", source="partners",
         actor=actor, data={"subscription_id": subscription.pk, "event_types": subscription.event_types})
    return subscription


@transaction.atomic
def webhook_deactivate(*, subscription: Subscription, actor) -> Subscription:
    if subscription.active:
        subscription.active = False
        subscription.save(update_fields=["active"])
        emit("partner.webhook-removed", subject=f"organization/{subscription.partner_id}", source="partners",
             actor=actor, data={"subscription_id": subscription.pk})
    return subscription


def idempotency_purge(*, now: datetime | None = None) -> int:
    """Forget idempotency records older than the promised 24 hours (a scheduled job)."""
    cutoff = (now or timezone.now()) - IDEMPOTENCY_KEEP
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted

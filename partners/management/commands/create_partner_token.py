"""Create an API client for a partner organization (created if needed) and print its token alone on the last line."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from healthops.audit import acting_as
from healthops.errors import DomainError
from partners.models import Scope
from partners.services import partner_client_create, partner_organization_ensure


class Command(BaseCommand):
    help = "Create a partner API client and print its token (shown once; only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("org", help="The partner organization's identifier (created as a partner if unknown).")
        parser.add_argument("--scopes", nargs="+", default=list(Scope.values), metavar="SCOPE",
                            help=f"Scopes (default: all): {', '.join(Scope.values)}. Comma- or space-separated.")
        parser.add_argument("--name", default="", help="The organization's name when it is created.")
        parser.add_argument("--client-name", default="", help="A name for this client.")
        parser.add_argument("--expires-days", type=int, default=None, help="Days until the token expires.")
        parser.add_argument("--rate-per-minute", type=int, default=None,
                            help="Requests a minute this client may make (default 600).")
        parser.add_argument("--burst", type=int, default=None, help="Requests it may make at once (default 60).")

    def handle(self, *args, org, scopes, name, client_name, expires_days, rate_per_minute, burst, **options):
        if any(v is not None and v < 1 for v in (rate_per_minute, burst)):
            raise CommandError("--rate-per-minute and --burst must be whole numbers of at least 1.")
        scopes = [s for item in scopes for s in item.split(",") if s]
        expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None
        try:
            with acting_as() as actor:
                organization = partner_organization_ensure(identifier=org, name=name, actor=actor)
                client, token = partner_client_create(organization=organization, scopes=scopes, actor=actor,
                                                      name=client_name, expires_at=expires_at,
                                                      rate_per_minute=rate_per_minute, burst=burst)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Partner {organization.name} ({organization.identifier}), client {client.prefix}…, "
                          f"scopes: {' '.join(client.scopes)}")
        self.stdout.write(token)

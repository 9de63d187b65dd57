"""`manage.py seed_demo [--scale N] [--no-users]`: the demo network, deterministic and idempotent."""

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from healthops.models import Event
from healthops.seed import seed_demo

# Order of the one-line summary; anything else created is listed after these.
SUMMARY = ["sites", "departments", "staff", "shifts", "rooms", "equipment", "service types", "payers", "payer rules",
           "organizations", "patients", "coverages", "referrals", "documents", "eligibility checks", "authorizations",
           "appointments", "users"]


class Command(BaseCommand):
    help = ("Seed the HealthOps demo network (sites, staff, rooms, payers, patients, referrals, appointments). "
            "Deterministic and idempotent: a second run changes nothing. --scale N multiplies the volume of "
            "patients, referrals, appointments and events for benchmarks.")

    def add_arguments(self, parser):
        parser.add_argument("--scale", type=int, default=1, help="Multiply patients, referrals, appointments and "
                            "events by N (integer >= 1; 500 gives about 100k referrals).")
        parser.add_argument("--no-users", action="store_true", help="Do not create the demo users.")

    def handle(self, *args, scale: int, no_users: bool, **options):
        if scale < 1:
            raise CommandError("--scale must be a whole number of at least 1.")
        if not no_users and not settings.ALLOW_DEMO_USERS:
            raise CommandError(
                "Refusing to create demo users with a published password: this is allowed only when DEBUG is on or "
                "ALLOW_DEMO_USERS=1 is set. Run with --no-users to seed the network without them.")
        started = time.monotonic()
        events_before = Event.objects.count()
        verbose = options.get("verbosity", 1) >= 2
        ctx = seed_demo(scale=scale, with_users=not no_users,
                        progress=(lambda msg: self.stderr.write(msg)) if verbose else None)
        elapsed = time.monotonic() - started
        events = Event.objects.count() - events_before
        counts = {k: v for k, v in ctx.counts.items() if v}
        if not counts and not events:
            self.stdout.write(f"Demo network already seeded; nothing changed ({elapsed:.1f} s).")
            return
        ordered = [k for k in SUMMARY if k in counts] + sorted(k for k in counts if k not in SUMMARY)
        parts = [f"{counts[k]} {k}" for k in ordered] + [f"{events} events"]
        self.stdout.write(self.style.SUCCESS(f"Seeded HealthOps demo network: {', '.join(parts)} in {elapsed:.1f} s"))

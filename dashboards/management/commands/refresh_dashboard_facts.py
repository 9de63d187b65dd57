"""Bring the dashboards' rollup up to date with the event log (the worker does the same every minute)."""

import time

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Fold new events into the dashboard facts; --full rebuilds them from the first event."

    def add_arguments(self, parser):
        parser.add_argument("--full", action="store_true", help="Rebuild every row from the whole event log.")
        parser.add_argument("--skip-access", action="store_true", help="Do not recompute third-next-available.")

    def handle(self, *args, full=False, skip_access=False, **options):
        from dashboards.facts import refresh_access, refresh_facts

        started = time.perf_counter()
        result = refresh_facts(full=full)
        if not skip_access:
            result["access"] = refresh_access()
        access = "" if skip_access else f", access for {result['access']} service/site pairs"
        self.stdout.write(f"Refreshed {result['referrals']} referrals up to event {result['cursor']}{access}"
                          f" in {time.perf_counter() - started:.1f} s")

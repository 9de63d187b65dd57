"""The demo network behind `manage.py seed_demo`: deterministic, idempotent, written through the services.

`seed_demo()` lays out the network (sites, catalog, payers and rules, staff, shifts, rooms, equipment, users), then
patients and referrals at every step of their journey through the services, and for `scale > 1` adds benchmark
volume with bulk inserts. Every row has a natural key (MRN-000123, DEMO-REF-000123, WF-1001, ...) and is skipped
when it exists, so a second run changes nothing."""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from healthops.audit import acting_as, system_user

from .bulk import seed_bulk
from .journeys import BASE_REFERRALS, referral_key, seed_base_patients, seed_base_referrals
from .names import load_name_pool
from .network import (
    FUTURE_DAYS,
    PAST_DAYS,
    SeedContext,
    build_calendar,
    load_roster,
    seed_availability,
    seed_reference_data,
    seed_rooms_and_equipment,
    seed_shifts,
    seed_staff,
    seed_users,
)


def seed_demo(*, scale: int = 1, with_users: bool = True, now: datetime | None = None, progress=None) -> SeedContext:
    now = now or timezone.now()
    actor = system_user()
    pool = load_name_pool()
    with acting_as(actor):
        ctx = SeedContext(actor=actor, now=now, anchor=now.date() - timedelta(days=now.weekday()))
        # The base network is small: one transaction (fast on SQLite, all or nothing everywhere).
        with transaction.atomic():
            seed_reference_data(ctx)
            seed_rooms_and_equipment(ctx)
            seed_staff(ctx)
            load_roster(ctx)
            first, last = ctx.anchor - timedelta(days=PAST_DAYS), ctx.anchor + timedelta(days=FUTURE_DAYS)
            seed_shifts(ctx, first, last)
            seed_availability(ctx, first, last)
            seed_staffing_thresholds()
            if with_users:
                seed_users(ctx)
            seed_base_patients(ctx, pool)
            build_calendar(ctx)
            seed_base_referrals(ctx)
        start_flows(ctx)
        if scale > 1:
            # Benchmark volume: bulk inserts in chunks, each chunk its own transaction.
            seed_bulk(ctx, scale=scale, pool=pool, progress=progress)
    return ctx


def start_flows(ctx: SeedContext) -> None:
    """Send the open demo referrals through the real ReferralFlow: the human tasks it opens at once (match the
    patient, triage, missing documents) fill the queues now; its automated steps (eligibility, authorization,
    booking) run on the worker once `make demo` starts it with the payer sandbox, and open the rest. Referrals
    already in the flow are left alone, so a second run changes nothing. The bulk volume of `--scale` stays history."""
    from referrals.models import Referral
    from referrals.work import referral_start_flow

    waiting = Referral.objects.filter(stage__in=Referral.OPEN_STAGES, process__isnull=True,
                                      external_identifier__in=[referral_key(n) for n in range(1, BASE_REFERRALS + 1)])
    for referral in waiting.order_by("pk"):
        with transaction.atomic():
            referral_start_flow(referral=referral)
        ctx.counts["flows started"] += 1


def seed_staffing_thresholds() -> None:
    """The demo clinics roster 8.5-hour shifts that include an unpaid 30-minute meal break: 42.5 h on site is a
    normal week there, so that is the overtime threshold of the demo's rule console (the product default is 40 h)."""
    from decimal import Decimal

    from staffing.models import StaffingSettings

    StaffingSettings.objects.get_or_create(pk=1, defaults={"weekly_hours_threshold": Decimal("42.5")})

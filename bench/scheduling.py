"""Scheduling benchmarks: slot search latency, and booking under contention (exclusion constraint vs row locks)."""

import random
import statistics
import threading
import time
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, close_old_connections, connection, connections, transaction
from django.utils import timezone


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def resource_count() -> dict:
    from healthops.models import Resource

    return {kind: Resource.objects.filter(kind=kind, active=True).count() for kind in ("staff", "room", "equipment")}


def slot_search_bench(*, runs: int = 60, seed: int = 1, days: int | None = None) -> dict:
    """A typical coordinator request: one service, every site, the default window, 20 ranked suggestions."""
    from scheduling.models import ServiceType
    from scheduling.slots import Preferences, find_slots

    rng = random.Random(seed)
    services = list(ServiceType.objects.filter(active=True).order_by("code"))
    timings, found = [], []
    for i in range(runs + 5):
        service = rng.choice(services)
        prefs = Preferences(time_of_day=rng.choice(["any", "morning", "afternoon"]))
        started = time.perf_counter()
        end = timezone.now() + timedelta(days=days) if days else None
        result = find_slots(service_type=service, preferences=prefs, limit=20, end=end)
        elapsed = (time.perf_counter() - started) * 1000
        if i >= 5:  # the first few warm caches and connections
            timings.append(elapsed)
            found.append(len(result))
    return {"runs": runs, "p50_ms": round(percentile(timings, 50), 1), "p95_ms": round(percentile(timings, 95), 1),
            "max_ms": round(max(timings), 1), "mean_candidates": round(statistics.mean(found), 1)}


def _contention_fixture(slots: int, resources: int):
    """A site with `resources` rooms and `slots` 30-minute starts: a deliberately small set everyone fights for."""
    from healthops.models import Organization, Patient, Resource, Site
    from scheduling.models import ServiceType
    from staffing.models import Specialty

    org, _ = Organization.objects.get_or_create(identifier="BENCH-NET", defaults={"name": "Bench", "kind": "network"})
    site, _ = Site.objects.get_or_create(code="bench-contention", defaults={
        "organization": org, "name": "Bench contention clinic", "kind": "clinic", "time_zone": "UTC"})
    spec, _ = Specialty.objects.get_or_create(code="bench", defaults={"name": "Bench"})
    service, _ = ServiceType.objects.get_or_create(code="bench-contention", defaults={
        "name": "Bench contention visit", "specialty": spec, "duration_minutes": 30, "staff_role": "physician"})
    rooms = []
    for i in range(resources):
        room, _ = Resource.objects.get_or_create(kind="room", name=f"Bench room {i}", site=site)
        rooms.append(room)
    patient, _ = Patient.objects.get_or_create(mrn="BENCH-CONTENTION", defaults={
        "given_name": "Bench", "family_name": "Contention", "birth_date": datetime(1990, 1, 1).date()})
    day = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=400 + random.randint(0, 9999))
    starts = [day + timedelta(minutes=30 * i) for i in range(slots)]
    return site, service, rooms, patient, starts


def _book_with_row_locks(*, patient, service_type, site, start, resources, actor):
    """The alternative design: lock the resources' rows, check for overlaps in Python, then insert."""
    from healthops.errors import Conflict
    from healthops.models import Resource
    from scheduling.models import BookedResource
    from scheduling.services import appointment_book

    end = start + timedelta(minutes=service_type.duration_minutes)
    with transaction.atomic():
        # Row locks on the resources serialise every booking of the same resource (prevents the check-then-insert race).
        list(Resource.objects.select_for_update().filter(pk__in=[r.pk for r in resources]).order_by("pk"))
        if BookedResource.objects.filter(resource__in=resources, active=True, start__lt=end, end__gt=start).exists():
            raise Conflict("taken", code="slot-taken")
        return appointment_book(patient=patient, service_type=service_type, site=site, start=start,
                                resources=resources, actor=actor)


def contention_bench(*, clients: int = 32, attempts_per_client: int = 10, slots: int = 6, resources: int = 2,
                     variant: str = "exclusion", seed: int = 3) -> dict:
    """`clients` threads, each with its own connection, book random (slot, resource) pairs as fast as they can."""
    from healthops.audit import system_user
    from healthops.errors import Conflict
    from scheduling.models import BookedResource
    from scheduling.services import appointment_book

    site, service, rooms, patient, starts = _contention_fixture(slots, resources)
    actor = system_user()
    book = appointment_book if variant == "exclusion" else _book_with_row_locks
    outcomes = {"booked": 0, "conflict": 0, "error": 0}
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients)

    def client(n: int):
        rng = random.Random(seed * 1000 + n)
        try:
            barrier.wait()
            for _ in range(attempts_per_client):
                start, room = rng.choice(starts), rng.choice(rooms)
                t0 = time.perf_counter()
                try:
                    book(patient=patient, service_type=service, site=site, start=start, resources=[room], actor=actor)
                    kind = "booked"
                except Conflict:
                    kind = "conflict"
                except (IntegrityError, Exception) as exc:  # noqa: BLE001 - every other failure is counted as an error
                    kind = "error"
                    errors.append(exc.__class__.__name__)
                with lock:
                    outcomes[kind] += 1
                    latencies.append((time.perf_counter() - t0) * 1000)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    close_old_connections()
    overlaps = count_overlaps([r.pk for r in rooms])
    held = BookedResource.objects.filter(resource__in=rooms, active=True).count()
    return {"variant": variant, "clients": clients, "attempts": sum(outcomes.values()), **outcomes,
            "overlaps_in_db": overlaps, "slots_available": slots * resources, "slots_held": held,
            "throughput_per_s": round(sum(outcomes.values()) / wall, 1),
            "p50_ms": round(percentile(latencies, 50), 1), "p99_ms": round(percentile(latencies, 99), 1),
            "error_kinds": sorted(set(errors))}


def count_overlaps(resource_ids: list[int]) -> int:
    """Pairs of active holds of one resource that overlap in time, counted by the database itself."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT count(*) FROM scheduling_bookedresource a JOIN scheduling_bookedresource b
               ON a.resource_id = b.resource_id AND a.id < b.id AND a.active AND b.active
               AND a.start < b."end" AND b.start < a."end" WHERE a.resource_id = ANY(%s)""", [resource_ids])
        return cursor.fetchone()[0]


def now_utc() -> datetime:
    return datetime.now(UTC)

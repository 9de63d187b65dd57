"""A coordinator's queue page under 8 concurrent users, side by side with a bare Django view (the floor)."""

import threading
import time

from django.db import connections, transaction
from django.test import Client
from django.test.utils import override_settings

from .scheduling import percentile


def ensure_open_tasks(n: int) -> int:
    """Open 'match the patient' tasks at the demo coordinator's sites: referrals that arrive without a patient."""
    from django.contrib.auth import get_user_model

    from healthops.audit import system_user
    from healthops.models import Organization, Site
    from referrals.models import WorkItem
    from referrals.services import referral_intake

    coordinator = get_user_model().objects.get(username="coordinator")
    sites = list(Site.objects.filter(pk__in=coordinator.profile.sites.values("pk")))
    have = WorkItem.objects.filter(completed_at__isnull=True, referral__site__in=sites).count()
    practice = Organization.objects.filter(kind="practice").order_by("pk").first()
    actor = system_user()
    for i in range(have, n):
        with transaction.atomic():
            referral_intake(actor=actor, referring_organization=practice, site=sites[i % len(sites)],
                            reason="Bench referral without a patient", source_channel="fax",
                            priority=["routine", "urgent", "asap", "stat"][i % 4])
    return max(n, have)


def _load(path: str, users: int, requests_each: int) -> list[float]:
    from django.contrib.auth import get_user_model

    coordinator = get_user_model().objects.get(username="coordinator")
    timings: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(users)

    def user():
        client = Client()
        client.force_login(coordinator)
        client.get(path)  # warm this user's session and connection
        barrier.wait()
        mine = []
        for _ in range(requests_each):
            t0 = time.perf_counter()
            response = client.get(path)
            mine.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200, response.status_code
        with lock:
            timings.extend(mine)
        connections.close_all()

    threads = [threading.Thread(target=user) for _ in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return timings


def queue_page_bench(*, users: int = 8, requests_each: int = 15, tasks: int = 600) -> dict:
    open_tasks = ensure_open_tasks(tasks)
    with override_settings(ROOT_URLCONF="bench.urls", ALLOWED_HOSTS=["testserver"]):
        queue = _load("/queues/?tab=team", users, requests_each)
        floor = _load("/bench/bare/", users, requests_each)
    return {"users": users, "requests": len(queue), "open_tasks_at_coordinator_sites": open_tasks,
            "queue_p50_ms": round(percentile(queue, 50), 1), "queue_p95_ms": round(percentile(queue, 95), 1),
            "bare_p50_ms": round(percentile(floor, 50), 1), "bare_p95_ms": round(percentile(floor, 95), 1)}

"""A coordinator's queue page under 8 concurrent users, served by gunicorn as in production (DEBUG off), side by side
with a bare Django view (the floor): server time from the Server-Timing header and the latency the clients see."""

import http.client
import os
import threading
import time
from urllib.parse import urlsplit

from django.db import transaction
from django.test.utils import override_settings

from .scheduling import percentile
from .serve import gunicorn, server_ms

USERS = 8
SECRET_KEY = "bench-queues-secret-key-not-for-production-0123456789abcdef"  # the server's, to sign the sessions
PAGES = [("default", "/queues/", "/queues/ (My tasks, the default perspective)"),
         ("team", "/queues/?tab=team", "/queues/?tab=team (Team queue)"),
         ("bare", "/bench/bare/", "bare Django view (floor)")]


def workers() -> int:
    """One sync worker per core. The page is CPU-bound Python (PostgreSQL is ~10 ms of it) and PostgreSQL and the 8
    client threads share the same cores: measured on 2 cores, 5 workers (gunicorn's 2 x cores + 1) served no more
    requests per second than 2 and only interleaved them, which tripled each one's server time."""
    return int(os.environ.get("BENCH_QUEUE_WORKERS") or os.cpu_count() or 1)


def ensure_open_tasks(n: int) -> int:
    """Open 'match the patient' tasks at the demo coordinator's sites: referrals that arrive without a patient."""
    from django.contrib.auth import get_user_model

    from healthops.audit import system_user
    from healthops.models import Organization, Site
    from referrals.models import WorkItem
    from referrals.services import referral_create
    from referrals.work import referral_start_flow

    coordinator = get_user_model().objects.get(username="coordinator")
    sites = list(Site.objects.filter(pk__in=coordinator.profile.sites.values("pk")))
    have = WorkItem.objects.filter(completed_at__isnull=True, referral__site__in=sites).count()
    practice = Organization.objects.filter(kind="practice").order_by("pk").first()
    actor = system_user()
    for i in range(have, n):
        with transaction.atomic():  # the flow started here, as the worker would: no worker runs in this bench
            referral_start_flow(referral=referral_create(
                actor=actor, referring_organization=practice, site=sites[i % len(sites)],
                reason="Bench referral without a patient", source_channel="fax",
                priority=["routine", "urgent", "asap", "stat"][i % 4]))
    return max(n, have)


def ensure_claimed(n: int) -> int:
    """The coordinator holds `n` open tasks, so the default perspective (My tasks) is a full page, not an empty one."""
    from django.contrib.auth import get_user_model

    from referrals import selectors
    from referrals.work import task_claim

    coordinator = get_user_model().objects.get(username="coordinator")
    mine = selectors.queue_counts(user=coordinator, filters={})["mine"]
    for _ in range(mine, n):
        task_claim(task=selectors.queue_next_task(user=coordinator), actor=coordinator)
    return max(n, mine)


def analyze_queue_tables() -> None:
    """Planner statistics for the tasks just made, as autovacuum would have them (the bench server runs without it).
    Stale ones (analyzed while the queue was empty) plan the team queue as a nested loop of 540 x 600 rows: 3 s."""
    from django.db import connection
    from viewflow.workflow.models import Process, Task

    from referrals.models import WorkItem

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE " + ", ".join(m._meta.db_table for m in (WorkItem, Task, Process)))


def session_cookie(username: str) -> str:
    """A logged-in session of the user, as the login view would leave it, for a client's Cookie header."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model

    user = get_user_model().objects.get(username=username)
    with override_settings(SECRET_KEY=SECRET_KEY):
        session = import_module(settings.SESSION_ENGINE).SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def _get(conn: http.client.HTTPConnection, path: str, cookie: str) -> tuple[float, float | None]:
    started = time.perf_counter()
    conn.request("GET", path, headers={"Cookie": cookie})
    response = conn.getresponse()
    response.read()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status != 200:
        raise RuntimeError(f"GET {path}: {response.status} (see /tmp/healthops-bench-gunicorn.log)")
    if response.getheader("Connection", "").lower() == "close":  # sync workers close after each response
        conn.close()
    return elapsed, server_ms(response.headers)


def _load(base: str, path: str, cookies: list[str], requests_each: int) -> dict:
    """USERS threads, each with its own session and connection, GET `path` `requests_each` times, back to back."""
    timings: list[tuple[float, float | None]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(cookies))
    netloc = urlsplit(base).netloc

    def user(cookie: str):
        conn = http.client.HTTPConnection(netloc, timeout=120)
        for _ in range(2):  # warm-up, not counted: the worker's imports, template cache, connections
            _get(conn, path, cookie)
        barrier.wait()
        mine = [_get(conn, path, cookie) for _ in range(requests_each)]
        conn.close()
        with lock:
            timings.extend(mine)

    threads = [threading.Thread(target=user, args=(cookie,)) for cookie in cookies]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    client = [t[0] for t in timings]
    server = [t[1] for t in timings if t[1] is not None]
    if len(server) != len(timings):
        raise RuntimeError(f"GET {path}: responses without a Server-Timing header")
    return {"requests": len(timings), "per_s": round(len(timings) / wall, 1),
            "server_p50_ms": round(percentile(server, 50), 1), "server_p95_ms": round(percentile(server, 95), 1),
            "client_p50_ms": round(percentile(client, 50), 1), "client_p95_ms": round(percentile(client, 95), 1)}


def queue_page_bench(*, users: int = USERS, requests_each: int = 25, tasks: int = 600, claimed: int = 60) -> dict:
    open_tasks = ensure_open_tasks(tasks)
    held = ensure_claimed(claimed)
    analyze_queue_tables()
    cookies = [session_cookie("coordinator") for _ in range(users)]
    count = workers()
    with gunicorn(workers=count, env={"SECRET_KEY": SECRET_KEY}) as base:
        pages = {key: {"label": label, **_load(base, path, cookies, requests_each)} for key, path, label in PAGES}
    return {"users": users, "gunicorn_workers": count, "db_conn_max_age": os.environ.get("DB_CONN_MAX_AGE", "60 (DEBUG off)"),
            "open_tasks_at_coordinator_sites": open_tasks, "claimed_by_coordinator": held, "pages": pages}

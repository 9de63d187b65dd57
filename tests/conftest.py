"""Shared fixtures: a small network of two sites and a cast of users per role (one outsider at the other site)."""

import os
from pathlib import Path

import pytest
from django.conf import settings

from healthops import permissions
from healthops.sandbox.server import start_sandbox

from . import factories
from .support import Http


@pytest.fixture
def north(db):
    return factories.site(name="North Clinic", code="north")


@pytest.fixture
def south(db):
    return factories.site(name="South Clinic", code="south")


@pytest.fixture
def coordinator(north):
    return factories.user("coord", permissions.COORDINATOR, sites=[north])


@pytest.fixture
def outsider(south):
    """A coordinator who works only at the other site."""
    return factories.user("outsider", permissions.COORDINATOR, sites=[south])


@pytest.fixture
def scheduler(north):
    return factories.user("sched", permissions.SCHEDULER, sites=[north])


@pytest.fixture
def authspecialist(north):
    return factories.user("auth", permissions.AUTHSPECIALIST, sites=[north])


@pytest.fixture
def manager(db):
    return factories.user("mgr", permissions.MANAGER)


@pytest.fixture
def admin_user(db):
    return factories.user("adm", permissions.ADMIN, is_staff=True, is_superuser=True)


# The outside world: one in-process sandbox on a free loopback port, reset before every test that asks for it.

@pytest.fixture(scope="session")
def sandbox_server():
    server, base_url = start_sandbox(port=0, environ={}, webhook_backoff_seconds=0.05, webhook_timeout_seconds=2)
    yield server
    server.shutdown()


@pytest.fixture
def sandbox(sandbox_server) -> Http:
    """A client for a freshly reset sandbox."""
    client = Http(sandbox_server.base_url)
    assert client.post("/_control/reset").status == 200
    return client


@pytest.fixture(scope="session")
def shared_data() -> Path:
    root = Path(os.environ.get("HEALTHOPS_SHARED_DATA") or Path(settings.BASE_DIR).parent / "shared" / "data")
    if not (root / "fhir-davinci-pas-2.2.1").is_dir() or not (root / "fhir-r4-core").is_dir():
        pytest.skip(f"The shared data is not present at {root} (set HEALTHOPS_SHARED_DATA to point at it).")
    return root

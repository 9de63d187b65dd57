"""Integration tests talk to the real sandbox over HTTP with short timeouts and no sleeping between retries."""

import pytest

from healthops.integrations.client import Policy


@pytest.fixture
def fast_policy():
    return Policy(timeout=0.5, max_attempts=3, backoff_base=0.0, backoff_max=0.0, failure_threshold=3, open_seconds=60)


@pytest.fixture
def payer_url(sandbox):
    return f"{sandbox.base_url}/payer"


@pytest.fixture
def fast_settings(settings):
    settings.INTEGRATIONS = {"TIMEOUT_SECONDS": 0.5, "MAX_ATTEMPTS": 3, "BACKOFF_BASE_SECONDS": 0.0,
                             "BACKOFF_MAX_SECONDS": 0.0, "FAILURE_THRESHOLD": 3, "OPEN_SECONDS": 60}
    return settings

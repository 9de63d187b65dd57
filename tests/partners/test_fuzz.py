"""Property-based fuzzing of every documented operation (schemathesis against the app in-process, through the WSGI
app): whatever the input, never a 500. Skipped when schemathesis is not installed (a dev dependency)."""

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

pytestmark = pytest.mark.django_db


@pytest.fixture
def keep_connection():
    """As django.test.Client does: requests through the WSGI app must not close the test's database connection."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def test_no_documented_operation_answers_500(network, partner_a, django_capture_on_commit_callbacks, keep_connection):
    from healthops.wsgi import application

    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
    token = partner_a[1].token
    from partners.models import PartnerClient

    PartnerClient.objects.filter(pk=partner_a[0].pk).update(burst=100000, rate_per_minute=100000)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def fuzz(case):
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
            with django_capture_on_commit_callbacks(execute=True):
                case.call_and_validate(checks=[not_a_server_error])

        fuzz()

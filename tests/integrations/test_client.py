"""The governed client against the sandbox: retries, circuit breaker, recorded calls, malformed answers."""

from datetime import timedelta

import pytest
from django.utils import timezone

from healthops.integrations.client import Breaker
from healthops.integrations.payer import PayerClient
from healthops.models import CircuitBreaker, IntegrationCall

pytestmark = pytest.mark.django_db


def check(client, member="TEST-ACTIVE-1"):
    return client.check_eligibility(payer_key="acme", payer_identifier="PAYER-ACME", member_id=member,
                                    subject="coverage/1", request_id="req-1")


def test_answers_are_parsed_and_every_attempt_recorded(payer_url, fast_policy):
    client = PayerClient(payer_url, policy=fast_policy)
    assert check(client).body["in_force"] is True
    assert check(client, "TEST-INACTIVE-9").body["in_force"] is False
    assert check(client, "NOBODY").body["member_unknown"] is True
    calls = IntegrationCall.objects.filter(system="payer", operation="eligibility")
    assert calls.count() == 3 and set(calls.values_list("outcome", flat=True)) == {"ok"}


def test_server_errors_are_retried_then_reported_unreachable(sandbox, payer_url, fast_policy):
    sandbox.post("/_faults", {"endpoint": "payer.eligibility", "error_rate": 1.0})
    result = check(PayerClient(payer_url, policy=fast_policy))
    assert result.unreachable and result.attempts == 3
    assert list(IntegrationCall.objects.values_list("attempt", "outcome", "status_code").order_by("attempt")) == [
        (1, "failed", 503), (2, "failed", 503), (3, "failed", 503)]


def test_a_retry_after_a_timeout_gets_the_first_answer(sandbox, payer_url, fast_policy):
    sandbox.post("/_faults", {"endpoint": "payer.eligibility", "timeout_rate": 1.0, "timeout_seconds": 2})
    result = check(PayerClient(payer_url, policy=fast_policy))
    assert result.unreachable and "timed out" in result.error


def test_malformed_answer_is_recorded_with_its_payload_and_not_trusted(sandbox, payer_url, fast_policy):
    for kind in ("truncated", "wrong-shape"):
        sandbox.post("/_control/reset")
        sandbox.post("/_faults", {"endpoint": "payer.eligibility", "malformed_rate": 1.0, "malformed_kind": kind})
        result = check(PayerClient(payer_url, policy=fast_policy))
        assert result.outcome == "malformed" and result.attempts == 1  # a garbled answer is not retried blindly
        call = IntegrationCall.objects.filter(outcome="malformed").latest("at")
        assert call.payload and call.error


def test_circuit_opens_after_consecutive_failures_then_half_opens_and_closes(sandbox, payer_url, fast_policy):
    sandbox.post("/_faults", {"endpoint": "payer.eligibility", "error_rate": 1.0})
    client = PayerClient(payer_url, policy=fast_policy)
    check(client)  # three failed attempts: the threshold
    assert CircuitBreaker.objects.get(system="payer").state == "open"
    refused = check(client)
    assert refused.outcome == "circuit-open" and refused.attempts == 0
    assert IntegrationCall.objects.filter(outcome="circuit-open").count() == 1
    sandbox.delete("/_faults")
    CircuitBreaker.objects.filter(system="payer").update(opened_at=timezone.now() - timedelta(seconds=61))
    assert check(client).ok  # the half-open probe succeeds
    assert CircuitBreaker.objects.get(system="payer").state == "closed"


def test_failed_probe_reopens_at_once(payer_url, fast_policy, sandbox):
    breaker = Breaker("payer", fast_policy)
    CircuitBreaker.objects.create(system="payer", state="open", opened_at=timezone.now() - timedelta(seconds=61))
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # only one probe at a time
    breaker.record(success=False)
    state = CircuitBreaker.objects.get(system="payer")
    assert state.state == "open" and timezone.now() - state.opened_at < timedelta(seconds=5)


def test_unreachable_system_is_a_failure_not_a_crash(fast_policy):
    result = check(PayerClient("http://127.0.0.1:9/payer", policy=fast_policy))
    assert result.unreachable and "connection failed" in result.error

"""The failure drills of `make bench`, at test size: faults, a killed worker and an ERP outage lose nothing and
duplicate nothing."""

import pytest
from django.db import connection

from bench.drills import eligibility_drill, erp_outage_drill, worker_kill_drill

from .. import factories


@pytest.fixture
def network(db):
    site = factories.site()
    factories.service_type()
    return site


def test_eligibility_under_30_percent_faults_ends_definitive(network, sandbox):
    result = eligibility_drill(n=60, sandbox_url=sandbox.base_url)
    assert result["faults_injected"] > 0
    assert result["definitive_after_retries"] == 60, result
    assert result["lost"] == 0 and result["duplicate_records"] == 0


def test_erp_outage_loses_and_duplicates_nothing_and_keeps_order(network, sandbox):
    result = erp_outage_drill(appointments=6, outage_seconds=2.0, sandbox_url=sandbox.base_url)
    assert result["events"] == 8  # 6 booked + 2 cancelled
    assert result["lost"] == 0 and result["accepted_twice"] == 0 and result["in_order_per_subject"], result


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a worker process must share the database (PostgreSQL)")
@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_batch_completes_every_job_once(sandbox, tmp_path):
    factories.site()
    factories.service_type()
    result = worker_kill_drill(n=30, sandbox_url=sandbox.base_url, log_path=tmp_path / "worker.log", timeout=120)
    assert result["decided_when_killed"] < 30, result  # the kill landed mid-batch
    assert result["approved"] == 30 and result["payer_authorizations_created"] == 30, result
    assert result["duplicate_effects"] == 0, result

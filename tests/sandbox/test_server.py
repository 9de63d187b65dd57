"""Starting and stopping the sandbox: start-up files, the state file, the environment, logs and the command."""

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from healthops.integrations.fhir import parse_claim_response
from healthops.sandbox.server import start_sandbox
from healthops.sandbox.state import StateInputError

from ..support import Http
from .test_payer import eligibility, submit
from .test_systems import SHIFTS, cloudevent


@pytest.fixture
def started():
    servers = []

    def start(**kwargs):
        server, base_url = start_sandbox(port=0, **{"environ": {}, **kwargs})
        servers.append(server)
        return server, Http(base_url)

    yield start
    for server in servers:
        server.shutdown()


def test_startup_files_are_loaded_and_reapplied_on_reset(started, tmp_path):
    members, roster = tmp_path / "members.json", tmp_path / "roster.json"
    members.write_text(json.dumps([{"payer": "acme", "member_id": "MBR-GONE", "in_force": False}]))
    roster.write_text(json.dumps({"shifts": SHIFTS}))
    _, client = started(members_path=str(members), roster_path=str(roster))
    assert eligibility(client, "MBR-GONE", payer="acme").json["insurance"][0]["inforce"] is False
    client.post("/_control/roster", [])
    client.post("/_control/reset")
    assert len(client.get("/workforce/roster?from=2030-03-01&to=2030-03-31").json["shifts"]) == 3
    assert eligibility(client, "MBR-GONE", payer="acme").json["insurance"][0]["inforce"] is False


def test_bad_startup_files_fail_loudly(tmp_path):
    bad = tmp_path / "members.json"
    bad.write_text('[{"payer": "acme"}]')
    with pytest.raises(StateInputError, match="member_id"):
        start_sandbox(port=0, environ={}, members_path=str(bad))
    with pytest.raises(StateInputError, match="Cannot read"):
        start_sandbox(port=0, environ={}, roster_path=str(tmp_path / "missing.json"))


def test_state_file_survives_a_restart_including_pended_decisions(started, tmp_path):
    state_file = tmp_path / "sandbox-state.json"
    server, client = started(state_file=str(state_file), decide_after_seconds=0.3)
    first = parse_claim_response(submit(client, "TEST-ACTIVE-1", "P-1").json)
    pended = parse_claim_response(submit(client, "TEST-PEND-1", "P-2").json)
    client.post("/erp/events", cloudevent())
    client.post("/messaging/messages", {"channel": "sms", "to": "+15555550100", "body": "hi", "idempotency_key": "m"})
    server.shutdown()
    assert json.loads(state_file.read_text())["version"] == 1

    _, again = started(state_file=str(state_file), decide_after_seconds=0.3)
    replay = parse_claim_response(submit(again, "TEST-ACTIVE-1", "P-1").json)
    assert replay["auth_number"] == first["auth_number"]
    assert again.post("/erp/events", cloudevent()).status == 200  # still a duplicate
    assert again.post("/messaging/messages", {"channel": "sms", "to": "x", "body": "y", "idempotency_key": "m"}).status == 200
    assert again.get("/_control/stats").json["submissions"] == {"P-1": 2, "P-2": 1}
    for _ in range(100):
        answer = parse_claim_response(again.post("/payer/blueshield/Claim/$inquire", {"identifier": "P-2"}).json)
        if answer["review_action"] == "A1":
            break
        time.sleep(0.02)
    assert answer["review_action"] == "A1" and answer["tracking_id"] == pended["tracking_id"]
    assert parse_claim_response(submit(again, "TEST-ACTIVE-1", "P-3").json)["tracking_id"] == "TRK-000003"


def test_webhook_url_comes_from_the_environment(started):
    _, client = started(environ={"SANDBOX_WEBHOOK_URL": "http://127.0.0.1:1/hook", "SANDBOX_DECIDE_AFTER_SECONDS": "5"})
    assert client.get("/_control/webhook").json["url"] == "http://127.0.0.1:1/hook"
    assert client.get("/_control/config").json["decide_after_seconds"] == 5


def test_logs_never_carry_member_ids(started, caplog):
    _, client = started()
    with caplog.at_level(logging.DEBUG, logger="healthops.sandbox"):
        eligibility(client, "TEST-ACTIVE-SECRET1")
        submit(client, "MBR-SECRET2", "L-1")
        client.get("/messaging/messages?to=%2B15555550199")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "[member-id]" in text
    assert "SECRET" not in text and "5555550199" not in text


def test_a_chunked_request_body_is_read(started):
    _, client = started()
    import http.client
    from urllib.parse import urlsplit

    url = urlsplit(client.base_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
    body = json.dumps(cloudevent()).encode()
    connection.request("POST", "/erp/events", body=iter([body[:10], body[10:]]),
                       headers={"Content-Type": "application/cloudevents+json"}, encode_chunked=True)
    assert connection.getresponse().status == 202
    connection.close()


def test_run_sandbox_command_serves_until_interrupted():
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("SANDBOX_FAULTS", None)
    process = subprocess.Popen([sys.executable, "manage.py", "run_sandbox", "--port", "0"],
                               cwd=Path(settings.BASE_DIR), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env)
    try:
        line = process.stdout.readline()
        assert "HealthOps sandbox running at http://127.0.0.1:" in line, process.stderr.read()
        base_url = line.split(" at ")[1].split("/ ")[0].strip()
        assert Http(base_url).get("/").json["status"] == "ok"
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=10)
        assert process.returncode == 0 and "stopped" in out
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

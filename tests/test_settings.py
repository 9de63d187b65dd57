"""Settings from the environment, `check --deploy` clean in production, structured logs without identifiers."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from healthops.logging import JsonFormatter, RedactIdentifiersFilter

ROOT = Path(__file__).resolve().parent.parent


def run_manage(*args, **env):
    full_env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS"}}
    full_env.update(env)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=full_env, capture_output=True, text=True,
                          timeout=120)


def test_check_deploy_is_clean_in_production():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", DEBUG="0",
                        SECRET_KEY="x" * 20 + "a-long-random-production-secret-value-0123456789",
                        ALLOWED_HOSTS="healthops.example.org")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNINGS" not in result.stdout + result.stderr


def test_production_refuses_to_start_without_secret_key():
    result = run_manage("check", DEBUG="0", ALLOWED_HOSTS="healthops.example.org")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_secret_key_can_come_from_a_file(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("file-based-secret-" + "y" * 50)
    result = run_manage("shell", "-c", "from django.conf import settings; print(settings.SECRET_KEY[:18])",
                        DEBUG="0", SECRET_KEY_FILE=str(secret), ALLOWED_HOSTS="h.example.org")
    assert result.stdout.strip().splitlines()[-1] == "file-based-secret-", result.stderr


def test_bad_boolean_fails_loudly():
    result = run_manage("check", DEBUG="maybe")
    assert result.returncode != 0 and "DEBUG='maybe' is not a boolean" in result.stderr


def _format(message, *args, **extra):
    record = logging.LogRecord("healthops.test", logging.INFO, __file__, 1, message, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    RedactIdentifiersFilter().filter(record)
    return JsonFormatter().format(record)


def test_log_lines_are_json_with_extra_fields():
    line = json.loads(_format("referral %s received", 42, referral_id=42))
    assert line["message"] == "referral 42 received" and line["referral_id"] == 42 and line["level"] == "INFO"


@pytest.mark.parametrize("leak", ["jane.doe@example.org", "1984-03-12", "MRN-000123", "TEST-PEND-0001",
                                  "555-010-1234", "MBR-PAYER-000042"])
def test_identifiers_that_slip_into_a_log_call_are_redacted(leak):
    assert leak not in _format("could not match patient %s", leak)
    assert leak not in _format("lookup failed", detail=f"member {leak}")


def test_request_lines_lose_their_query_strings():
    line = _format('"GET /referrals/?q=Smith&stage=intake HTTP/1.1" 200 5120')
    assert "Smith" not in line and "/referrals/?[query]" in line

"""The OCEL 2.0 export validates against the OCEL 2.0 JSON schema, and its cycle times equal the dashboard's.

The `jsonschema` package is not a project dependency, so a small validator for the schema keywords the OCEL schema
uses (type, required, properties, items, enum, $ref, format date-time) checks it; jsonschema is used when present."""

import json
from datetime import datetime, timedelta
from pathlib import Path

from dashboards import kpis

SCHEMA = json.loads((Path(__file__).parent / "ocel2-schema.json").read_text())
TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None),
         "number": (int, float), "integer": int}


def validate(value, schema, root=SCHEMA, path="$"):
    if "$ref" in schema:
        schema = root["definitions"][schema["$ref"].rsplit("/", 1)[1]]
    if "type" in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        ok = any(isinstance(value, TYPES[k]) and not (k in ("number", "integer") and isinstance(value, bool))
                 for k in kinds)
        assert ok, f"{path}: {value!r} is not {kinds}"
    if "enum" in schema:
        assert value in schema["enum"], f"{path}: {value!r} not in {schema['enum']}"
    if schema.get("format") == "date-time":
        datetime.fromisoformat(value)
    for key in schema.get("required", []):
        assert key in value, f"{path}: missing {key}"
    for key, sub in schema.get("properties", {}).items():
        if isinstance(value, dict) and key in value:
            validate(value[key], sub, root, f"{path}.{key}")
    if "items" in schema:
        for i, item in enumerate(value):
            validate(item, schema["items"], root, f"{path}[{i}]")


def test_export_is_ocel2_and_reproduces_the_cycle_times(history, client, manager):
    client.force_login(manager)
    since, to = (history.T - timedelta(days=2)).date(), history.now.date()
    response = client.get(f"/dashboards/export/ocel.json?from={since}&to={to}")
    assert response.status_code == 200
    log = response.json()
    validate(log, SCHEMA)
    try:
        import jsonschema
    except ImportError:
        pass
    else:
        jsonschema.validate(log, SCHEMA)

    ids = {o["id"] for o in log["objects"]}
    assert {o["type"] for o in log["objects"]} == {"referral", "appointment", "authorization", "task"}
    assert {t["name"] for t in log["objectTypes"]} >= {"referral", "appointment", "authorization", "task"}
    assert {t["name"] for t in log["eventTypes"]} == {e["type"] for e in log["events"]}
    for e in log["events"]:
        assert all(r["objectId"] in ids for r in e["relationships"]), e
    assert "task/9001" in ids and f"referral/{history.e.pk}" not in ids  # E is outside the period

    # Cycle times from the export alone: first referral.received to first booking event, per referral object.
    received, booked = {}, {}
    for e in sorted(log["events"], key=lambda e: e["time"]):
        for r in e["relationships"]:
            if not r["objectId"].startswith("referral/"):
                continue
            if e["type"] == "referral.received":
                received.setdefault(r["objectId"], datetime.fromisoformat(e["time"]))
            if e["type"] in ("referral.booked", "referral.appointment-linked"):
                booked.setdefault(r["objectId"], datetime.fromisoformat(e["time"]))
    f = kpis.Filters(since=datetime.combine(since, datetime.min.time(), history.T.tzinfo),
                     until=datetime.combine(to + timedelta(days=1), datetime.min.time(), history.T.tzinfo))
    cycles = [(booked[o] - received[o]).total_seconds() for o in booked if f.since <= booked[o] < f.until]
    figures = client.get(f"/api/v1/kpis?from={since}&to={to}").json()["summary"]
    assert figures["booked"] == len(cycles) == 3
    assert figures["cycle_p50_hours"] == kpis.hours(kpis.percentile(cycles, 0.5))
    assert figures["cycle_p90_hours"] == kpis.hours(kpis.percentile(cycles, 0.9))

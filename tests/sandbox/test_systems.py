"""The simulated ERP (CloudEvents), workforce system (rosters) and messaging sink, over real HTTP."""

import pytest


def cloudevent(event_id="e-1", source="/healthops/referrals", kind="org.healthops.referral.received.v1", **extra):
    return {"specversion": "1.0", "id": event_id, "source": source, "type": kind, "subject": "referral/1",
            "time": "2030-01-02T03:04:05Z", "datacontenttype": "application/json", "data": {"referral": 1}, **extra}


# -- ERP --------------------------------------------------------------------------------------------------------

def test_erp_accepts_and_dedupes_cloudevents(sandbox):
    first = sandbox.post("/erp/events", cloudevent(), content_type="application/cloudevents+json")
    assert first.status == 202 and first.json["status"] == "accepted"
    again = sandbox.post("/erp/events", cloudevent(data={"changed": True}))
    assert again.status == 200 and again.json["status"] == "duplicate"
    other_source = sandbox.post("/erp/events", cloudevent(source="/healthops/scheduling"))
    assert other_source.status == 202
    events = sandbox.get("/erp/events").json["events"]
    assert [(e["source"], e["id"]) for e in events] == [("/healthops/referrals", "e-1"), ("/healthops/scheduling", "e-1")]
    assert events[0]["data"] == {"referral": 1}  # the first one is kept
    stats = sandbox.get("/_control/stats").json
    assert (stats["erp_events"], stats["erp_duplicates"]) == (2, 1)


def test_erp_lists_in_arrival_order_with_filters(sandbox):
    for n, (subject, kind) in enumerate([("referral/1", "a.v1"), ("referral/2", "b.v1"), ("referral/1", "b.v1")]):
        sandbox.post("/erp/events", cloudevent(event_id=f"e-{n}", subject=subject, kind=kind))
    assert [e["id"] for e in sandbox.get("/erp/events?subject=referral/1").json["events"]] == ["e-0", "e-2"]
    assert [e["id"] for e in sandbox.get("/erp/events?type=b.v1").json["events"]] == ["e-1", "e-2"]
    assert sandbox.get("/erp/events?subject=referral/1&type=b.v1").json["count"] == 1


@pytest.mark.parametrize(("change", "message"), [
    ({"specversion": "0.3"}, "specversion"), ({"id": ""}, "id"), ({"source": None}, "source"),
    ({"type": 5}, "type"), ({"time": "yesterday"}, "time"), ({"subject": 7}, "subject"),
])
def test_erp_rejects_invalid_cloudevents_with_a_clear_message(sandbox, change, message):
    answer = sandbox.post("/erp/events", {**cloudevent(), **change})
    assert answer.status == 400 and message in answer.json["error"]
    assert sandbox.get("/erp/events").json["count"] == 0


def test_erp_rejects_other_content_types_and_non_objects(sandbox):
    assert sandbox.post("/erp/events", cloudevent(), content_type="text/xml").status == 415
    assert sandbox.post("/erp/events", [cloudevent()]).status == 400


# -- workforce --------------------------------------------------------------------------------------------------

SHIFTS = [
    {"id": "s2", "staff_external_id": "W-2", "site_code": "north", "department_code": "radiology",
     "start": "2030-03-02T08:00:00-06:00", "end": "2030-03-02T16:00:00-06:00"},
    {"id": "s1", "staff_external_id": "W-1", "site_code": "north", "department_code": "radiology",
     "start": "2030-03-01T22:00:00-06:00", "end": "2030-03-02T06:00:00-06:00"},
    {"id": "s3", "staff_external_id": "W-1", "site_code": "south", "department_code": "lab",
     "start": "2030-03-05T08:00:00+00:00", "end": "2030-03-05T12:00:00+00:00"},
]


def test_roster_serves_loaded_shifts_by_date(sandbox):
    assert sandbox.post("/_control/roster", SHIFTS).json == {"shifts": 3}
    answer = sandbox.get("/workforce/roster?from=2030-03-01&to=2030-03-02")
    assert answer.status == 200
    assert [s["id"] for s in answer.json["shifts"]] == ["s1", "s2"]
    assert set(answer.json["shifts"][0]) == {"id", "staff_external_id", "site_code", "department_code", "start", "end"}
    assert [s["id"] for s in sandbox.get("/workforce/roster?from=2030-03-01&to=2030-03-31&site=south").json["shifts"]] == ["s3"]
    assert sandbox.get("/workforce/roster?from=2030-04-01&to=2030-04-02").json["shifts"] == []


@pytest.mark.parametrize("query", ["", "?from=2030-03-01", "?from=2030-3-1&to=2030-03-02", "?from=2030-02-30&to=2030-03-01",
                                   "?from=2030-03-02&to=2030-03-01", "?from=2030-01-01&to=2031-06-01", "?from=x&to=y"])
def test_roster_rejects_bad_dates(sandbox, query):
    answer = sandbox.get("/workforce/roster" + query)
    assert answer.status == 400 and answer.json["error"]


@pytest.mark.parametrize("bad", [
    [{**SHIFTS[0], "start": "2030-03-02T08:00:00"}],  # no offset
    [{**SHIFTS[0], "end": "2030-03-02T07:00:00-06:00"}],  # ends before it starts
    [{**SHIFTS[0], "site_code": ""}], [SHIFTS[0], SHIFTS[0]], {"not": "a roster"},
])
def test_roster_load_validates(sandbox, bad):
    assert sandbox.post("/_control/roster", bad).status == 400


# -- messaging --------------------------------------------------------------------------------------------------

def test_messages_are_stored_and_read_back_by_recipient(sandbox):
    sms = sandbox.post("/messaging/messages", {"channel": "sms", "to": "+15555550100", "body": "See you Monday"})
    assert sms.status == 201 and sms.json["id"].startswith("MSG-")
    sandbox.post("/messaging/messages", {"channel": "email", "to": "pat@example.org", "body": "Your appointment"})
    only_sms = sandbox.get("/messaging/messages?to=%2B15555550100").json
    assert only_sms["count"] == 1 and only_sms["messages"][0]["body"] == "See you Monday"
    assert sandbox.get("/messaging/messages?channel=email").json["count"] == 1
    assert sandbox.get("/messaging/messages").json["count"] == 2


def test_messages_with_the_same_idempotency_key_are_stored_once(sandbox):
    message = {"channel": "sms", "to": "+15555550100", "body": "Reminder", "idempotency_key": "appt-1-reminder"}
    first = sandbox.post("/messaging/messages", message)
    again = sandbox.post("/messaging/messages", message)
    assert (first.status, again.status) == (201, 200) and again.json["id"] == first.json["id"]
    header = sandbox.post("/messaging/messages", {**message, "idempotency_key": None}, headers={"Idempotency-Key": "h-1"})
    header_again = sandbox.post("/messaging/messages", {**message, "idempotency_key": None},
                                headers={"Idempotency-Key": "h-1"})
    assert (header.status, header_again.status) == (201, 200)
    stats = sandbox.get("/_control/stats").json
    assert (stats["messages"], stats["message_duplicates"]) == (2, 2)


@pytest.mark.parametrize("bad", [
    {"channel": "fax", "to": "x", "body": "y"}, {"channel": "sms", "to": "", "body": "y"},
    {"channel": "sms", "to": "x"}, {"channel": "sms", "to": "x", "body": "y", "idempotency_key": 5}, ["list"],
])
def test_bad_messages_are_rejected(sandbox, bad):
    assert sandbox.post("/messaging/messages", bad).status == 400


def test_index_and_unknown_paths(sandbox):
    index = sandbox.get("/").json
    assert index["status"] == "ok" and "POST /payer/<payer>/Claim/$submit" in index["endpoints"]
    assert sandbox.get("/nowhere").status == 404
    assert sandbox.delete("/erp/events").status == 405

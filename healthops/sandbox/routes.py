"""The sandbox's URL table: each route names its fault endpoint (None = never faulted) and its handler."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import payer, systems
from .faults import FaultSpecError, parse_faults
from .state import StateInputError, parse_members, parse_roster
from .web import FHIR_ACCEPTED, HttpError, Request, Response, fhir

if TYPE_CHECKING:
    from .server import SandboxServer

Handler = Callable[..., Response]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    pattern: re.Pattern[str]
    endpoint: str | None
    handler: Handler


# ----------------------------------------------------------------------------------------------------------------
# Payer
# ----------------------------------------------------------------------------------------------------------------

def eligibility(server: SandboxServer, req: Request, payer_key: str) -> Response:
    body = req.json(fhir=True, accepted=FHIR_ACCEPTED)
    return fhir(200, payer.check_eligibility(server.state, payer_key, body))


def claim_submit(server: SandboxServer, req: Request, payer_key: str) -> Response:
    body = req.json(fhir=True, accepted=FHIR_ACCEPTED)
    return fhir(200, payer.submit(server.state, payer_key, body, idempotency_key=req.header("Idempotency-Key"),
                                  base_url=server.base_url))


def claim_inquire(server: SandboxServer, req: Request, payer_key: str) -> Response:
    body = req.json(fhir=True, accepted=FHIR_ACCEPTED)
    return fhir(200, payer.inquire(server.state, payer_key, body, base_url=server.base_url))


def claim_response(server: SandboxServer, req: Request, payer_key: str, tracking_id: str) -> Response:
    return fhir(200, payer.claim_response(server.state, payer_key, tracking_id, base_url=server.base_url))


# ----------------------------------------------------------------------------------------------------------------
# Faults and control
# ----------------------------------------------------------------------------------------------------------------

def faults_add(server: SandboxServer, req: Request) -> Response:
    try:
        added = parse_faults(req.json())
    except FaultSpecError as exc:
        raise HttpError(400, str(exc)) from exc
    with server.state.lock:
        server.state.faults.extend(added)
    return Response(201, {"added": [f.spec for f in added], **_faults_listing(server)})


def _faults_listing(server: SandboxServer) -> dict[str, Any]:
    now = time.monotonic()
    with server.state.lock:
        return {"faults": [f.describe(now) for f in server.state.faults]}


def faults_list(server: SandboxServer, req: Request) -> Response:
    return Response(200, _faults_listing(server))


def faults_clear(server: SandboxServer, req: Request) -> Response:
    with server.state.lock:
        server.state.faults.clear()
    return Response(200, {"faults": []})


def reset(server: SandboxServer, req: Request) -> Response:
    server.state.reset()
    return Response(200, {"status": "reset"})


def stats(server: SandboxServer, req: Request) -> Response:
    return Response(200, server.state.stats())


def members_load(server: SandboxServer, req: Request) -> Response:
    try:
        members = parse_members(req.json())
    except StateInputError as exc:
        raise HttpError(400, str(exc)) from exc
    with server.state.lock:
        if req.query.get("replace") in ("1", "true"):
            server.state.members.clear()
        server.state.members.update(members)
        server.state.touch()
        total = len(server.state.members)
    return Response(200, {"loaded": len(members), "members": total})


def roster_load(server: SandboxServer, req: Request) -> Response:
    try:
        shifts = parse_roster(req.json())
    except StateInputError as exc:
        raise HttpError(400, str(exc)) from exc
    with server.state.lock:
        server.state.roster = shifts
        server.state.touch()
    return Response(200, {"shifts": len(shifts)})


def decide(server: SandboxServer, req: Request) -> Response:
    body = req.json() if req.body.strip() else {}
    if not isinstance(body, dict):
        raise HttpError(400, "Send {} or {\"tracking_id\"|\"claim_identifier\": ..., \"review_action\": \"A1\"|\"A3\"}.")
    named = {k: body.get(k) for k in ("tracking_id", "claim_identifier") if body.get(k)}
    decided = payer.decide_pending(server.state, base_url=server.base_url, due_only=False,
                                   review_action=body.get("review_action", "A1"), **named)
    if named and not decided:
        raise HttpError(404, "No pended prior authorization matches.")
    server.push_notifications(decided)
    return Response(200, {"decided": [s["tracking_id"] for s, _ in decided]})


def webhook_set(server: SandboxServer, req: Request) -> Response:
    body = req.json()
    if not isinstance(body, dict):
        raise HttpError(400, "Send {\"url\": \"http://...\" | null, \"attempts\"?, \"backoff_seconds\"?, \"timeout_seconds\"?}.")
    url = body.get("url")
    if url is not None and (not isinstance(url, str) or not url.startswith(("http://", "https://"))):
        raise HttpError(400, "url must be an http(s) URL, or null to stop pushing.")
    settings = {k: body[k] for k in ("attempts", "backoff_seconds", "timeout_seconds") if k in body}
    for key, value in settings.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise HttpError(400, f"{key} must be a non-negative number.")
    with server.state.lock:
        config = server.state.config
        config.webhook_url = url
        config.webhook_attempts = int(settings.get("attempts", config.webhook_attempts))
        config.webhook_backoff_seconds = float(settings.get("backoff_seconds", config.webhook_backoff_seconds))
        config.webhook_timeout_seconds = float(settings.get("timeout_seconds", config.webhook_timeout_seconds))
        server.state.touch()
    return webhook_get(server, req)


def webhook_get(server: SandboxServer, req: Request) -> Response:
    with server.state.lock:
        config = server.state.config
        return Response(200, {"url": config.webhook_url, "attempts": config.webhook_attempts,
                              "backoff_seconds": config.webhook_backoff_seconds,
                              "timeout_seconds": config.webhook_timeout_seconds})


def deliveries(server: SandboxServer, req: Request) -> Response:
    with server.state.lock:
        return Response(200, {"deliveries": list(server.state.deliveries)})


def config_set(server: SandboxServer, req: Request) -> Response:
    body = req.json()
    value = body.get("decide_after_seconds") if isinstance(body, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise HttpError(400, "Send {\"decide_after_seconds\": <non-negative number>}.")
    with server.state.lock:
        server.state.config.decide_after_seconds = float(value)
        server.state.touch()
    return config_get(server, req)


def config_get(server: SandboxServer, req: Request) -> Response:
    with server.state.lock:
        return Response(200, {"decide_after_seconds": server.state.config.decide_after_seconds,
                              "approval_days": server.state.config.approval_days})


def submissions(server: SandboxServer, req: Request) -> Response:
    with server.state.lock:
        rows = [{"tracking_id": s["tracking_id"], "payer": s["payer"], "key": s["key"],
                 "claim_identifier": s["claim_identifier"], "review_action": s["decision"]["review_action"],
                 "auth_number": s["decision"]["auth_number"], "created_at": s["created_at"],
                 "decided_at": s["decided_at"]} for s in server.state.submissions.values()]
    return Response(200, {"submissions": rows})


def index(server: SandboxServer, req: Request) -> Response:
    return Response(200, {"name": "healthops-sandbox", "status": "ok", "base_url": server.base_url,
                          "endpoints": [f"{r.method} {r.path}" for r in ROUTES]})


# ----------------------------------------------------------------------------------------------------------------
# The table
# ----------------------------------------------------------------------------------------------------------------

def _route(method: str, path: str, endpoint: str | None, handler: Handler) -> Route:
    regex = re.escape(path).replace(r"<payer>", r"(?P<payer_key>[A-Za-z0-9_.-]+)")
    regex = regex.replace(r"<id>", r"(?P<tracking_id>[A-Za-z0-9_.-]+)")
    return Route(method, path, re.compile(f"^{regex}/?$"), endpoint, handler)


def _systems(handler: Callable[..., Response]) -> Handler:
    def adapter(server: SandboxServer, req: Request) -> Response:
        return handler(server.state, req)

    return adapter


ROUTES: list[Route] = [
    _route("GET", "/", None, index),
    _route("POST", "/payer/<payer>/CoverageEligibilityRequest", "payer.eligibility", eligibility),
    _route("POST", "/payer/<payer>/Claim/$submit", "payer.submit", claim_submit),
    _route("POST", "/payer/<payer>/Claim/$inquire", "payer.inquire", claim_inquire),
    _route("GET", "/payer/<payer>/ClaimResponse/<id>", "payer.inquire", claim_response),
    _route("POST", "/erp/events", "erp.events", _systems(systems.erp_accept)),
    _route("GET", "/erp/events", "erp.events", _systems(systems.erp_list)),
    _route("GET", "/workforce/roster", "workforce.roster", _systems(systems.roster)),
    _route("POST", "/messaging/messages", "messaging", _systems(systems.message_send)),
    _route("GET", "/messaging/messages", "messaging", _systems(systems.message_list)),
    _route("POST", "/_faults", None, faults_add),
    _route("GET", "/_faults", None, faults_list),
    _route("DELETE", "/_faults", None, faults_clear),
    _route("POST", "/_control/reset", None, reset),
    _route("GET", "/_control/stats", None, stats),
    _route("POST", "/_control/members", None, members_load),
    _route("POST", "/_control/roster", None, roster_load),
    _route("POST", "/_control/decide", None, decide),
    _route("POST", "/_control/webhook", None, webhook_set),
    _route("GET", "/_control/webhook", None, webhook_get),
    _route("GET", "/_control/webhook/deliveries", None, deliveries),
    _route("POST", "/_control/config", None, config_set),
    _route("GET", "/_control/config", None, config_get),
    _route("GET", "/_control/submissions", None, submissions),
]


def resolve(method: str, path: str) -> tuple[Route, dict[str, str]]:
    """The route for a request; 404 for an unknown path, 405 for a known path with another method."""
    allowed = []
    for route in ROUTES:
        match = route.pattern.match(path)
        if match:
            if route.method == method:
                return route, match.groupdict()
            allowed.append(route.method)
    if allowed:
        raise HttpError(405, f"{method} is not allowed here; use {', '.join(sorted(set(allowed)))}.",
                        fhir=path.startswith("/payer/"), code="not-supported")
    raise HttpError(404, f"No sandbox endpoint at {path}.", fhir=path.startswith("/payer/"), code="not-found")


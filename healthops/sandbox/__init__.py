"""Simulated external systems for HealthOps (payers, ERP, workforce, messaging) behind a real HTTP server on loopback.

Run it with ``python manage.py run_sandbox [--port 8100]`` or in-process with
``healthops.sandbox.server.start_sandbox(port=0)``. It keeps its own state in memory (optionally a JSON file),
never in the HealthOps database, and never imports Django's ORM.

Endpoints (payer answers are ``application/fhir+json``; bodies may be ``application/json`` or
``application/fhir+json``):

``POST /payer/<payer>/CoverageEligibilityRequest``
    A CoverageEligibilityRequest. The member is named in the focal (else first) ``insurance[].coverage``:
    ``{"identifier": {"value": "<member id>"}}``; or ``{"reference": "#<id>"}`` to a contained Coverage with
    ``subscriberId`` (else ``identifier[0].value``); or, without ``insurance``, a single contained Coverage.
    Minimal form: ``{"resourceType": "CoverageEligibilityRequest",
    "insurance": [{"coverage": {"identifier": {"value": "MBR-1"}}}]}``. Answer: a CoverageEligibilityResponse,
    ``outcome: complete`` with ``insurance[0].inforce`` true/false; ``outcome: error`` with ``error[0].code`` X12 901
    ``75`` ("Subscriber/Insured Not Found", text "member not found") for an unknown member, or
    adjudication-error ``a001`` ("Missing Identifier") when no member id could be read (as the official R4
    examples, which point at a Coverage by bare reference, do).
``POST /payer/<payer>/Claim/$submit``
    A PAS request Bundle (its first Claim entry; ``insurance[].coverage`` may reference a Coverage entry of the
    Bundle by ``Coverage/<id>`` or full URL) or a bare Claim (contained Coverage or ``coverage.identifier``).
    ``Claim.identifier`` (or an ``Idempotency-Key`` header) is required. Answer: a PAS response Bundle whose first
    entry is a ClaimResponse with ``item[].adjudication[].extension`` reviewAction / reviewActionCode:
    A1 (with ``number`` = auth number, also ``preAuthRef``; ``itemPreAuthPeriod`` and ``preAuthPeriod``;
    ``itemAuthorizedDetail.quantity`` = units), A3 (``reasonCode``) or A4 (pended); the tracking id is in each item's
    ``administrationReferenceNumber`` and in ``identifier`` (system ``urn:healthops:sandbox:tracking-id``).
    The same Idempotency-Key (else the same Claim.identifier) to the same payer replays the first answer.
``POST /payer/<payer>/Claim/$inquire``
    A PAS inquiry Bundle/Claim (matched by any ``Claim.identifier`` value or item ``authorizationNumber`` /
    ``administrationReferenceNumber``) or ``{"identifier" | "tracking_id" | "preAuthRef": "..."}``: the current
    answer as an inquiry response Bundle; 404 OperationOutcome when nothing matches.
``GET /payer/<payer>/ClaimResponse/<tracking id>``: the current ClaimResponse.
``POST /erp/events``, ``GET /erp/events?subject=&type=``: CloudEvents 1.0 (structured JSON), deduped on (source, id).
``GET /workforce/roster?from=YYYY-MM-DD&to=YYYY-MM-DD[&site=]``: ``{"shifts": [...]}``.
``POST /messaging/messages``, ``GET /messaging/messages?to=&channel=``: the messaging sink.
``POST|GET|DELETE /_faults``: fault specs (see ``faults``).
``/_control/...``: ``POST reset``, ``GET stats``, ``POST members``, ``POST roster``, ``POST decide``,
``POST|GET webhook``, ``GET webhook/deliveries``, ``POST|GET config`` (``decide_after_seconds``),
``GET submissions``.

Pended authorizations are approved (A1) ``decide_after_seconds`` (default 30) after submission, or at once by
``POST /_control/decide`` (``{}`` for all, or ``{"tracking_id" | "claim_identifier": ..., "review_action": "A1"|"A3"}``),
then pushed to the webhook (``SANDBOX_WEBHOOK_URL`` or ``POST /_control/webhook {"url": ...}``) as a PAS
subscription notification Bundle, retried with exponential backoff; every attempt is recorded.

``POST /_control/reset`` forgets everything (submissions, events, messages, counters, deliveries, faults, posted
members and roster) and re-applies the start-up settings and ``--members`` / ``--roster`` files.
"""

from .server import SandboxServer, create_server, start_sandbox

__all__ = ["SandboxServer", "create_server", "start_sandbox"]

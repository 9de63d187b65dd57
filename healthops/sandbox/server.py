"""The sandbox HTTP server: a ThreadingHTTPServer on loopback with fault injection around every handler.

Start it in-process (tests, scripts)::

    from healthops.sandbox.server import start_sandbox
    server, base_url = start_sandbox(port=0, decide_after_seconds=0.2, environ={})
    ...
    server.shutdown()   # stops serving, the ticker and pending webhook retries; saves the state file if any

``start_sandbox``/``create_server`` take the ``SandboxConfig`` fields as keywords (``decide_after_seconds``,
``webhook_url``, ``webhook_attempts``, ``webhook_backoff_seconds``, ``webhook_timeout_seconds``, ``approval_days``,
``faults``, ``members_path``, ``roster_path``, ``state_file``) and read ``SANDBOX_WEBHOOK_URL``, ``SANDBOX_FAULTS``
and ``SANDBOX_DECIDE_AFTER_SECONDS`` from ``environ`` (default ``os.environ``; pass ``{}`` for a hermetic server).
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import payer, webhook
from .faults import FaultDecision, decide, malformed_body
from .routes import Route, resolve
from .state import SandboxConfig, SandboxState
from .web import HttpError, Request, Response

logger = logging.getLogger("healthops.sandbox")

MAX_BODY_BYTES = 10 * 1024 * 1024
TICK_SECONDS = 0.05


class _Handler(BaseHTTPRequestHandler):
    server: SandboxServer
    protocol_version = "HTTP/1.1"
    server_version = "HealthOpsSandbox/1.0"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET  # noqa: N815

    def _dispatch(self) -> None:
        path, _, query = self.path.partition("?")
        try:
            body = self._read_body()
            route, params = resolve(self.command, path)
        except HttpError as exc:
            self._send(exc.response())
            return
        request = Request(self.command, path, query, self.headers, body)
        self._serve(route, params, request)

    def _serve(self, route: Route, params: dict[str, str], request: Request) -> None:
        decision = self.server.fault_for(route.endpoint)
        stopping = self.server.state.stopping
        if decision.latency_seconds:
            stopping.wait(decision.latency_seconds)
        if decision.action in ("outage", "error"):
            self._send(_fault_response(route, decision))
            return
        response = self._run(route, params, request)
        if decision.action == "timeout":
            stopping.wait(decision.hold_seconds)  # the work is done; the answer comes too late for the client
            response.headers["X-Sandbox-Fault"] = "timeout"
        if decision.action == "malformed":
            response = Response(200, malformed_body(response.body(), decision.malformed_kind), response.content_type,
                                {"X-Sandbox-Fault": f"malformed-{decision.malformed_kind}"})
        self._send(response)

    def _run(self, route: Route, params: dict[str, str], request: Request) -> Response:
        try:
            return route.handler(self.server, request, **params)
        except HttpError as exc:
            return exc.response()
        except Exception:
            logger.exception("sandbox handler failed on %s %s", request.method, request.path)
            fhir_error = request.path.startswith("/payer/")
            return HttpError(500, "The sandbox failed on this request (a sandbox bug).", fhir=fhir_error,
                             code="exception").response()

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError as exc:
            raise HttpError(400, "Content-Length is not a number.") from exc
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            raise HttpError(413, f"Request bodies are limited to {MAX_BODY_BYTES} bytes.")
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes:
        chunks, total = [], 0
        while True:
            try:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            except ValueError as exc:
                self.close_connection = True
                raise HttpError(400, "Malformed chunked request body.") from exc
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > MAX_BODY_BYTES:
                self.close_connection = True
                raise HttpError(413, f"Request bodies are limited to {MAX_BODY_BYTES} bytes.")
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _send(self, response: Response) -> None:
        body = response.body()
        try:
            self.send_response(response.status)
            if body:
                self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. its timeout fired): nothing to answer

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # Method, path and status only: query strings may carry phone numbers or e-mail addresses (?to=).
        logger.debug("%s %s %s", self.command, self.path.partition("?")[0], code)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (signature from http.server)
        logger.debug("http: " + format, *args)


def _fault_response(route: Route, decision: FaultDecision) -> Response:
    message = ("The system is down for maintenance (sandbox outage)." if decision.action == "outage"
               else "Injected failure (sandbox fault).")
    response = HttpError(decision.status, message, fhir=(route.endpoint or "").startswith("payer."),
                         code="transient").response()
    response.headers["X-Sandbox-Fault"] = decision.action or ""
    if decision.retry_after:
        response.headers["Retry-After"] = str(decision.retry_after)
    return response


class _Ticker(threading.Thread):
    """Decides pended authorizations when they fall due, pushes them, and persists the state file."""

    def __init__(self, server: SandboxServer) -> None:
        super().__init__(daemon=True, name="sandbox-ticker")
        self.server = server

    def run(self) -> None:
        state = self.server.state
        while not state.stopping.wait(TICK_SECONDS):
            try:
                decided = payer.decide_pending(state, base_url=self.server.base_url, due_only=True)
                self.server.push_notifications(decided)
                state.save_if_dirty()
            except Exception:
                logger.exception("sandbox ticker failed; continuing")


class SandboxServer(ThreadingHTTPServer):
    """The HTTP server plus the sandbox's state; ``shutdown()`` stops everything and saves the state file."""

    daemon_threads = True
    block_on_close = False  # a handler holding a simulated timeout must not delay shutdown
    allow_reuse_address = True
    request_queue_size = 128  # the default 5 drops bursts of concurrent clients into 1 s SYN retries

    def __init__(self, address: tuple[str, int], state: SandboxState) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)
        self.state = state
        host, port = self.server_address[:2]
        self.base_url = f"http://[{host}]:{port}" if ":" in str(host) else f"http://{host}:{port}"
        self._serving = threading.Event()
        self._closed = False
        self._ticker = _Ticker(self)
        self._ticker.start()

    def serve_forever(self, poll_interval: float = 0.1) -> None:
        self._serving.set()
        try:
            super().serve_forever(poll_interval)
        finally:
            self._serving.clear()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # socketserver prints tracebacks to stderr; a client that hangs up mid-request is routine here.
        logger.debug("sandbox connection error", exc_info=True)

    def wait_started(self, timeout: float = 5.0) -> bool:
        return self._serving.wait(timeout)

    def fault_for(self, endpoint: str | None) -> FaultDecision:
        with self.state.lock:
            self.state.requests[endpoint or "control"] += 1
            if endpoint is None:
                return FaultDecision()
            decision = decide(self.state.faults, endpoint)
            if decision.action:
                self.state.injected[decision.action] += 1
            if decision.latency_seconds:
                self.state.injected["latency"] += 1
            return decision

    def push_notifications(self, decided: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
        for submission, notification in decided:
            webhook.push(self.state, notification, submission["tracking_id"])

    def shutdown(self) -> None:
        """Stop serving (when serving), stop the ticker and webhook retries, save the state, close the socket."""
        if self._closed:
            return
        self._closed = True
        self.state.stopping.set()
        if self._serving.is_set():
            super().shutdown()
        self._ticker.join(timeout=2)
        self.state.touch()
        self.state.save_if_dirty()
        self.server_close()
        logger.info("sandbox stopped")


def create_server(host: str = "127.0.0.1", port: int = 8100, *, config: SandboxConfig | None = None,
                  environ: Mapping[str, str] | None = None, **settings: Any) -> SandboxServer:
    """A bound (not yet serving) sandbox; ``settings`` override the environment (see the module docstring)."""
    config = config or SandboxConfig.from_env(environ, **settings)
    server = SandboxServer((host, port), SandboxState(config))
    logger.info("sandbox listening on %s", server.base_url)
    return server


def start_sandbox(port: int = 0, host: str = "127.0.0.1", **kwargs: Any) -> tuple[SandboxServer, str]:
    """Create a sandbox and serve it from a daemon thread; returns ``(server, base_url)``."""
    server = create_server(host, port, **kwargs)
    threading.Thread(target=server.serve_forever, daemon=True, name="sandbox-http").start()
    if not server.wait_started():
        server.shutdown()
        raise RuntimeError("The sandbox did not start serving.")
    return server, server.base_url

"""`manage.py run_sandbox [--port 8100] [--host 127.0.0.1] [--state-file PATH]`: the simulated outside world."""

import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from healthops.sandbox.faults import FaultSpecError
from healthops.sandbox.server import create_server
from healthops.sandbox.state import StateInputError


class Command(BaseCommand):
    help = ("Run the HealthOps sandbox: simulated payers (FHIR eligibility, PAS prior authorization), ERP, workforce "
            "and messaging systems on loopback, with fault injection. Runs until Ctrl-C. Reads SANDBOX_WEBHOOK_URL, "
            "SANDBOX_FAULTS and SANDBOX_DECIDE_AFTER_SECONDS from the environment.")

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8100, help="Port to listen on (default 8100; 0 picks one).")
        parser.add_argument("--host", default="127.0.0.1", help="Address to bind (default 127.0.0.1).")
        parser.add_argument("--state-file", help="Keep the sandbox state in this JSON file across restarts.")
        parser.add_argument("--members", help="JSON file: [{payer, member_id, in_force, review_action?}].")
        parser.add_argument("--roster", help="JSON file: the workforce roster, a list of shifts.")
        parser.add_argument("--decide-after", type=float, help="Seconds before a pended authorization is approved "
                            "(default 30).")
        parser.add_argument("--webhook-url", help="Where to push payer decisions (overrides SANDBOX_WEBHOOK_URL).")

    def handle(self, *args, port, host, state_file, members, roster, decide_after, webhook_url, **options):
        if decide_after is not None and decide_after < 0:
            raise CommandError("--decide-after must be zero or more seconds.")
        try:
            server = create_server(host, port, state_file=state_file, members_path=members, roster_path=roster,
                                   decide_after_seconds=decide_after, webhook_url=webhook_url)
        except (FaultSpecError, StateInputError, ValueError, OSError) as exc:
            raise CommandError(f"The sandbox cannot start: {exc}") from exc
        stop = threading.Event()
        # Ctrl-C (SIGINT) and SIGTERM only set an event, so the shutdown below always runs to completion.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        thread = threading.Thread(target=self._serve, args=(server, stop), daemon=True, name="sandbox-http")
        thread.start()
        self.stdout.write(f"HealthOps sandbox running at {server.base_url}/  (Ctrl-C to stop)")
        self.stdout.flush()
        try:
            while not stop.wait(0.5):
                pass
        finally:
            server.shutdown()
            self.stdout.write("HealthOps sandbox stopped.")

    @staticmethod
    def _serve(server, stop: threading.Event) -> None:
        try:
            server.serve_forever()
        finally:
            stop.set()  # if serving ever ends on its own, the command ends too

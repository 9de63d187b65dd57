"""`make demo`'s last step: run the web server and the background worker together until Ctrl-C."""

import os
import signal
import subprocess
import sys
import time

DEMO_USERS = ["coordinator", "scheduler", "authspecialist", "manager", "admin", "coordinator2"]


def main() -> int:
    host, port = os.environ.get("HOST", "127.0.0.1"), os.environ.get("PORT", "8000")
    sandbox_port = os.environ.get("SANDBOX_PORT", "8100")
    python = sys.executable
    from django.conf import settings

    # Web and worker talk to the sandbox this demo starts, wherever it listens.
    os.environ.setdefault("SANDBOX_URL", f"http://127.0.0.1:{sandbox_port}")
    # Keep the terminal readable: warnings and errors only (LOG_LEVEL=INFO shows every request and call).
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    webhook = f"http://{host}:{port}/integrations/payer/{settings.PAYER_WEBHOOK_TOKEN}/notifications"
    processes = {
        "sandbox": subprocess.Popen([python, "manage.py", "run_sandbox", "--port", sandbox_port,
                                     "--webhook-url", webhook]),
    }
    time.sleep(1.5)  # the worker's first jobs call the payer: let the sandbox listen first
    processes |= {
        "web": subprocess.Popen([python, "manage.py", "runserver", "--noreload", f"{host}:{port}"]),
        "worker": subprocess.Popen([python, "manage.py", "qcluster"]),
    }
    print(f"\nHealthOps is running at http://{host}:{port}/  (rule console: http://{host}:{port}/admin/)")
    print(f"Simulated payers, ERP, workforce and messaging (the sandbox): http://127.0.0.1:{sandbox_port}/")
    print("Demo logins (password healthops-demo): " + ", ".join(DEMO_USERS))
    print("Press Ctrl-C to stop the web server, the worker and the sandbox.\n", flush=True)
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while not stopping:
        for name, proc in processes.items():
            if proc.poll() is not None:
                print(f"The {name} process stopped (exit code {proc.returncode}); stopping the demo.", file=sys.stderr)
                exit_code, stopping = proc.returncode or 1, True
                break
        time.sleep(0.5)
    for proc in processes.values():
        if proc.poll() is None:
            proc.terminate()  # SIGTERM: each child shuts down cleanly (SIGINT may be ignored when started in background)
    deadline = time.monotonic() + 10
    for proc in processes.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
    print("HealthOps demo stopped.")
    return exit_code


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "healthops.settings")
    import django

    django.setup()
    sys.exit(main())

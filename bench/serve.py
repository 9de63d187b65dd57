"""The product under gunicorn, as in production, for the benchmarks that measure HTTP: a context manager that starts
it on a free port against the bench database and stops it afterwards."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def gunicorn(*, workers: int = 4, threads: int = 1, urlconf: str = "bench.urls", env: dict | None = None,
             log_path: Path = Path("/tmp/healthops-bench-gunicorn.log")):
    """Yield the base URL of the product served by `workers` gunicorn processes (sync workers, or gthread when
    threads > 1) with `urlconf` (default: the product's URLs plus the bench's floor views)."""
    port = free_port()
    # Production settings (DEBUG off: no query log, compressed manifest statics), but plain HTTP on loopback.
    environ = {**os.environ, "DJANGO_ROOT_URLCONF": urlconf, "LOG_LEVEL": "WARNING", "DEBUG": "0",
               "SECRET_KEY": "bench-only-secret-key-not-for-production-use-0123456789",
               "SECURE_SSL_REDIRECT": "0", "ALLOWED_HOSTS": "127.0.0.1,localhost", **(env or {})}
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"], cwd=ROOT,
                   env=environ, check=True)
    command = [sys.executable, "-m", "gunicorn", "healthops.wsgi:application", "--bind", f"127.0.0.1:{port}",
               "--workers", str(workers), "--threads", str(threads), "--backlog", "256", "--timeout", "120",
               "--access-logfile", "/dev/null"]
    process = subprocess.Popen(command, cwd=ROOT, env=environ, start_new_session=True,
                               stdout=log_path.open("ab"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError(f"gunicorn exited with {process.returncode}; see {log_path}") from None
                if time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not answer within 60 s; see {log_path}") from None
                time.sleep(0.2)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def server_ms(response_headers) -> float | None:
    """The app's own time from the Server-Timing header (healthops.middleware.ServerTimingMiddleware)."""
    value = response_headers.get("Server-Timing", "")
    for part in value.split(","):
        name, _, rest = part.strip().partition(";")
        if name == "app" and rest.startswith("dur="):
            return float(rest[4:])
    return None

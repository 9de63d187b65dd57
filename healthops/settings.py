"""HealthOps settings: one module, driven by environment variables (see README, Configuration)."""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str | None = None) -> str | None:
    """A string from NAME, or from the file named by NAME_FILE (for secrets mounted as files)."""
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={file_name} cannot be read: {exc}") from exc
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no, on/off)")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number") from exc


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number") from exc


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in (os.environ.get(name) or default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY (or SECRET_KEY_FILE) is required when DEBUG is off")
    SECRET_KEY = "django-insecure-healthops-demo-only-never-use-in-production"  # noqa: S105 (demo only)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_filters",
    "rest_framework",
    "django_htmx",
    "template_partials",
    "django_q",
    "auditlog",
    "viewflow",
    "viewflow.workflow",
    "healthops",
    "staffing",
    "scheduling",
    "authorizations",
    "referrals",
    "dashboards",
    "partners",
    "drf_spectacular",
    "drf_spectacular_sidecar",
]

MIDDLEWARE = [
    "healthops.middleware.ServerTimingMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "healthops.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "auditlog.middleware.AuditlogMiddleware",
    "partners.middleware.ApiAuditMiddleware",
]

ROOT_URLCONF = env_str("DJANGO_ROOT_URLCONF") or "healthops.urls"  # `make bench` adds its floor views
WSGI_APPLICATION = "healthops.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "healthops.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        # Persistent connections in production (gunicorn workers reuse theirs); none under the threaded dev server.
        conn_max_age=env_int("DB_CONN_MAX_AGE", 0 if DEBUG else 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The demo's web server and worker share one SQLite file: every transaction takes the write lock when it begins
    # (a read lock upgraded later fails at once, "database is locked", when another writer got in between) and waits
    # for it; WAL lets readers go on meanwhile.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        timeout=20, transaction_mode="IMMEDIATE", init_command="PRAGMA journal_mode=WAL;")
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool("DB_PREPARED_STATEMENTS", True):
    # PostgreSQL: parameters bound by the server, and a statement run twice on a connection is prepared once (no
    # re-parse, no re-plan); with persistent connections, that is most of what the worker and the API run. Turn it
    # off (DB_PREPARED_STATEMENTS=0) behind a transaction-pooling proxy such as PgBouncer before 1.21.
    DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=2)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "healthops.storage.StaticStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
REFERRAL_DOCUMENT_MAX_BYTES = env_int("REFERRAL_DOCUMENT_MAX_BYTES", 20 * 1024 * 1024)

# Production hardening: on whenever DEBUG is off, so `check --deploy` is clean.
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600)
X_FRAME_OPTIONS = "DENY"

# External systems. Every system defaults to the sandbox; each can be pointed elsewhere on its own.
SANDBOX_URL = env_str("SANDBOX_URL", "http://127.0.0.1:8100").rstrip("/")
PAYER_URL = env_str("PAYER_URL", f"{SANDBOX_URL}/payer").rstrip("/")
ERP_URL = env_str("ERP_URL", f"{SANDBOX_URL}/erp").rstrip("/")
WORKFORCE_URL = env_str("WORKFORCE_URL", f"{SANDBOX_URL}/workforce").rstrip("/")
MESSAGING_URL = env_str("MESSAGING_URL", f"{SANDBOX_URL}/messaging").rstrip("/")

# Seeding demo users (known passwords) is refused unless DEBUG is on or this is set explicitly.
ALLOW_DEMO_USERS = env_bool("ALLOW_DEMO_USERS", DEBUG)

# Background jobs: django-q2 on the ORM broker (no Redis needed; PostgreSQL uses SKIP LOCKED).
Q_CLUSTER = {
    "name": "healthops",
    "orm": "default",
    "workers": env_int("Q_WORKERS", 2),
    "timeout": env_int("Q_TIMEOUT", 60),
    "retry": env_int("Q_RETRY", 90),  # a job claimed by a worker that died is handed out again after this
    "max_attempts": 3,
    "catch_up": False,
    "poll": 0.5,
    # Successful results kept per function (flow jobs keep none: their flow task is the record). django-q2 reads
    # every kept row of the function, locked, before saving each result, so the figure stays small.
    "save_limit": 100,
    "save_limit_per": "func",
    "sync": env_bool("Q_SYNC", False),
    "label": "Background jobs",
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# OpenAPI 3 at /api/schema/ and Swagger UI at /api/docs/, its assets served from /static/ (drf-spectacular-sidecar).
SPECTACULAR_SETTINGS = {
    "TITLE": "HealthOps partner API",
    "DESCRIPTION": "FHIR R4 under /fhir/r4/ and native JSON under /api/v1/. Authorization: Bearer <token>; "
                   "POSTs honour Idempotency-Key. Errors: OperationOutcome under /fhir/, {code, detail, fields} "
                   "under /api/.",
    "VERSION": "1.0.0",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

AUDITLOG_INCLUDE_ALL_MODELS = False
AUDITLOG_DISABLE_REMOTE_ADDR = False

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "healthops.logging.RedactIdentifiersFilter"}},
    "formatters": {"json": {"()": "healthops.logging.JsonFormatter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["redact"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "django.utils.autoreload": {"level": "WARNING"},
        # runserver's request lines go through the same JSON + redaction handler (search terms are in URLs).
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

# viewflow would append its own Site middleware; HealthOps wires its pages itself.
VIEWFLOW = {"AUTOREGISTER": False}

# Scheduling: the grid slot starts fall on (site-local minutes), how far ahead a search looks by default, and how
# long a waitlist offer holds its slot before it goes to the next patient.
SLOT_GRID_MINUTES = env_int("SLOT_GRID_MINUTES", 15)
SLOT_SEARCH_DAYS = env_int("SLOT_SEARCH_DAYS", 28)
WAITLIST_OFFER_MINUTES = env_int("WAITLIST_OFFER_MINUTES", 120)

# External calls: per-attempt timeout, bounded retries with jittered exponential backoff, and the circuit breaker.
INTEGRATIONS = {
    "TIMEOUT_SECONDS": env_float("INTEGRATION_TIMEOUT_SECONDS", 5),
    "MAX_ATTEMPTS": env_int("INTEGRATION_MAX_ATTEMPTS", 3),
    "BACKOFF_BASE_SECONDS": env_float("INTEGRATION_BACKOFF_BASE_SECONDS", 0.5),
    "BACKOFF_MAX_SECONDS": env_float("INTEGRATION_BACKOFF_MAX_SECONDS", 8),
    "FAILURE_THRESHOLD": env_int("INTEGRATION_FAILURE_THRESHOLD", 5),
    "OPEN_SECONDS": env_float("INTEGRATION_OPEN_SECONDS", 30),
}
# Payers push decisions to /integrations/payer/<token>/notifications; empty turns the endpoint off.
PAYER_WEBHOOK_TOKEN = env_str("PAYER_WEBHOOK_TOKEN", "demo-payer-webhook-token" if DEBUG else "")
OUTBOX_MAX_ATTEMPTS = env_int("OUTBOX_MAX_ATTEMPTS", 10)
OUTBOX_BACKOFF_SECONDS = env_float("OUTBOX_BACKOFF_SECONDS", 2.0)  # doubles per failed attempt, jittered, max 1 h
ELIGIBILITY_STALE_HOURS = env_int("ELIGIBILITY_STALE_HOURS", 72)

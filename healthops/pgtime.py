"""Read PostgreSQL timestamptz values with the C parser of `datetime.fromisoformat`.

Django reads every timestamptz through psycopg's pure-Python parser (its own time zone loader subclasses it), about
3 microseconds a value; slot search alone reads hundreds of booking times a search. With USE_TZ, Django keeps the
session in UTC, so PostgreSQL writes `2026-11-29 22:42:22.661023+00`, which `fromisoformat` reads in a twentieth of
that time, to the same aware UTC datetime. Anything it cannot read (a BC date, infinity, another DateStyle) goes to the
parser Django uses, with the same result or the same error.
"""

from datetime import UTC, datetime

from django.db.backends.postgresql.psycopg_any import BaseTzLoader  # psycopg 3 is a dependency (pyproject.toml)
from django.db.backends.signals import connection_created


class UtcTimestamptzLoader(BaseTzLoader):
    timezone = UTC  # what Django's cursors compare against their connection's zone before swapping the loader

    def load(self, data):
        try:
            value = datetime.fromisoformat(str(data, "ascii"))
        except ValueError:
            return super().load(data)
        return value if value.tzinfo is UTC else value.astimezone(UTC)


def use_fast_timestamptz(sender, connection, **kwargs) -> None:
    """connection_created: on a PostgreSQL connection whose Django zone is UTC, load timestamptz with fromisoformat."""
    if connection.vendor == "postgresql" and connection.timezone is UTC:
        connection.connection.adapters.register_loader("timestamptz", UtcTimestamptzLoader)


def install() -> None:
    connection_created.connect(use_fast_timestamptz, dispatch_uid="healthops-fast-timestamptz")

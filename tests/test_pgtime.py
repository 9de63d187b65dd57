"""PostgreSQL timestamptz values read with fromisoformat are the ones Django's own loader gives, errors included."""

from datetime import UTC, datetime

import pytest
from django.db import connection

pytestmark = [pytest.mark.django_db,
              pytest.mark.skipif(connection.vendor != "postgresql", reason="the loader is PostgreSQL's (psycopg 3)")]

TEXTS = ["2026-11-29 22:42:22.661023+00", "2026-03-08 08:00:00+00", "1999-12-31 23:59:59.5+00", "0001-01-01 00:00:00+00",
         "9999-12-31 23:59:59.999999+00", "2030-03-10 02:30:00+05:30"]


def loaders():
    from django.db.backends.postgresql.psycopg_any import BaseTzLoader

    from healthops.pgtime import UtcTimestamptzLoader

    class DjangoUtc(BaseTzLoader):
        timezone = UTC

    connection.ensure_connection()
    oid = connection.connection.adapters.types["timestamptz"].oid
    return UtcTimestamptzLoader(oid, connection.connection), DjangoUtc(oid, connection.connection)


def test_the_fast_loader_reads_what_djangos_reads():
    fast, django = loaders()
    for text in TEXTS:
        got = fast.load(text.encode())
        assert got == django.load(text.encode()) and got.tzinfo is UTC, text
    assert fast.load(memoryview(b"2026-11-29 22:42:22+00")) == datetime(2026, 11, 29, 22, 42, 22, tzinfo=UTC)


def test_what_fromisoformat_cannot_read_fails_as_djangos_loader_fails():
    from psycopg import DataError

    fast, django = loaders()
    for text in ("0044-03-15 12:00:00+00 BC", "infinity", "-infinity"):
        with pytest.raises(DataError) as mine:
            fast.load(text.encode())
        with pytest.raises(DataError) as theirs:
            django.load(text.encode())
        assert str(mine.value) == str(theirs.value)


def test_connections_read_timestamptz_with_it():
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::timestamptz, now()", ["2026-11-29 16:42:22.5-06"])
        value, now = cursor.fetchone()
        assert cursor.cursor.adapters.get_loader(1184, 0).__name__ == "UtcTimestamptzLoader"
    assert value == datetime(2026, 11, 29, 22, 42, 22, 500000, tzinfo=UTC) and value.tzinfo is UTC
    assert now.tzinfo is UTC

"""The database and queue servers the tests run on, probed once when the kit is imported.

PostgreSQL (``MALLOW_TEST_POSTGRES``) and Redis (``MALLOW_TEST_REDIS``) are real servers; what is
missing is said in :data:`MISSING_SERVERS` (the suite's banner; under CI, ``CI=true``, a missing
server fails the run). Each PostgreSQL app gets a fresh database of its own.
"""

from __future__ import annotations

import itertools
import os

import sqlalchemy as sa

POSTGRES_URL = os.environ.get("MALLOW_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("MALLOW_TEST_REDIS", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
MISSING_SERVERS: dict[str, str] = {}


def _postgres_ok() -> bool:
    try:
        engine = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception as exc:
        MISSING_SERVERS["PostgreSQL"] = f"{POSTGRES_URL}: {exc.__class__.__name__}: {str(exc).splitlines()[0]}"
        return False


def _redis_ok() -> bool:
    try:
        import redis  # inside the try: a missing client is a missing server

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
        return True
    except Exception as exc:
        MISSING_SERVERS["Redis"] = f"{REDIS_URL}: {exc}"
        return False


HAVE_POSTGRES = _postgres_ok()
HAVE_REDIS = _redis_ok()


_databases = itertools.count(0)


def fresh_postgres_database() -> str:
    """A new, empty database for one app (several apps in one run each get their own)."""
    number = next(_databases)
    name = f"mallow_test_{os.getpid()}" + (f"_{number}" if number else "")
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return POSTGRES_URL.rsplit("/", 1)[0] + "/" + name


def drop_postgres_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def backend_params():
    """``params`` for a fixture that runs on SQLite and, when its server is up, PostgreSQL."""
    import pytest  # the kit's only pytest use: the rest of it runs without pytest

    return [
        pytest.param("sqlite", id="sqlite"),
        pytest.param(
            "postgresql",
            id="postgresql",
            marks=[pytest.mark.postgres, pytest.mark.skipif(not HAVE_POSTGRES, reason="PostgreSQL is not running")],
        ),
    ]

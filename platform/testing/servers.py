"""The database and queue servers the tests run on, probed once when the kit is imported.

PostgreSQL (``MALLOW_TEST_POSTGRES``), a second PostgreSQL cluster for the pod tests
(``MALLOW_TEST_POSTGRES_POD2``, 127.0.0.1:5433: ``scripts/test`` makes it) and Redis
(``MALLOW_TEST_REDIS``) are real servers; what is
missing is said in :data:`MISSING_SERVERS` (the suite's banner; under CI, ``CI=true``, a missing
server fails the run). Each PostgreSQL app gets a fresh database of its own.
"""

from __future__ import annotations

import itertools
import os

import sqlalchemy as sa

POSTGRES_URL = os.environ.get("MALLOW_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
#: the second cluster, a pod of its own (tests/pods)
POSTGRES_POD2_URL = os.environ.get("MALLOW_TEST_POSTGRES_POD2", "postgresql://postgres@127.0.0.1:5433/postgres")
REDIS_URL = os.environ.get("MALLOW_TEST_REDIS", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
MISSING_SERVERS: dict[str, str] = {}


def _driver(url: str) -> str:
    """``postgresql://`` with the psycopg 3 driver (what Mallow itself uses)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _postgres_ok(url: str = POSTGRES_URL, name: str = "PostgreSQL") -> bool:
    try:
        engine = sa.create_engine(_driver(url), connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception as exc:
        MISSING_SERVERS[name] = f"{url}: {exc.__class__.__name__}: {str(exc).splitlines()[0]}"
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
HAVE_POSTGRES_POD2 = HAVE_POSTGRES and _postgres_ok(POSTGRES_POD2_URL, "PostgreSQL pod 2 (second cluster)")
HAVE_REDIS = _redis_ok()


_databases = itertools.count(0)


def fresh_postgres_database(server_url: str | None = None) -> str:
    """A new, empty database for one app (several apps in one run each get their own), on the
    first cluster or on ``server_url``'s (the pod tests' second one: :data:`POSTGRES_POD2_URL`)."""
    server_url = _driver(server_url or POSTGRES_URL)
    number = next(_databases)
    name = f"mallow_test_{os.getpid()}" + (f"_{number}" if number else "")
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return server_url.rsplit("/", 1)[0] + "/" + name


def drop_postgres_database(url: str) -> None:
    """Drop a database :func:`fresh_postgres_database` made (on whichever cluster it is)."""
    name = url.rsplit("/", 1)[1]
    admin = sa.create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
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

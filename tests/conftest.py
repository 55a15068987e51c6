"""Shared fixtures: the suite runs every database test on SQLite *and* PostgreSQL.

PostgreSQL (``MALLOW_TEST_POSTGRES``, default postgresql://postgres@127.0.0.1:5432/postgres) and
Redis (``MALLOW_TEST_REDIS``, default redis://127.0.0.1:6379/15) are real servers. When one is
missing the run says so in a banner; under CI (``CI=true``) a missing server fails the run
instead of skipping anything.
"""

from __future__ import annotations

import uuid

import pytest

from mallow.testing import (
    HAVE_POSTGRES,
    HAVE_REDIS,
    IN_CI,
    MISSING_SERVERS,
    REDIS_URL,
    build_app,
    drop_postgres_database,
    make_admin,
)


def pytest_sessionstart(session):
    if MISSING_SERVERS and IN_CI:
        raise pytest.UsageError(
            "CI needs every server, and these are missing:\n  "
            + "\n  ".join(f"{k}: {v}" for k, v in MISSING_SERVERS.items())
        )


def pytest_terminal_summary(terminalreporter):
    _contract_counts(terminalreporter)
    if MISSING_SERVERS:
        bar = "!" * 78
        terminalreporter.write_line(bar, red=True, bold=True)
        for name, why in MISSING_SERVERS.items():
            terminalreporter.write_line(f"!! {name} IS MISSING: its tests were SKIPPED ({why})", red=True, bold=True)
        terminalreporter.write_line(
            "!! Start it (see docs/operations.md) and run the tests again.", red=True, bold=True
        )
        terminalreporter.write_line(bar, red=True, bold=True)


def _contract_counts(terminalreporter):
    """The API contract test's counts (tests/api/conftest.py), from its reports' user_properties."""
    lines = {
        value
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "when", None) == "call"
        for key, value in getattr(report, "user_properties", ())
        if key == "api-contract"
    }
    if lines:
        terminalreporter.section("API contract (schemathesis)")
        for line in sorted(lines):
            terminalreporter.write_line(line)


def _backend_params():
    return [
        pytest.param("sqlite", id="sqlite"),
        pytest.param(
            "postgresql",
            id="postgresql",
            marks=[pytest.mark.postgres, pytest.mark.skipif(not HAVE_POSTGRES, reason="PostgreSQL is not running")],
        ),
    ]


@pytest.fixture(scope="session", params=_backend_params())
def app(request, tmp_path_factory):
    """The Mallow app on each backend, migrated, shared by the tests of a session."""
    if request.param == "postgresql" and not HAVE_POSTGRES:
        pytest.skip("PostgreSQL is not running")
    app = build_app(tmp_path_factory, request.param)
    app.mallow_backend = request.param
    make_admin(app, email=f"root-{request.param}@example.com")
    yield app
    with app.app_context():
        from mallow.db import db

        app.extensions["mallow.store_engines"].dispose()
        db.engine.dispose()
    if request.param == "postgresql":
        drop_postgres_database(app.config["SQLALCHEMY_DATABASE_URI"])


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def admin_email(app):
    return make_admin(app, email=f"admin-{uuid.uuid4().hex[:8]}@example.com")[1]


@pytest.fixture
def redis_url():
    if not HAVE_REDIS:
        pytest.skip("Redis is not running")
    yield REDIS_URL  # tests use their own queue names: parallel runs never share keys

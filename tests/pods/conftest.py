"""Fixtures for pods: a Mallow on the first PostgreSQL cluster (its platform database is the pod
``main``) with a second pod, ``pod2``, a database on the second cluster (127.0.0.1:5433,
``MALLOW_TEST_POSTGRES_POD2``: ``scripts/test`` makes and starts it). Without that cluster the pod
tests are skipped, loudly (the suite's banner names it), and under CI the run fails."""

from __future__ import annotations

import contextlib

import pytest
import sqlalchemy as sa

from mallow.testing import (
    HAVE_POSTGRES_POD2,
    POSTGRES_POD2_URL,
    build_app,
    dispose_app,
    drop_postgres_database,
    fresh_postgres_database,
    make_admin,
    make_store,
    run_cli,
)

POD2 = "pod2"


def _pod2_params():
    return [
        pytest.param(
            "postgresql",
            id="postgresql",
            marks=[
                pytest.mark.postgres,
                pytest.mark.skipif(
                    not HAVE_POSTGRES_POD2,
                    reason=f"the second PostgreSQL cluster ({POSTGRES_POD2_URL}) is not running: ./scripts/test starts it",
                ),
            ],
        )
    ]


@pytest.fixture(scope="module", params=_pod2_params())
def pods_app(request, tmp_path_factory):
    """A PostgreSQL app with pod ``pod2`` on the second cluster (``app.pod2_url``)."""
    app = build_app(tmp_path_factory, request.param)
    app.mallow_backend = request.param
    make_admin(app, email="root-pods@example.com")
    app.pod2_url = fresh_postgres_database(POSTGRES_POD2_URL)
    run_cli(app, "pod", "add", POD2, app.pod2_url, "--capacity", "1000")
    yield app
    dispose_app(app)
    drop_postgres_database(app.pod2_url)


def platform_url(app) -> str:
    return app.config["SQLALCHEMY_DATABASE_URI"]


def schemas(url: str) -> set[str]:
    """The store schemas of the database at ``url`` (asked on a connection of its own)."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            return set(
                connection.execute(sa.text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'store\\_%'")).scalars()
            )
    finally:
        engine.dispose()


def scalar(url: str, sql: str, **params):
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            return connection.execute(sa.text(sql), params).scalar()
    finally:
        engine.dispose()


def rows(url: str, sql: str, **params) -> list:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            return list(connection.execute(sa.text(sql), params).all())
    finally:
        engine.dispose()


@contextlib.contextmanager
def placing_on(app, pod: str):
    """New stores go to ``pod``: every other pod drains for the block (and opens again after)."""
    from mallow.db import db
    from mallow.tenants.models import Pod

    with app.app_context():
        others = [p.name for p in db.session.execute(sa.select(Pod).where(Pod.state == "open")).scalars()]
    others = [name for name in others if name != pod]
    for name in others:
        run_cli(app, "pod", "drain", name)
    try:
        yield
    finally:
        for name in others:
            run_cli(app, "pod", "open", name)


def store_on(app, pod: str):
    with placing_on(app, pod):
        return make_store(app)


def pod_of(app, store_id: int):
    from mallow.db import db
    from mallow.tenants.models import Store

    with app.app_context():
        store = db.session.get(Store, store_id)
        return store.pod, store.moving_to

"""No job runs for a suspended or closed store: a queued one is dropped (and logged) where jobs
run, the per-store sweeps skip such stores; an open (or closing) store's jobs run as before."""

from __future__ import annotations

import logging

import pytest

from mallow.jobs import job, jobs_of, store_sweep
from mallow.jobs.registry import execute
from mallow.testing import make_admin, make_store

RAN: list[str] = []


@pytest.fixture(autouse=True)
def _test_jobs(app):
    for declared in (note_store, sweep_notes):
        jobs_of(app).install(declared)
    RAN.clear()


@job("tests.stores.note", store=True, idempotent=True)
def note_store(store, label):
    RAN.append(f"{label}:{store.slug}")
    return label


@store_sweep("tests.stores.swept", every_seconds=3600)
def sweep_notes(store, now):
    RAN.append(f"swept:{store.slug}")


def _suspend(app, shop):
    from mallow.accounts.models import PlatformAdmin
    from mallow.db import db
    from mallow.stores.lifecycle import suspend
    from mallow.tenants.models import Store

    admin_id = make_admin(app)[0]
    with app.app_context():
        suspend(db.session.get(Store, shop.store_id), db.session.get(PlatformAdmin, admin_id), "投诉核查中")


def _close(app, shop):
    from mallow.db import db
    from mallow.stores.lifecycle import close
    from mallow.tenants.models import Store

    with app.app_context():
        close(db.session.get(Store, shop.store_id), "cli", "测试关闭")


def test_a_queued_job_of_a_suspended_or_closed_store_is_dropped_and_logged_an_open_store_s_runs(app, caplog):
    from mallow.jobs.runners import EmbeddedRunner

    open_shop, suspended, closed = make_store(app), make_store(app), make_store(app)
    runner = EmbeddedRunner(app)
    for shop in (open_shop, suspended, closed):
        runner.enqueue("tests.stores.note", store_id=shop.store_id, label="queued")
    _suspend(app, suspended)  # after the jobs were queued
    _close(app, closed)
    caplog.set_level(logging.WARNING, logger="mallow.jobs")

    assert runner.run_pending() == 3
    assert RAN == [f"queued:{open_shop.slug}"]
    dropped = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert sorted(dropped) == sorted(
        [
            f"job tests.stores.note dropped: store {suspended.store_id} ({suspended.slug}) is suspended",
            f"job tests.stores.note dropped: store {closed.store_id} ({closed.slug}) is closed",
        ]
    )


def test_the_per_store_sweeps_skip_suspended_and_closed_stores(app):
    open_shop, suspended, closed = make_store(app), make_store(app), make_store(app)
    _suspend(app, suspended)
    _close(app, closed)
    results = execute(app, "tests.stores.swept.sweep", {})
    assert open_shop.store_id in results
    assert suspended.store_id not in results and closed.store_id not in results
    assert f"swept:{open_shop.slug}" in RAN
    assert not {f"swept:{suspended.slug}", f"swept:{closed.slug}"} & set(RAN)
    # the one-store job queued for a suspended store (by a retry, say) does nothing either
    assert execute(app, "tests.stores.swept.sweep_store", {"store_id": suspended.store_id}) is None
    assert f"swept:{suspended.slug}" not in RAN


def test_the_store_lifecycle_jobs_are_periodic(app):
    periodic = jobs_of(app).periodic()
    assert "stores.sweep" in periodic and "stores.purge" in periodic

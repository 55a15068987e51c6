"""The job runner: embedded (no Redis) and rq on a real Redis, with the tenant in every job."""

from __future__ import annotations

import uuid

import pytest

from mallow.jobs import job, jobs_of, store_sweep
from mallow.jobs.registry import NoStoreForJob, execute
from mallow.testing import make_store

SEEN: list = []


@pytest.fixture(autouse=True)
def _test_jobs(app):
    """The jobs this module declares, installed into the app (importing it registers nothing)."""
    for declared in (count_customers, sweeper, flaky, fragile):
        jobs_of(app).install(declared)


@job("tests.count_customers", store=True)
def count_customers(store, label):
    from mallow.accounts.models import Customer
    from mallow.db import db

    count = db.session.execute(db.select(db.func.count()).select_from(Customer)).scalar()
    SEEN.append((label, store.slug, count))
    return count


def _add_customer(app, shop, login):
    client = app.test_client()
    assert (
        client.post(
            f"{shop.prefix}/api/customers", json={"login": login, "password": "pass-word-1", "privacy_consent": True}
        ).status_code
        == 201
    )


def test_store_job_runs_in_its_own_store(app):
    a, b = make_store(app), make_store(app)
    _add_customer(app, a, "a1@example.com")
    _add_customer(app, a, "a2@example.com")
    assert execute(app, "tests.count_customers", {"store_id": a.store_id, "label": "a"}) == 2
    assert execute(app, "tests.count_customers", {"store_id": b.store_id, "label": "b"}) == 0


def test_store_job_without_a_store_fails_closed(app):
    with pytest.raises(NoStoreForJob):
        execute(app, "tests.count_customers", {"label": "none"})


def test_embedded_runner_runs_delayed_jobs_when_due(app):
    from mallow.jobs.runners import EmbeddedRunner

    shop = make_store(app)
    runner = EmbeddedRunner(app)
    SEEN.clear()
    runner.enqueue("tests.count_customers", delay=60, store_id=shop.store_id, label="later")
    import time

    runner.run_pending(now=time.time() + 1)
    assert not [s for s in SEEN if s[0] == "later"]
    runner.run_pending(now=time.time() + 61)
    assert ("later", shop.slug, 0) in SEEN


def test_embedded_runner_thread_runs_queued_jobs(app):
    import time

    from mallow.jobs.runners import EmbeddedRunner

    shop = make_store(app)
    runner = EmbeddedRunner(app)
    SEEN.clear()
    # queued before the thread starts, so it runs before the periodic sweeps the first round adds
    runner.enqueue("tests.count_customers", store_id=shop.store_id, label="thread")
    runner.start()
    try:
        deadline = time.time() + 60  # a bound on the wait, not a timing assertion
        while not SEEN and time.time() < deadline:
            time.sleep(0.05)
    finally:
        runner.stop(wait=120)  # the sweep running now finishes; nothing after it starts
    assert SEEN == [("thread", shop.slug, 0)]


@pytest.mark.redis
def test_rq_runner_with_json_serializer_on_real_redis(app, redis_url, monkeypatch):
    from mallow.jobs.worker import MallowSimpleWorker

    from mallow.jobs import runners
    from mallow.jobs.runners import RqRunner

    shop = make_store(app)
    _add_customer(app, shop, "rq@example.com")
    runner = RqRunner(app, redis_url, queue_name=f"mallow-test-{uuid.uuid4().hex}")
    monkeypatch.setattr(runners, "_APP", app)  # the worker process would build it from the environment
    enqueued = runner.enqueue("tests.count_customers", store_id=shop.store_id, label="rq")
    import json
    import zlib

    stored = zlib.decompress(runner.redis.hget(f"rq:job:{enqueued.id}", "data"))
    assert "tests.count_customers" in json.loads(stored)[2]  # JSON, never pickle
    MallowSimpleWorker([runner.queue], connection=runner.redis).work(burst=True)
    assert enqueued.get_status(refresh=True) == "finished"
    assert enqueued.return_value() == 1


@pytest.mark.redis
def test_periodic_jobs_fire_once_per_interval_across_workers(app, redis_url):
    from mallow.jobs.runners import RqRunner

    queue = f"mallow-test-{uuid.uuid4().hex}"
    first, second = RqRunner(app, redis_url, queue), RqRunner(app, redis_url, queue)
    now = 1_800_000_000.0
    fired_first = first.run_periodic_due({}, now=now)
    fired_second = second.run_periodic_due({}, now=now + 1)
    assert "tests.sweeper.sweep" in fired_first  # registered below, every hour
    assert "tests.sweeper.sweep" not in fired_second


BROKEN_STORES: set = set()


@store_sweep("tests.sweeper", every_seconds=3600)
def sweeper(store, now):
    if store.id in BROKEN_STORES:
        raise RuntimeError("this store is broken")
    return now.year


def test_a_store_sweep_runs_every_store_and_survives_one_failing(app):
    broken = make_store(app)
    healthy = make_store(app)
    BROKEN_STORES.add(broken.store_id)

    results = execute(app, "tests.sweeper.sweep", {"now": "2030-01-02T03:04:05+00:00"})
    assert results[broken.store_id] == "failed"
    assert results[healthy.store_id] == 2030
    assert execute(app, "tests.sweeper.sweep_store", {"store_id": healthy.store_id}) >= 2026


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_rq_runner_never_raises_when_redis_is_down(app, caplog):
    from mallow.jobs.runners import RqRunner

    runner = RqRunner(app, f"redis://127.0.0.1:{_closed_port()}/0", queue_name=f"mallow-test-{uuid.uuid4().hex}")
    try:
        assert runner.enqueue("tests.count_customers", store_id=1, label="lost") is None
        assert runner.enqueue("tests.count_customers", delay=30, store_id=1, label="lost later") is None
        state: dict = {}
        assert runner.run_periodic_due(state, now=1_800_000_000.0) == []  # the scheduler keeps going
        assert state == {}  # nothing counted as fired: the next round tries again
    finally:
        runner.close()
    assert caplog.text.count("could not enqueue job tests.count_customers") == 2


ATTEMPTS: list = []


@job("tests.flaky", store=True, idempotent=True)
def flaky(store, label):
    ATTEMPTS.append(label)
    raise RuntimeError("a passing fault")


@job("tests.fragile", store=True)
def fragile(store, label):
    ATTEMPTS.append(label)
    raise RuntimeError("a passing fault")


@pytest.mark.redis
def test_only_idempotent_jobs_are_retried_and_boundedly(app, redis_url, monkeypatch):
    from mallow.jobs.worker import MallowSimpleWorker

    from mallow.jobs import runners
    from mallow.jobs.runners import RETRY_INTERVALS, RqRunner

    shop = make_store(app)
    runner = RqRunner(app, redis_url, queue_name=f"mallow-test-{uuid.uuid4().hex}")
    monkeypatch.setattr(runners, "_APP", app)
    ATTEMPTS.clear()
    retried = runner.enqueue("tests.flaky", store_id=shop.store_id, label="idempotent")
    once = runner.enqueue("tests.fragile", store_id=shop.store_id, label="not idempotent")
    assert retried.retries_left == len(RETRY_INTERVALS) == 3 and once.retries_left is None
    MallowSimpleWorker([runner.queue], connection=runner.redis).work(burst=True)
    assert sorted(ATTEMPTS) == ["idempotent", "not idempotent"]
    retried.refresh()
    once.refresh()
    assert retried.get_status() == "scheduled" and retried.retries_left == 2  # runs again in 30 s
    assert once.get_status() == "failed"
    runner.close()


def test_the_store_jobs_that_are_retried_are_the_idempotent_ones(app):
    specs = jobs_of(app).registered()
    retried = {name for name, spec in specs.items() if spec.idempotent and not name.startswith("tests.")}
    # Sweeps (conditional transitions), the low-stock notices (raised or updated once per SKU) and
    # refund submission (the same out_refund_no every time) may run twice.
    assert {
        "orders.sweep_store",
        "payments.sweep_store",
        "aftersales.sweep_store",
        "inventory.sweep_store",
        "inventory.low_stock",
        "payments.submit_refund",
    } <= retried
    assert all(specs[name].store for name in retried)
    # The every-store sweeps are periodic: the next run is their retry.
    assert not {"orders.sweep", "payments.sweep", "aftersales.sweep", "inventory.sweep"} & retried

"""The job runner: embedded (no Redis) and rq on a real Redis, with the tenant in every job."""
from __future__ import annotations

import uuid

import pytest

from mallow.jobs import job, store_sweep
from mallow.jobs.registry import NoStoreForJob, execute
from mallow.testing import make_store

SEEN: list = []


@job("tests.count_customers", store=True)
def count_customers(store, label):
    from mallow.accounts.models import Customer
    from mallow.db import db

    count = db.session.execute(db.select(db.func.count()).select_from(Customer)).scalar()
    SEEN.append((label, store.slug, count))
    return count


def _add_customer(app, shop, login):
    client = app.test_client()
    assert client.post(f"{shop.prefix}/api/customers", json={"login": login, "password": "pass-word-1"}).status_code == 201


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
    runner.start()
    SEEN.clear()
    try:
        runner.enqueue("tests.count_customers", store_id=shop.store_id, label="thread")
        deadline = time.time() + 10
        while not SEEN and time.time() < deadline:
            time.sleep(0.05)
    finally:
        runner.stop()
    assert SEEN == [("thread", shop.slug, 0)]


@pytest.mark.redis
def test_rq_runner_with_json_serializer_on_real_redis(app, redis_url, monkeypatch):
    from rq import SimpleWorker
    from rq.serializers import JSONSerializer

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
    SimpleWorker([runner.queue], connection=runner.redis, serializer=JSONSerializer).work(burst=True)
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
    assert "qualifications.expire_lapsed" in fired_first
    assert "qualifications.expire_lapsed" not in fired_second


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

"""``mallow worker`` on a real Redis: it runs Mallow's registered jobs and nothing else, and a job
that can never succeed fails once, without retries.

Hostile jobs are written straight into Redis, in rq's own layout, as anyone with write access to
the database could write them. The Redis database is not trusted."""

from __future__ import annotations

import json
import logging
import os
import pickle
import time
import uuid
import zlib
from datetime import datetime, UTC
from pathlib import Path

import pytest

from mallow.jobs import job
from mallow.testing import make_store

pytestmark = pytest.mark.redis

RUN_JOB = "mallow.jobs.runners.run_job"


@job("tests.worker.touch")
def touch(path):
    Path(path).write_text("ran")


ATTEMPTS: list = []


@job("tests.worker.flaky", store=True, idempotent=True)
def flaky(store, label):
    ATTEMPTS.append(label)
    raise RuntimeError("a passing fault")


@job("tests.worker.gives_up", store=True, idempotent=True)
def gives_up(store, label):
    from mallow.jobs.registry import PermanentJobError

    ATTEMPTS.append(label)
    raise PermanentJobError("the order is gone")


@pytest.fixture
def runner(app, redis_url, monkeypatch):
    from mallow.jobs import jobs_of, runners
    from mallow.jobs.runners import RqRunner

    for declared in (touch, flaky, gives_up):  # this module's jobs (importing it registers nothing)
        jobs_of(app).install(declared)

    monkeypatch.setattr(runners, "_APP", app)  # the worker process would build it from the environment
    runner = RqRunner(app, redis_url, queue_name=f"mallow-test-{uuid.uuid4().hex}")
    yield runner
    runner.close()


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _push(runner, data: bytes, **fields) -> str:
    """Write a queued job into Redis by hand: its hash, and its id on the queue's list."""
    job_id = uuid.uuid4().hex
    stamp = _stamp()
    runner.redis.hset(
        f"rq:job:{job_id}",
        mapping={
            "data": data,
            "origin": runner.queue.name,
            "status": "queued",
            "created_at": stamp,
            "enqueued_at": stamp,
            "description": "hostile",
            **fields,
        },
    )
    runner.redis.sadd("rq:queues", f"rq:queue:{runner.queue.name}")
    runner.redis.rpush(f"rq:queue:{runner.queue.name}", job_id)
    return job_id


def _json(func_name, args, kwargs=None) -> bytes:
    return zlib.compress(json.dumps([func_name, None, list(args), kwargs or {}]).encode())


class _Pickled:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):  # unpickling this runs the command
        return os.system, (self.command,)


def _status(runner, job_id) -> str:
    return runner.redis.hget(f"rq:job:{job_id}", "status").decode()


def _evil_module(tmp_path, monkeypatch, marker: Path) -> str:
    """A module on sys.path whose import leaves ``marker`` behind."""
    name = f"mallow_evil_{uuid.uuid4().hex}"
    folder = tmp_path / name
    folder.mkdir()
    (folder / f"{name}.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('imported')\n\ndef attack(*a, **k):\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(folder))
    return name


def test_the_worker_runs_only_registered_jobs(app, runner, tmp_path, monkeypatch, caplog):
    from rq.job import Job
    from rq.serializers import JSONSerializer

    from mallow.jobs.worker import MallowWorker

    marks = {
        kind: tmp_path / f"{kind}.marker"
        for kind in ("system", "import", "pickle", "callback", "success", "unregistered", "bad_args", "good")
    }
    evil = _evil_module(tmp_path, monkeypatch, marks["import"])
    evil_callback = _evil_module(tmp_path, monkeypatch, marks["callback"])
    touch_marker = {"path": str(marks["bad_args"])}
    hostile = {  # kind: (job id, what the log must say it asked for)
        "system": (_push(runner, _json("os.system", [f"touch {marks['system']}"])), "os.system"),
        "import": (_push(runner, _json(f"{evil}.attack", [])), f"{evil}.attack"),
        "unregistered": (
            _push(runner, _json(RUN_JOB, ["tests.worker.no_such_job", {"path": str(marks["unregistered"])}])),
            "tests.worker.no_such_job",
        ),
        "garbage": (_push(runner, b"\x00garbage{not json"), "garbage"),
        "pickle": (_push(runner, zlib.compress(pickle.dumps(_Pickled(f"touch {marks['pickle']}")))), "not JSON"),
        "bad_args": (
            _push(runner, _json(RUN_JOB, ["tests.worker.touch", {**touch_marker, "extra": 1}])),
            "tests.worker.touch",
        ),
        "not_a_dict": (
            _push(runner, _json(RUN_JOB, ["tests.worker.touch", touch_marker["path"]])),
            "tests.worker.touch",
        ),
        "kwargs": (
            _push(runner, _json(RUN_JOB, ["tests.worker.touch"], {"kwargs": touch_marker})),
            "tests.worker.touch",
        ),
        "instance": (_push(runner, zlib.compress(json.dumps(["clear", {"a": 1}, [], {}]).encode())), "clear"),
        # a registered job, but with callbacks that a stock worker imports
        "callbacks": (
            _push(
                runner,
                _json(RUN_JOB, ["tests.worker.touch", {"path": str(marks["success"])}]),
                success_callback_name=f"{evil_callback}.attack",
                failure_callback_name=f"{evil_callback}.attack",
            ),
            f"{evil_callback}.attack",
        ),
    }
    good = runner.enqueue("tests.worker.touch", path=str(marks["good"]))

    with caplog.at_level(logging.WARNING, logger="mallow.jobs"):
        MallowWorker([runner.queue], connection=runner.redis).work(burst=True)  # forks a horse per job

    assert marks["good"].read_text() == "ran"  # a registered job still runs
    assert good.get_status(refresh=True) == "finished"
    left = [kind for kind, mark in marks.items() if kind != "good" and mark.exists()]
    assert left == [], f"hostile jobs ran or imported: {left}"
    failed = set(runner.queue.failed_job_registry.get_job_ids())
    warnings = [r.getMessage() for r in caplog.records if r.name == "mallow.jobs" and r.levelno == logging.WARNING]
    for kind, (job_id, asked) in hostile.items():
        assert _status(runner, job_id) == "failed", kind
        assert job_id in failed, kind
        said = [line for line in warnings if job_id in line]
        assert len(said) == 1 and "refused" in said[0] and asked in said[0], (kind, said)
        result = Job.fetch(job_id, connection=runner.redis, serializer=JSONSerializer).latest_result()
        assert result.type == result.Type.FAILED and "RefusedJob" in result.exc_string, kind


def test_a_mallow_job_resolves_no_other_function_whatever_worker_runs_it(app, runner, tmp_path, monkeypatch):
    """The job class alone refuses (a worker that skips MallowWorker's check still imports nothing)."""
    from rq import SimpleWorker
    from rq.serializers import JSONSerializer

    from mallow.jobs.worker import MallowJob, MallowSimpleWorker, RefusedJob

    marker = tmp_path / "import.marker"
    evil = _evil_module(tmp_path, monkeypatch, marker)
    job_id = _push(runner, _json(f"{evil}.attack", []), retries_left="3", retry_intervals="[0]")
    with pytest.raises(RefusedJob):
        MallowJob.fetch(job_id, connection=runner.redis, serializer=JSONSerializer).func  # noqa: B018  (the refusal)

    class StockSimpleWorker(SimpleWorker):
        subscribe = MallowSimpleWorker.subscribe  # its listener's wait alone (see the test below)

    StockSimpleWorker(
        [runner.queue.name], connection=runner.redis, serializer=JSONSerializer, job_class=MallowJob
    ).work(burst=True)
    assert not marker.exists()
    assert _status(runner, job_id) == "failed"  # not retried, though it had retries left
    assert runner.redis.hget(f"rq:job:{job_id}", "retries_left") == b"3"


def test_an_abandoned_job_callback_is_not_imported(app, runner, tmp_path, monkeypatch):
    """rq cleans the started registry with the queue's job class and runs the failure callback of
    a job whose horse died; the worker's queues use MallowJob, which has none."""
    from mallow.jobs.worker import MallowWorker

    marker = tmp_path / "callback.marker"
    evil = _evil_module(tmp_path, monkeypatch, marker)
    job_id = uuid.uuid4().hex
    runner.redis.hset(
        f"rq:job:{job_id}",
        mapping={
            "data": _json(RUN_JOB, ["tests.worker.touch", {"path": str(tmp_path / "x")}]),
            "origin": runner.queue.name,
            "status": "started",
            "created_at": _stamp(),
            "failure_callback_name": f"{evil}.attack",
        },
    )
    runner.redis.zadd(f"rq:wip:{runner.queue.name}", {f"{job_id}:{uuid.uuid4().hex}": 1})  # long expired
    MallowWorker([runner.queue], connection=runner.redis).work(burst=True)
    assert not marker.exists()
    assert _status(runner, job_id) == "failed"


def test_jobs_that_can_never_succeed_are_tried_once_and_transient_failures_retried(app, runner, caplog):
    from rq import Retry

    from mallow.jobs.runners import RETRY_INTERVALS
    from mallow.jobs.worker import MallowSimpleWorker

    shop = make_store(app)
    ATTEMPTS.clear()
    no_store = runner.enqueue("tests.worker.flaky", label="no store")
    gone = runner.enqueue("tests.worker.flaky", store_id=10_000_000 + shop.store_id, label="gone")
    raised = runner.enqueue("tests.worker.gives_up", store_id=shop.store_id, label="gives up")
    unknown = runner.queue.enqueue(
        RUN_JOB,
        "tests.worker.no_longer_registered",
        {"store_id": shop.store_id},
        retry=Retry(max=len(RETRY_INTERVALS), interval=list(RETRY_INTERVALS)),
    )
    transient = runner.enqueue("tests.worker.flaky", store_id=shop.store_id, label="transient")
    for job_ in (no_store, gone, raised, unknown, transient):
        assert job_.retries_left == len(RETRY_INTERVALS)  # all idempotent: rq would retry each

    with caplog.at_level(logging.WARNING, logger="mallow.jobs"):
        MallowSimpleWorker([runner.queue], connection=runner.redis).work(burst=True)

    assert sorted(ATTEMPTS) == ["gives up", "transient"]  # "no store" and "gone" never reach the job
    for permanent in (no_store, gone, raised, unknown):
        permanent.refresh()
        assert permanent.get_status() == "failed", permanent.args
        assert permanent.retries_left == len(RETRY_INTERVALS)  # none used up
        assert permanent.id in runner.queue.failed_job_registry
        said = [r for r in caplog.records if permanent.id in r.getMessage()]
        assert len(said) == 1 and said[0].levelno == logging.WARNING, [r.getMessage() for r in said]
    assert "needs a store_id" in caplog.text and "no store" in caplog.text and "the order is gone" in caplog.text
    transient.refresh()
    assert transient.get_status() == "scheduled" and transient.retries_left == len(RETRY_INTERVALS) - 1
    assert transient.id in runner.queue.scheduled_job_registry


def test_a_worker_stops_without_waiting_out_its_listener(app, runner):
    """rq stops a worker's command listener after unsubscribing it; a listener that went round its
    loop in between waits for a subscription that never comes, as long as one wait lasts (rq's:
    60 s, so a burst run or a shutdown took a minute now and then). Ours waits a second."""
    from mallow.jobs.worker import MallowSimpleWorker

    worker = MallowSimpleWorker([runner.queue.name], connection=runner.redis)
    worker.subscribe()
    try:
        worker.pubsub.unsubscribe()  # the listener reads the answer and goes round again…
        deadline = time.monotonic() + 10
        while worker.pubsub.subscribed and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not worker.pubsub.subscribed
        time.sleep(0.1)  # …into a wait for a subscription
    finally:
        started = time.monotonic()
        worker.unsubscribe()  # what rq's teardown does
        stopped_after = time.monotonic() - started
    assert not worker.pubsub_thread.is_alive()
    assert stopped_after < 10, stopped_after  # a second's wait, not rq's minute

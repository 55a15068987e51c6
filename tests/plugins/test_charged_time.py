"""A hook call is charged its wall time minus the time its thread waited for a CPU
(``mallow.plugins.clock``): a plugin that sleeps or busy-loops past its budget is still struck,
one whose thread only waited for a busy CPU is not, and where the kernel's per-thread statistics
are missing the charge is plain wall time (said once in the log).

The busy CPU is made inside the test, bounded: the calling thread is pinned to one core with
``os.sched_setaffinity`` and niced to 19 (its own thread only), and a CPU hog (a child process
that stops by itself after a few seconds, killed at the end anyway) is pinned to the same core:
the thread then waits for that core most of the time. Nothing asserts a duration beyond "struck /
not struck" with wide margins, and "the call did wait" as the precondition."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

import pytest

from mallow.testing import backend_params, dispose_app, enable_plugin, make_store, plugin_app

NAME = "ticker"
CODE = """
import time

from mallow.sdk import hookimpl

#: what the next call does: ("sleep" | "burn", seconds)
DO = {"what": ("burn", 0.0)}


@hookimpl
def mallow_template_slot(slot, context):
    what, seconds = DO["what"]
    if what == "sleep":
        time.sleep(seconds)
    else:
        started = time.thread_time()
        while time.thread_time() - started < seconds:  # CPU time of this thread: its own work
            pass
    return None
"""
HOOK = "mallow_template_slot"
#: the template slot's 30 ms budget scaled to 10 ms: a strike past 50 ms
SCALE = 1 / 3
BUDGET_MS = 10
needs_schedstat = pytest.mark.skipif(
    not os.path.exists("/proc/thread-self/schedstat") or not hasattr(os, "sched_setaffinity"),
    reason="needs Linux per-thread scheduler statistics and CPU affinity",
)


@pytest.fixture(scope="module", params=backend_params())
def app(request, fake_plugins, tmp_path_factory):
    if f"mallow_{NAME}" not in fake_plugins.packages:
        fake_plugins.add(NAME, CODE, title={"zh_CN": "滴答", "en": "Ticker"}, hooks=[HOOK], permissions=["storefront"])
    app = plugin_app(
        tmp_path_factory, request.param, [NAME], MALLOW_PLUGIN_BUDGET_SCALE=SCALE, MALLOW_PLUGIN_BREAKER_FAULTS=10_000
    )
    yield app
    dispose_app(app)


@pytest.fixture
def shop(app):
    shop = make_store(app)
    enable_plugin(app, shop, NAME)
    return shop


@pytest.fixture
def plugin():
    module = __import__(f"mallow_{NAME}")
    yield module
    module.DO["what"] = ("burn", 0.0)


@contextmanager
def _busy_core():
    """A core (the last this process may use) kept busy by a pinned CPU hog; yields its number."""
    cpu = sorted(os.sched_getaffinity(0))[-1]
    code = (
        "import os, sys, time\n"
        f"os.sched_setaffinity(0, {{{cpu}}})\n"
        "end = time.monotonic() + 10\n"
        "sys.stdout.write('spinning')\n"
        "sys.stdout.flush()\n"
        "while time.monotonic() < end:\n"
        "    pass\n"
    )
    hog = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        assert hog.stdout is not None and hog.stdout.read(8) == b"spinning"  # it is on its core now
        yield cpu
    finally:
        hog.kill()
        hog.wait(timeout=10)


def _call(app, shop, *, cpu: int | None = None, nice: int = 19) -> dict:
    """One guarded call of the plugin's slot in a store request on a thread of its own (pinned to
    ``cpu`` and niced to ``nice`` when given); what it answered, its wall ms and the thread's wait."""
    from flask import g

    from mallow.db import db
    from mallow.plugins import guard
    from mallow.plugins.manager import hooks
    from mallow.tenants.context import store_context

    found: dict = {}

    def run() -> None:
        try:
            if cpu is not None:
                os.sched_setaffinity(0, {cpu})  # this thread only
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)  # this thread only
            with store_context(shop.store_id, app=app), app.test_request_context():
                g.mallow_store_id = shop.store_id
                db.session.execute(db.select(1))  # a transaction is going, as in a request
                [impl] = [i for i in hooks().mallow_template_slot.get_hookimpls() if i.plugin_name.endswith(NAME)]
                waited = _waited_ns()
                started = time.perf_counter()
                found["answer"] = guard.call(impl, HOOK, {"slot": "home.top", "context": {}})
                found["wall_ms"] = (time.perf_counter() - started) * 1000
                found["waited_ms"] = (_waited_ns() - waited) / 1e6
                db.session.rollback()
        except BaseException as error:  # pragma: no cover - reported below
            found["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive()
    if "error" in found:
        raise found["error"]
    return found


def _waited_ns() -> int:
    try:
        with open("/proc/thread-self/schedstat", "rb") as statistics:
            return int(statistics.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def _fault(app, shop):
    from mallow.db import db
    from mallow.plugins.models import PluginFault

    with app.app_context():
        return db.session.execute(
            db.select(PluginFault).filter_by(store_id=shop.store_id, plugin=NAME, hook=HOOK, kind="over_budget")
        ).scalar_one_or_none()


def test_a_hook_that_sleeps_past_its_budget_is_still_struck(app, shop, plugin):
    plugin.DO["what"] = ("sleep", 0.1)  # 100 ms asleep: twice the 50 ms that strikes
    found = _call(app, shop)
    assert found["answer"] is None
    row = _fault(app, shop)
    assert row is not None and row.window_count == 1  # a strike
    assert row.slowest_ms >= 90  # the sleep is the plugin's own: charged


def test_a_hook_that_busy_loops_past_its_budget_is_struck(app, shop, plugin):
    plugin.DO["what"] = ("burn", 0.08)  # 80 ms of its own CPU time
    _call(app, shop)
    row = _fault(app, shop)
    assert row is not None and row.window_count == 1
    assert row.slowest_ms >= 75


@needs_schedstat
def test_a_hook_whose_thread_waits_for_a_cpu_is_charged_its_own_time_only(app, shop, plugin, caplog):
    from mallow.plugins import timings

    plugin.DO["what"] = ("burn", 0.003)  # 3 ms of work, well within its 10 ms budget
    with _busy_core() as cpu, caplog.at_level(logging.WARNING, logger="mallow.plugins"):
        found = _call(app, shop, cpu=cpu)
    # the precondition: the call waited for the core far past what wall time alone would strike
    if found["waited_ms"] < 5 * BUDGET_MS * 1.5:
        pytest.skip(f"the busy core made the call wait only {found['waited_ms']:.0f} ms")
    assert found["wall_ms"] > 5 * BUDGET_MS
    row = _fault(app, shop)
    # not struck. (Not asserted: "not over budget" at all. On a virtual machine the hypervisor
    # may take the CPU away now and then, ~10 ms here, which the thread's statistics do not see:
    # that is charged, and may take 3 ms of work over 10 ms, never past 50.)
    assert row is None or (row.window_count == 0 and row.slowest_ms < found["wall_ms"] / 2)
    assert not [r for r in caplog.records if NAME in r.getMessage() and "circuit breaker" in r.getMessage()]
    # what the page paid is still in the timings: the wall time
    timing = timings.snapshot(app, NAME)[(shop.store_id, NAME, HOOK)]
    assert timing.max_ms > 5 * BUDGET_MS


@needs_schedstat
def test_a_call_over_its_budget_that_also_waited_is_charged_its_own_time_and_says_how_long_it_waited(
    app, shop, plugin, caplog
):
    plugin.DO["what"] = ("burn", 0.015)  # 15 ms of work: over its 10 ms budget, far from 50 ms
    with _busy_core() as cpu, caplog.at_level(logging.WARNING, logger="mallow.plugins"):
        found = _call(app, shop, cpu=cpu, nice=10)  # nice 10: ~10 % of the core, a few 100 ms
    if found["waited_ms"] < 5 * BUDGET_MS * 1.5:
        pytest.skip(f"the busy core made the call wait only {found['waited_ms']:.0f} ms")
    row = _fault(app, shop)
    assert row is not None and row.count == 1
    assert row.window_count == 0  # over budget, but no strike: wall time alone would have struck it
    assert 14 <= row.slowest_ms < found["wall_ms"] / 2
    assert re.fullmatch(
        r"took \d+ ms \(budget 10 ms\) and \d+ ms more waiting for a CPU \(not counted\)", row.last_message
    )
    [warning] = [r for r in caplog.records if NAME in r.getMessage()]
    assert "waiting for a CPU, not counted" in warning.getMessage() and f"store {shop.store_id}" in warning.getMessage()


@pytest.fixture
def no_statistics(monkeypatch, tmp_path):
    """The clock as on a machine whose kernel keeps no per-thread statistics: the file missing
    (or, with ``zeros``, reading zeros); the clock starts afresh before and after."""
    from mallow.plugins import clock

    def start_afresh():
        clock._forked()
        clock._available = None

    start_afresh()

    def use(zeros: bool = False) -> None:
        if zeros:
            path = tmp_path / "schedstat"
            path.write_bytes(b"0 0 0\n")
            monkeypatch.setattr(clock, "PATH", str(path))
        else:
            monkeypatch.setattr(clock, "PATH", str(tmp_path / "missing" / "schedstat"))

    yield use
    monkeypatch.undo()
    start_afresh()


@pytest.mark.parametrize("zeros", [False, True], ids=["missing", "zeros"])
def test_without_the_statistics_a_call_is_charged_its_wall_time_said_once(no_statistics, zeros, caplog):
    from mallow.plugins import clock

    no_statistics(zeros)
    with caplog.at_level(logging.WARNING, logger="mallow.plugins"):
        marks = [clock.mark() for _ in range(3)]
        other = threading.Thread(target=lambda: marks.append(clock.mark()))
        other.start()
        other.join()
    assert marks == [None] * 4
    started = time.perf_counter()
    assert clock.charge(123.0, started, None) == (123.0, 0.0)
    [said] = [r for r in caplog.records if "schedstat" in r.getMessage()]
    assert "wall time" in said.getMessage() and ("reads zeros" in said.getMessage()) == zeros


@needs_schedstat
def test_without_the_statistics_a_thread_that_waits_for_a_cpu_is_charged_it(app, shop, plugin, no_statistics):
    no_statistics()
    plugin.DO["what"] = ("burn", 0.003)
    with _busy_core() as cpu:
        found = _call(app, shop, cpu=cpu)
    if found["waited_ms"] < 5 * BUDGET_MS * 1.5:
        pytest.skip(f"the busy core made the call wait only {found['waited_ms']:.0f} ms")
    row = _fault(app, shop)
    assert row is not None and row.window_count == 1  # wall time, as before: struck
    assert "waiting for a CPU" not in row.last_message


@needs_schedstat
def test_each_thread_reads_its_own_statistics_and_lets_go_of_them_when_it_ends():
    from mallow.plugins import clock

    clock.mark()
    mine = clock._local.reader.fd
    seen: dict = {}

    def run() -> None:
        assert clock.mark() is not None
        seen["fd"] = clock._local.reader.fd
        seen["target"] = os.readlink(f"/proc/self/fd/{seen['fd']}")
        seen["tid"] = threading.get_native_id()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert seen["fd"] != mine and seen["target"].endswith(f"/task/{seen['tid']}/schedstat")

    def still_open() -> bool:
        try:
            return os.readlink(f"/proc/self/fd/{seen['fd']}") == seen["target"]
        except OSError:
            return False

    for _ in range(100):  # the thread's local data goes with the thread (at once in CPython)
        if not still_open():
            break
        time.sleep(0.01)
    assert not still_open()
    assert os.readlink(f"/proc/self/fd/{mine}").endswith(f"/task/{threading.get_native_id()}/schedstat")
    assert clock._local.reader.fd == mine


@needs_schedstat
def test_a_forked_child_reads_its_own_thread_not_its_parents():
    from mallow.plugins import clock

    clock.mark()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            clock.mark()
            target = os.readlink(f"/proc/self/fd/{clock._local.reader.fd}")
            os.write(write, target.encode())
        finally:
            os._exit(0)
    os.close(write)
    try:
        target = os.read(read, 4096).decode()
    finally:
        os.close(read)
        os.waitpid(pid, 0)
    assert target.endswith(f"/task/{pid}/schedstat")


@needs_schedstat
def test_a_statistics_file_closed_under_a_thread_is_opened_afresh():
    from mallow.plugins import clock

    clock.mark()
    os.close(clock._local.reader.fd)  # somebody closed every descriptor (a daemonizing library)
    assert clock.mark() is not None
    assert os.readlink(f"/proc/self/fd/{clock._local.reader.fd}").endswith(
        f"/task/{threading.get_native_id()}/schedstat"
    )
    assert clock._available is True

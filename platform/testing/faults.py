"""Faults on purpose, for tests that cause them: a throwaway Redis server to kill and restart, a
``mallow worker`` subprocess to SIGKILL, a fake WeChat Pay that holds a request at a known point.

Never the shared servers: other test processes use PostgreSQL and Redis at the same time, so a
fault test starts its own Redis (:class:`RedisServer`: a free port, nothing saved to disk) and its
own worker (:class:`WorkerProcess`: its own process group, killed as a whole). Tests synchronise
on what they can observe (a held request arrived, a row was written, a key appeared) through
:func:`wait_until`, whose timeout only guards against a hang: it never decides an outcome.

``python -m mallow.testing.faults worker`` is the worker subprocess: it builds the app from the
test config plus ``MALLOW_FAULTS_CONFIG`` (JSON: the test app's database, data folder, Redis and
fake WeChat Pay) and runs the real ``mallow worker`` command with it::

    with RedisServer(tmp_path) as redis_server:
        app = build_app(tmp_path_factory, "postgresql", REDIS_URL=redis_server.url)
        worker = WorkerProcess(worker_config(app), tmp_path / "worker.log").start()
        ...
        worker.kill()  # SIGKILL to the worker and its work horse
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .wechatpay import FakeWeChatPayServer

#: the longest a fault test waits for something it expects (a guard against a hang, never a pause)
GUARD_SECONDS = 20.0


def wait_until(check: Callable[[], Any], *, timeout: float = GUARD_SECONDS, what: str = "the condition") -> Any:
    """Poll ``check()`` until it returns something truthy, and return that; fail with ``what``
    after ``timeout`` seconds. The timeout is a guard: the test goes on as soon as it holds."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.02)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (bound once by the OS, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """A ``redis-server`` of one test on a free port of 127.0.0.1, keeping nothing on disk
    (``--save "" --appendonly no``): a restart comes back empty, as a Redis that lost its
    memory does. :meth:`kill` (SIGKILL), :meth:`shutdown` (``SHUTDOWN NOSAVE``), :meth:`start`
    again on the same port. Use as a context manager (killed on the way out)."""

    def __init__(self, directory: Path | str, *, executable: str = "redis-server") -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.executable = executable
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self):
        import redis

        return redis.Redis.from_url(self.url, socket_connect_timeout=2, socket_timeout=5)

    def start(self) -> RedisServer:
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError("this Redis is running already")
        self.starts += 1
        log = open(self.directory / f"redis-{self.starts}.log", "wb")  # noqa: SIM115 -- the process owns it
        self.process = subprocess.Popen(
            [
                self.executable,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                "--daemonize",
                "no",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        wait_until(self.answers, what=f"redis-server on port {self.port} to answer")
        return self

    def answers(self) -> bool:
        """Whether the server answers PING now."""
        if self.process is None or self.process.poll() is not None:
            if self.process is not None and self.process.poll() is not None and self.starts:
                # it exited (the port was taken between our probe and its bind?): say so
                log = (self.directory / f"redis-{self.starts}.log").read_text(errors="replace")
                if "Address already in use" in log:
                    raise RuntimeError(f"port {self.port} was taken: {log[-300:]}")
            return False
        try:
            client = self.client()
            try:
                return bool(client.ping())
            finally:
                client.close()
        except Exception:  # noqa: BLE001 -- not up yet
            return False

    def kill(self) -> None:
        """SIGKILL: Redis is gone at once, with everything it held."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=GUARD_SECONDS)

    def shutdown(self) -> None:
        """``SHUTDOWN NOSAVE``: a clean stop that keeps nothing."""
        if self.process is None or self.process.poll() is not None:
            return
        client = self.client()
        try:
            client.shutdown(nosave=True)
        except Exception:  # noqa: BLE001 -- the connection closes as the server goes
            pass
        finally:
            client.close()
        self.process.wait(timeout=GUARD_SECONDS)

    def restart(self) -> RedisServer:
        self.kill()
        return self.start()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.kill()


def worker_config(app, **overrides) -> dict:
    """What a worker subprocess needs to build the same app as ``app`` (its database, data
    folder, Redis, fake WeChat Pay), plus ``overrides``."""
    config: dict[str, Any] = {
        "MALLOW_DATA_DIR": app.config["MALLOW_DATA_DIR"],
        "REDIS_URL": app.config.get("REDIS_URL") or "",
    }
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("postgresql"):
        config["DATABASE_URL"] = uri
    for name in ("WECHATPAY_BASE_URL", "MALLOW_JOB_ABANDONED_SECONDS"):
        if app.config.get(name) is not None:
            config[name] = app.config[name]
    config.update(overrides)
    return config


class WorkerProcess:
    """``mallow worker`` as a subprocess in its own process group (the worker and its forked
    work horse), its output in ``log_path``. ``periodic=False`` (the default) keeps the worker's
    periodic scheduler from queuing the sweeps, so a test sees what the worker itself does about
    a fault and not a sweep mending it meanwhile."""

    def __init__(self, config: dict, log_path: Path | str, *, periodic: bool = False) -> None:
        self.config = dict(config)
        self.log_path = Path(log_path)
        self.periodic = periodic
        self.process: subprocess.Popen | None = None

    def start(self) -> WorkerProcess:
        env = dict(os.environ)
        env["MALLOW_FAULTS_CONFIG"] = json.dumps(self.config)
        env["MALLOW_FAULTS_PERIODIC"] = "1" if self.periodic else "0"
        env.pop("REDIS_URL", None)
        env.pop("DATABASE_URL", None)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "mallow.testing.faults", "worker"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kill() reaches the work horse too
                cwd=str(Path(self.config["MALLOW_DATA_DIR"])),  # never the repo root (stdlib `platform`)
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_for(self, check: Callable[[], Any], *, what: str, timeout: float = GUARD_SECONDS) -> Any:
        """:func:`wait_until` ``check()`` holds, failing at once (with the worker's output) if the
        worker exits meanwhile."""

        def holds_or_exited():
            return check() or (not self.running() and "exited")

        found = wait_until(holds_or_exited, timeout=timeout, what=what)
        if found == "exited" and not check():
            raise AssertionError(f"the worker exited before {what}:\n{self.log()[-3000:]}")
        return found

    def kill(self) -> None:
        """SIGKILL to the worker, then to its work horses (rq puts a horse in a process group of
        its own): the worker and the job die mid-run and nothing cleans up. The worker goes
        first, so it cannot see its horse die and fail the job itself."""
        if self.process is None:
            return
        horses = _descendants(self.process.pid)
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for pid in horses:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(timeout=GUARD_SECONDS)
        wait_until(lambda: not any(_alive(pid) for pid in horses), what="the work horses to die")

    def stop(self) -> None:
        """A test's clean-up: SIGTERM (rq's warm shutdown), then SIGKILL if it does not go."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
        except ProcessLookupError:
            pass

    def __enter__(self) -> WorkerProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _descendants(pid: int) -> list[int]:
    """The pids of ``pid``'s children, grandchildren… (Linux ``/proc``)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not: it waits for its parent to read its status)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class Hold:
    """A request the fake holds (:meth:`HoldingWeChatPayServer.hold_next`): :attr:`arrived` is
    set when it is held, :meth:`release` lets the handler go on. The held request is never
    answered: whoever sent it is expected to be gone by then (the worker was killed)."""

    def __init__(self, method: str, path_prefix: str, after_processing: bool) -> None:
        self.method = method
        self.path_prefix = path_prefix
        self.after_processing = after_processing
        self.arrived = threading.Event()
        self.released = threading.Event()
        self.body: bytes = b""

    def release(self) -> None:
        self.released.set()

    def wait_arrived(self, timeout: float = GUARD_SECONDS) -> None:
        if not self.arrived.wait(timeout):
            raise AssertionError(f"no {self.method} {self.path_prefix}… arrived within {timeout:.0f} s")


class HoldingWeChatPayServer(FakeWeChatPayServer):
    """The kit's fake WeChat Pay that can hold the next matching request at a known point:

    * ``after_processing=True``: WeChat Pay did what was asked (the refund exists on its side)
      and the answer is never sent (the caller dies waiting for it);
    * ``after_processing=False``: the request is held before WeChat Pay looks at it and then
      dropped unprocessed (as if the caller had died before calling).
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._holds: list[Hold] = []
        self._hold_lock = threading.Lock()

    def hold_next(self, method: str, path_prefix: str, *, after_processing: bool) -> Hold:
        hold = Hold(method, path_prefix, after_processing)
        with self._hold_lock:
            self._holds.append(hold)
        return hold

    def refunds_of(self, out_trade_no: str) -> list:
        """The refunds WeChat Pay holds for payment ``out_trade_no``."""
        with self._lock:
            return [r for r in self._book.refunds.values() if r.out_trade_no == out_trade_no]

    def release_all(self) -> None:
        with self._hold_lock:
            holds, self._holds = list(self._holds), []
        for hold in holds:
            hold.release()

    def stop(self) -> None:
        self.release_all()
        super().stop()

    def _take_hold(self, method: str, raw_path: str) -> Hold | None:
        with self._hold_lock:
            for hold in self._holds:
                if hold.method == method and raw_path.startswith(hold.path_prefix):
                    self._holds.remove(hold)
                    return hold
        return None

    def _serve(self, method: str, raw_path: str, authorization: str | None, body: bytes):
        hold = self._take_hold(method, raw_path)
        if hold is None:
            return super()._serve(method, raw_path, authorization, body)
        hold.body = body
        if hold.after_processing:
            super()._serve(method, raw_path, authorization, body)  # done on WeChat Pay's side
        hold.arrived.set()
        hold.released.wait(60)
        return None  # never answered: close the connection without a word


def _run_worker() -> None:
    """``python -m mallow.testing.faults worker``: the real ``mallow worker`` command, with the app
    built from the test config and ``MALLOW_FAULTS_CONFIG``."""
    from flask.cli import ScriptInfo

    from mallow.app import create_app
    from mallow.cli import main

    from .apps import TEST_CONFIG

    config = dict(TEST_CONFIG, **json.loads(os.environ["MALLOW_FAULTS_CONFIG"]))
    app = create_app(config)
    if os.environ.get("MALLOW_FAULTS_PERIODIC") != "1":
        app.extensions["mallow.jobs"].run_periodic_due = lambda state, now=None: []
    main.main(args=["worker"], obj=ScriptInfo(create_app=lambda: app), prog_name="mallow")


if __name__ == "__main__":  # pragma: no cover -- run as a subprocess by WorkerProcess
    if sys.argv[1:] == ["worker"]:
        _run_worker()
    else:
        raise SystemExit("usage: python -m mallow.testing.faults worker")

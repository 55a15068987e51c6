"""PostgreSQL faults for tests: a throwaway cluster of one's own to stop and start, and killing
one's own backend in the middle of a transaction.

The shared server on 5432 is used by every test process at once: a fault test never stops or
kills it. :class:`PostgresCluster` is a cluster of its own (``initdb`` in a temp folder, trust
auth, ``fsync=off``, a free port on 127.0.0.1, its socket in its own folder) that a test may stop
(``-m fast`` or ``-m immediate``), start and restart while an app is serving. Run as root, every
PostgreSQL program runs as the ``postgres`` user (the server refuses root); otherwise as the
current user. ``pg_ctl -w`` returns once the server accepts connections (or has stopped): the
tests synchronise on that, never on a sleep.

:func:`terminate_session_backend` ends the backend of the request's own session connection from
a second connection (``pg_terminate_backend``): what an operator, a failover or an OOM kill does
to one connection in the middle of a transaction. :class:`BackendKiller` does it from inside the
checkout (a core ``mallow_order_placed`` implementation running after the built-ins: the order,
its stock, the coupon's lock and the points' redemption are written, not committed).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pluggy
import sqlalchemy as sa

#: where Debian's packages put the server programs (``MALLOW_PG_BIN`` to point elsewhere)
PG_BIN = Path(os.environ.get("MALLOW_PG_BIN", "/usr/lib/postgresql/15/bin"))
#: Mallow's hook marker (``mallow.plugins.hookspecs.hookimpl``), without importing the app here
hookimpl = pluggy.HookimplMarker("mallow")


def cluster_available() -> str | None:
    """Why a cluster of one's own cannot be made here (None: it can)."""
    if not (PG_BIN / "initdb").exists() or not (PG_BIN / "pg_ctl").exists():
        return f"no initdb/pg_ctl in {PG_BIN} (set MALLOW_PG_BIN)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres user to run the server as"
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresCluster:
    """A PostgreSQL cluster of a test's own::

    with PostgresCluster() as cluster:
        app = build_app(tmp_path_factory, "sqlite", DATABASE_URL=cluster.url)
        cluster.restart("immediate")
    """

    def __init__(self, max_connections: int = 60):
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="mallow-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.max_connections = max_connections
        self._user = "postgres" if os.geteuid() == 0 else None
        if self._user is not None:
            entry = pwd.getpwnam(self._user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)

    @property
    def url(self) -> str:
        """The ``postgres`` database of the cluster (trust auth, TCP on 127.0.0.1)."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        command = [str(PG_BIN / args[0]), *args[1:]]
        if self._user is not None:
            command = ["runuser", "-u", self._user, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=check, timeout=timeout)

    def init(self) -> PostgresCluster:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        return self

    def _options(self) -> str:
        return (
            # fsync off: the operating system does not crash under a test, so what PostgreSQL wrote
            # survives an immediate stop. Never synchronous_commit=off: a commit then returns
            # before its WAL is written, and an immediate stop loses orders the shopper was shown
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
            f" -c full_page_writes=off -c shared_buffers=16MB"
            f" -c max_connections={self.max_connections}"
        )

    def start(self) -> None:
        """Start and wait until it accepts connections (``pg_ctl -w``)."""
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", self._options(), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop (``fast``: clients are told and disconnected; ``immediate``: every server process
        is killed, crash recovery at the next start) and wait until it has."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def is_running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def server_log(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def destroy(self) -> None:
        if self.data.exists() and self.is_running():
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresCluster:
        self.init()
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.destroy()


def terminate_session_backend(url: str) -> int:
    """End the PostgreSQL backend of the active ``db.session``'s connection from a second
    connection to ``url``; returns its pid. The session's transaction dies with it (the server
    rolls it back), and the session's next statement fails with a disconnect."""
    from mallow.db import db

    pid = int(db.session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
    other = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with other.connect() as connection:
            ended = connection.exec_driver_sql(f"SELECT pg_terminate_backend({pid}, 10000)").scalar_one()
    finally:
        other.dispose()
    assert ended, f"backend {pid} was not terminated"
    return pid


class BackendKiller:
    """A core ``mallow_order_placed`` implementation for tests: armed, it ends the request's own
    backend after the order's rows are written and before the commit (:func:`terminate_session_backend`).
    Register it with :meth:`install`, take it away with :meth:`uninstall`."""

    NAME = "mallow.testing.backend_killer"

    def __init__(self, url: str):
        self.url = url
        self.armed = 0
        self.killed: list[int] = []

    def arm(self, times: int = 1) -> None:
        self.armed = times

    @hookimpl(trylast=True)  # after the built-ins: the coupon locked, the points spent
    def mallow_order_placed(self, order, context):
        if self.armed <= 0:
            return
        self.armed -= 1
        from mallow.db import db

        db.session.flush()  # every row of the order on the server, in the open transaction
        assert order.id is not None
        self.killed.append(terminate_session_backend(self.url))

    def install(self, app) -> BackendKiller:
        app.extensions["mallow.plugins"].register(self, name=self.NAME)
        return self

    def uninstall(self, app) -> None:
        app.extensions["mallow.plugins"].unregister(name=self.NAME)

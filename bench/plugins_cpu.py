"""CPU per warm storefront home with 0, 3 and 10 plugins on: what bench/http.py's "plugins" rows
serve (bench/http_scenarios.py ``measure_plugins``), built in this process and called through the
app's WSGI stack with a ready environ (bench/page_cpu.py's way), with the render cache and the
kept pages ON (a warm server: the front door answers from the kept pages).

The app loads the three bundled plugins and seven small development-mode plugins with a
``home.top`` slot each (``bench_p1``…``bench_p7``, written as bench/http.py writes them); the
counts are made by switching plugins on and off in the demo store with ``plugin_host.switches``,
as the HTTP bench does: 0 (none on), 3 (group-buy, flash-sale, distribution) and 10 (all). Per
count it prints the CPU per request, the page's size in bytes, how many of the measured answers
came from the kept pages and how long the kept page is fresh, and the CPU it takes to carry that
answer (gunicorn's head, then the body) over a loopback TCP connection and read it back in 8 KiB
reads as wrk does (``loopback``: both ends in this process; what the page's size costs the
kernel, which callgrind does not see). A-page (bench/http_baselines.py ``/page``, the divisor of
the HTTP rows) is measured in the same run.

    .venv/bin/python bench/plugins_cpu.py                      # 2,000 homes per count, SQLite: µs of CPU
    .venv/bin/python bench/plugins_cpu.py --backend postgresql # scratch database (dropped after) + Redis
    .venv/bin/python bench/plugins_cpu.py --counts 0,10        # only these counts, in this order
    cd bench && PYTHONHASHSEED=0 CG=1 valgrind --tool=callgrind --instr-atstart=no \\
        --callgrind-out-file=/tmp/cg.%p ../.venv/bin/python plugins_cpu.py 200
        # instructions per request: collection is on around each count's measured requests only,
        # dumped once per count in the order of --counts (/tmp/cg.<pid>.1 = 0 plugins, .2 = 3,
        # .3 = 10), then A-page's (.4): each file's "totals:" / 200

Each count is measured after ``--warm`` requests (default 50: the render cache's key changed with
the plugins, the kept page is made again); ``--rounds`` go through the counts again, in reverse
order every other round (median; 1 under callgrind, where the loopback is not measured). The
analytics flush thread is off (the buffer is flushed after the run). For back-to-back
comparisons under callgrind fix ``PYTHONHASHSEED``. Everything the run makes (data dir, plugin
folders, the dev site on ``sys.path``, the scratch database, the flash-sale plugin's Redis keys)
is removed after it.
"""

from __future__ import annotations

import common  # noqa: F401 -- first: moves bench/ to the end of sys.path (its http.py would hide the stdlib's)

import argparse
import gc
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from common import create_database
from page_cpu import bare_app, call, callgrind, clean_up, environ, mallow_app

BUNDLED = ("distribution", "flashsale", "groupbuy")
EXTRA = 7  # the development-mode plugins of bench/http.py
HOME = "/s/demo/"
ACTOR = "bench-plugins"  # the switches' audit actor (at most 16 characters)
#: what wrk reads at a time (its RECVBUF): how the loopback reads an answer back
READ_SIZE = 8192
#: what wrk sends for a plain GET
WRK_REQUEST = b"GET /s/demo/ HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n"


def parse_args():
    parser = argparse.ArgumentParser(description="CPU per warm demo home with 0/3/10 plugins on, in-process")
    parser.add_argument("requests", nargs="?", type=int, default=2000, help="requests measured per count (2000)")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--counts", default="0,3,10", help="plugin counts measured, in this order (0,3,10)")
    parser.add_argument("--warm", type=int, default=50, help="requests before each count's measure (default 50)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over the counts, median (default 3; 1 under CG)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13", help="used on PostgreSQL (as http.py)")
    parser.add_argument("--no-redis", action="store_true", help="no Redis on PostgreSQL either")
    args = parser.parse_args()
    try:
        args.counts = [int(c) for c in args.counts.split(",")]
    except ValueError:
        parser.error("--counts: numbers separated by commas, e.g. 0,3,10")
    if not args.counts or not set(args.counts) <= {0, 3, 10} or len(set(args.counts)) != len(args.counts):
        parser.error("--counts: some of 0, 3 and 10, each once")
    if not (1 <= args.requests <= 100_000 and 0 <= args.warm <= 10_000 and 1 <= args.rounds <= 20):
        parser.error("requests 1..100000, --warm 0..10000, --rounds 1..20 (bounded)")
    return args


class Switcher:
    """The demo store's plugins switched as bench/http_scenarios.py's ``switch_to`` does."""

    def __init__(self, app, extra: list[str]):
        self.app, self.on = app, set(BUNDLED)
        self.variants = {10: set(BUNDLED) | set(extra), 3: set(BUNDLED), 0: set()}

    def to(self, count: int) -> None:
        from mallow.db import db
        from mallow.plugin_host import switches

        wanted = self.variants[count]
        with self.app.app_context():
            for name in sorted(self.on - wanted):
                switches.switch_off(name, "demo", ACTOR)
                self.on.discard(name)
            for name in sorted(wanted - self.on):
                switches.switch_on(name, "demo", ACTOR)
                self.on.add(name)
            db.session.remove()


class Loopback:
    """A TCP connection on 127.0.0.1 with both ends in this process (``TCP_NODELAY`` as gunicorn
    sets it): an answer written as gunicorn's sync worker writes it (the head, then the body) and
    read back as wrk reads it (``READ_SIZE`` at a time), after wrk's request."""

    def __init__(self):
        with socket.create_server(("127.0.0.1", 0)) as listener:
            self.client = socket.create_connection(listener.getsockname())
            self.server, _ = listener.accept()
        for end in (self.client, self.server):
            end.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def measure(self, head: bytes, body: bytes, n: int) -> float:
        """Seconds of CPU (both ends) per answer."""
        client, server, buffer, size = self.client, self.server, bytearray(READ_SIZE), len(head) + len(body)
        t = time.process_time()
        for _ in range(n):
            client.sendall(WRK_REQUEST)
            server.recv(READ_SIZE)
            server.sendall(head)
            server.sendall(body)
            left = size
            while left > 0:
                got = client.recv_into(buffer)
                if not got:
                    raise ConnectionError("the loopback connection closed")
                left -= got
        return (time.process_time() - t) / n

    def close(self) -> None:
        self.client.close()
        self.server.close()


def answer(app) -> tuple[bytes, bytes, float]:
    """The home's answer as gunicorn sends it: ``(head, body, seconds the kept page is fresh)``."""
    got = []
    body = b"".join(app(environ(HOME), lambda status, headers, exc_info=None: got.append((status, headers))))
    status, headers = got[0]
    assert status.startswith("200") and ("X-Mallow-Cache", "hit") in headers, (status, headers)
    lines = [f"HTTP/1.1 {status}", "Server: gunicorn", "Date: Mon, 07 Dec 2026 16:00:00 GMT", "Connection: keep-alive"]
    head = "\r\n".join([*lines, *(f"{k}: {v}" for k, v in headers), "", ""]).encode("latin-1")
    kept = app.extensions["mallow.edge_pages"]._pages  # a bench's look inside
    fresh = max((p.expires for key, p in kept.items() if key[3] == HOME), default=0.0) - time.time()
    return head, body, fresh


def measure(app, n: int) -> tuple[float, int]:
    """``(seconds of CPU per request, kept-page answers)`` for ``n`` homes."""
    envs = [environ(HOME) for _ in range(n)]
    pages = app.extensions["mallow.edge_pages"]
    hits = pages.hits
    t = time.process_time()
    for e in envs:
        status, _ = call(app, e)
    spent = time.process_time() - t
    assert status.startswith("200"), status
    return spent / n, pages.hits - hits


def main() -> None:
    args = parse_args()
    work = tempfile.mkdtemp(prefix="mallow-bench-plugins-")
    scratch = f"mallow_pluginscpu_{os.getpid()}" if args.backend == "postgresql" else None
    prefix = f"mallow-bench-plugins:{uuid.uuid4().hex[:8]}"
    redis_url = "" if (args.no_redis or not scratch) else args.redis_url
    app = bare = site = None
    saved_path = list(sys.path)
    try:
        import http_setup
        from mallow.plugin_host import devmode

        folder = Path(work) / "plugins-dev"
        extra = http_setup.write_extra_plugins(folder, EXTRA)
        site = devmode.prepare([folder], scratch=Path(work) / "dev-site")
        database_url = create_database(scratch) if scratch else None
        app = mallow_app(work, database_url, redis_url, prefix, cold=False, MALLOW_DEV_PLUGIN_DIRS=[str(folder)])
        bare = bare_app(database_url or f"sqlite:///{os.path.join(work, 'bare.db')}")
        run(args, app, bare, Switcher(app, extra))
    finally:
        clean_up(app, bare, redis_url, prefix, scratch)
        if site is not None:
            site.close()
        sys.path[:] = saved_path
        shutil.rmtree(work, ignore_errors=True)


def run(args, app, bare, switcher: Switcher) -> None:
    n, cg = args.requests, os.environ.get("CG")
    rounds = 1 if cg else args.rounds
    switcher.to(10)  # the development plugins switched on first, as http.py does with `mallow plugin enable`
    cpu: dict[int, list[float]] = {count: [] for count in args.counts}
    wire: dict[int, list[float]] = {count: [] for count in args.counts}
    facts: dict[int, tuple[int, int, float]] = {}
    base: list[float] = []
    loopback = None if cg else Loopback()
    try:
        for r in range(rounds):
            for count in args.counts if r % 2 == 0 else args.counts[::-1]:
                switcher.to(count)
                for _ in range(args.warm):
                    call(app, environ(HOME))
                    call(bare, environ("/page"))
                gc.collect()
                if cg:
                    callgrind("-i on")
                spent, hits = measure(app, n)
                if cg:
                    callgrind("-i off")
                    callgrind(f"-d plugins-{count}")
                head, body, fresh = answer(app)
                cpu[count].append(spent)
                facts[count] = (hits, len(body), fresh)
                if loopback is not None:
                    wire[count].append(loopback.measure(head, body, n))
            if cg:
                callgrind("-i on")
            t = time.process_time()
            for _ in range(n):
                call(bare, environ("/page"))
            base.append((time.process_time() - t) / n)
            if cg:
                callgrind("-i off")
                callgrind("-d a-page")
    finally:
        if loopback is not None:
            loopback.close()
    a_page = statistics.median(base)
    first = statistics.median(cpu[args.counts[0]])
    for count in args.counts:
        per = statistics.median(cpu[count])
        hits, size, fresh = facts[count]
        carried = f", loopback {statistics.median(wire[count]) * 1e6:.2f} us" if wire[count] else ""
        print(
            f"{args.backend}, {count:2d} plugins on: {per * 1e6:6.1f} us CPU/request "
            f"(A-page {a_page * 1e6:.0f} us; {args.counts[0]} plugins ÷ this {first / per:.3f}), "
            f"{size:,} bytes{carried}, {hits}/{n} kept-page answers, kept page fresh {fresh:.0f} s",
            file=sys.stderr,
        )
    print(f"(median of {rounds} rounds of {n})", file=sys.stderr)
    if cg:
        parts = ", ".join(f"part {i + 1} = {c} plugins" for i, c in enumerate(args.counts))
        print(f"callgrind: {parts}, part {len(args.counts) + 1} = A-page; per request = totals / {n}", file=sys.stderr)


if __name__ == "__main__":
    main()

"""CPU per cold storefront page: the demo home (``GET /s/demo/``, ``mallow demo``: the showcase
with the bundled plugins' blocks) for an anonymous visitor in Chinese, with every page cache off
(render cache and kept pages: bench/http.py's "cold" row), the WSGI app called in-process with a
ready environ, beside the bare A-dbpage (bench/http_baselines.py: Flask + one query + the Jinja
page of 20 products) in the same run and the same database (issue 13: the cold home is CPU-bound,
so CPU per request is what the ratio over HTTP follows).

    .venv/bin/python bench/page_cpu.py                       # 300 homes, SQLite: µs of CPU per request, ratio
    .venv/bin/python bench/page_cpu.py --backend postgresql  # scratch database (dropped after) + Redis
    .venv/bin/python bench/page_cpu.py --path /s/demo/nothing-here   # the fixed per-request cost alone (a 404)
    cd bench && PYTHONHASHSEED=0 CG=1 valgrind --tool=callgrind --instr-atstart=no \\
        --callgrind-out-file=/tmp/cg.%p ../.venv/bin/python page_cpu.py 20
        # instructions per request: collection is on around the measured requests only; the
        # Mallow requests are dumped first (/tmp/cg.<pid>.1), the bare A-dbpage's second
        # (/tmp/cg.<pid>.2): each file's total / 20
    PROF=1 .venv/bin/python bench/page_cpu.py 1000          # a process-time cProfile in /tmp/page.prof

Requests are measured after ``--warm`` of each (default 50: the process has met the store, the
compiled version, the block templates); ``--rounds`` alternate Mallow and the bare app (median).
The analytics flush thread is off (the buffer is flushed after the window). For back-to-back
comparisons under callgrind fix ``PYTHONHASHSEED`` (dict and type-cache layouts move totals by
~0.5 %). On PostgreSQL Redis is used as bench/http.py does (``--redis-url``, database 13; the
flash-sale plugin's keys under a prefix of the run, deleted after); ``--no-redis`` runs without.
"""

from __future__ import annotations

import common  # noqa: F401 -- first: moves bench/ to the end of sys.path (its http.py would hide the stdlib's)

import argparse
import gc
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

from common import FAST_HASH, create_database, dispose_app, drop_database

#: bench/http.py's cold server: the builder's render cache and the kept pages both off
COLD = {"MALLOW_PAGE_CACHE_ENTRIES": 0, "MALLOW_EDGE_CACHE_ENTRIES": 0}


def environ(path: str) -> dict:
    """A first visit (no cookie) in Chinese: what wrk sends to bench/http.py's cold row."""
    path, _, query = path.partition("?")
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9",
        "HTTP_ACCEPT": "text/html,application/xhtml+xml",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }


def call(app, env: dict) -> tuple[str, bytes]:
    """One request through the app's WSGI callable (middlewares included), the body read whole."""
    got = []

    def start_response(status, headers, exc_info=None):
        got.append(status)

    body = app(env, start_response)
    try:
        data = b"".join(body)
    finally:
        close = getattr(body, "close", None)
        if close:
            close()
    return got[0], data


def parse_args():
    parser = argparse.ArgumentParser(
        description="CPU per cold demo home (every page cache off), in-process, beside A-dbpage"
    )
    parser.add_argument("requests", nargs="?", type=int, default=300, help="requests measured per round (default 300)")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--path", default="/s/demo/", help="the Mallow path asked (default the demo home /s/demo/)")
    parser.add_argument("--warm", type=int, default=50, help="requests of each app before measuring (default 50)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds, median (default 3; 1 under CG)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13", help="used on PostgreSQL (as http.py)")
    parser.add_argument("--no-redis", action="store_true", help="no Redis on PostgreSQL either")
    args = parser.parse_args()
    if not (1 <= args.requests <= 100_000 and 0 <= args.warm <= 10_000 and 1 <= args.rounds <= 20):
        parser.error("requests 1..100000, --warm 0..10000, --rounds 1..20 (bounded)")
    if not args.path.startswith("/"):
        parser.error("--path: an absolute path, e.g. /s/demo/products/1")
    return args


def mallow_app(work: str, database_url: str | None, redis_url: str, prefix: str, cold: bool = True, **extra):
    """bench/http.py's cold server (``cold``: every page cache off), built in this process:
    `mallow db upgrade` + `mallow demo`; ``extra``: more configuration (bench/plugins_cpu.py's
    development plugins)."""
    from mallow.app import create_app
    from mallow.db import db
    from mallow.db.migrate import upgrade_platform
    from mallow.demo import seed
    from mallow.demo_showcase import seed_showcase

    config = {
        "MALLOW_DATA_DIR": os.path.join(work, "data"),
        "SECRET_KEY": "bench",
        "REDIS_URL": redis_url,
        "PASSWORD_HASH_METHOD": FAST_HASH,
        "MALLOW_ANALYTICS_FLUSH_SECONDS": 0,
        "FLASHSALE_REDIS_PREFIX": f"{prefix}:flashsale",
        **(COLD if cold else {}),
        **extra,
    }
    if database_url:
        config["DATABASE_URL"] = database_url
    app = create_app(config)
    with app.app_context():
        upgrade_platform(db.engine)
        seed()
        shown = seed_showcase(app)
        assert not shown.get("plugins_missing"), shown
        db.session.remove()
    return app


def bare_app(database_url: str):
    """bench/http_baselines.py's bare apps (A-dbpage is ``/dbpage``, A-page ``/page``), their
    tables made in ``database_url``."""
    import http_baselines

    http_baselines.prepare(database_url)
    os.environ["BARE_DATABASE_URL"] = database_url
    return http_baselines.create_app()


def measure(app, path: str, n: int) -> tuple[float, str]:
    envs = [environ(path) for _ in range(n)]
    t = time.process_time()
    for e in envs:
        status, _ = call(app, e)
    return time.process_time() - t, status


def callgrind(what: str) -> None:
    subprocess.run(["callgrind_control", *what.split(), str(os.getpid())], check=True, capture_output=True)


def main() -> None:
    args = parse_args()
    work = tempfile.mkdtemp(prefix="mallow-bench-page-")
    scratch = f"mallow_pagecpu_{os.getpid()}" if args.backend == "postgresql" else None
    prefix = f"mallow-bench-page:{uuid.uuid4().hex[:8]}"
    redis_url = "" if (args.no_redis or not scratch) else args.redis_url
    app = bare = None
    try:
        database_url = create_database(scratch) if scratch else None
        app = mallow_app(work, database_url, redis_url, prefix)
        bare = bare_app(database_url or f"sqlite:///{os.path.join(work, 'bare.db')}")
        run(args, app, bare)
    finally:
        clean_up(app, bare, redis_url, prefix, scratch)
        shutil.rmtree(work, ignore_errors=True)


def clean_up(app, bare, redis_url: str, prefix: str, scratch: str | None) -> None:
    """What a run of this script (or bench/plugins_cpu.py) leaves: the analytics events the
    measured requests buffered flushed, both apps' connections closed, the run's Redis keys and
    its scratch database dropped."""
    if app is not None:
        from mallow.analytics.buffer import EXTENSION

        app.extensions[EXTENSION].flush()
    dispose_app(app)
    if bare is not None:
        with bare.app_context():
            bare.extensions["sqlalchemy"].engine.dispose()
    if redis_url:
        from http_baselines import forget_redis

        forget_redis(redis_url, prefix)
    drop_database(scratch)


def run(args, app, bare) -> None:
    n, path = args.requests, args.path
    for _ in range(args.warm):
        status, page = call(app, environ(path))
        call(bare, environ("/dbpage"))
    if path == "/s/demo/":
        assert status.startswith("200") and b"data-block-id" in page, (status, page[:300])
    status, headers = _headers(app, path)
    assert "X-Mallow-Cache" not in headers, f"a page cache answered: X-Mallow-Cache {headers['X-Mallow-Cache']}"
    gc.collect()
    gc.freeze()
    cg, prof = os.environ.get("CG"), None
    if os.environ.get("PROF"):
        import cProfile

        prof = cProfile.Profile(time.process_time)
    rounds = 1 if (cg or prof) else args.rounds
    ours, theirs = [], []
    for _ in range(rounds):
        if cg:
            callgrind("-i on")
        if prof:
            prof.enable()
        spent, status = measure(app, path, n)
        if prof:
            prof.disable()
            prof.dump_stats("/tmp/page.prof")
        if cg:
            callgrind("-i off")
            callgrind("-d mallow")  # part 1: Mallow's requests
            callgrind("-i on")
        bspent, _ = measure(bare, "/dbpage", n)
        if cg:
            callgrind("-i off")
            callgrind("-d bare")  # part 2: A-dbpage's requests
        ours.append(spent / n)
        theirs.append(bspent / n)
    a, b = statistics.median(ours), statistics.median(theirs)
    print(
        f"{args.backend}, {path} ({status}): {a * 1e6:.0f} us CPU/request; bare A-dbpage {b * 1e6:.0f} us; "
        f"ratio {b / a:.2f}x (median of {rounds} rounds of {n})",
        file=sys.stderr,
    )
    if cg:
        print(f"callgrind: part 1 = Mallow, part 2 = A-dbpage; instructions per request = total / {n}", file=sys.stderr)


def _headers(app, path: str) -> tuple[str, dict]:
    got = []

    def start_response(status, headers, exc_info=None):
        got.append((status, dict(headers)))

    body = app(environ(path), start_response)
    b"".join(body)
    getattr(body, "close", lambda: None)()
    return got[0]


if __name__ == "__main__":
    main()

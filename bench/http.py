#!/usr/bin/env python
"""HTTP bench: Mallow's storefront, checkout and flash-sale hot paths under gunicorn, driven by wrk,
beside the bare baseline apps of shared/briefs/performance.md served the same way in the same run.

Mallow runs the demo store (``mallow db upgrade`` + ``mallow demo``: three categories, a dozen
products, the group-buy, flash-sale and distribution plugins on) in a fresh data dir, under gunicorn
with 4 sync workers on 127.0.0.1; the bare apps (bench/http_baselines.py) get the same worker count.
Each path and its baseline are measured alternately (``wrk -t1 -c32 -d<seconds>s --latency``) for
``--rounds`` rounds after a warm-up; the tables show medians and ratios, then the brief's targets
with ✓/✗. Every server started is stopped (process groups) and the scratch database dropped,
whatever happens. Loopback only; every load is bounded in time and count.

    .venv/bin/python bench/http.py                          # SQLite, 3 rounds x 5 s
    .venv/bin/python bench/http.py --backend postgresql     # scratch database + Redis, dropped after
    .venv/bin/python bench/http.py --rounds 1 --seconds 3 --quick   # a quick look
    .venv/bin/python bench/http.py --only flash,order --json /tmp/rows.json

wrk is installed with apt-get when missing and running as root (as scripts/test does for chromium),
gunicorn with pip into this virtualenv (the ``bench`` extra of pyproject.toml).
"""

from __future__ import annotations

import common  # noqa: F401 -- first: moves bench/ to the end of sys.path (this file would hide the stdlib's http)

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid

import http_flash
import http_report as report
import http_scenarios as scenarios
import http_setup as setup
from common import HERE, ROOT, create_database, dispose_app, drop_database
from http_baselines import forget_redis, prepare
from http_tools import WORKERS, Servers, ensure_tools, get, mallow, say

PLAIN = ("home", "product", "category", "search", "api-list", "api-product", "cart", "order", "flash-page", "cold")
NAMES = (*PLAIN, "flash", "plugins", "stores")
DEFAULT_ONLY = [name for name in NAMES if name != "cold"]
#: the cold server: the builder's render cache and the kept pages (memory and files) both off
COLD = {"MALLOW_PAGE_CACHE_ENTRIES": 0, "MALLOW_EDGE_CACHE_ENTRIES": 0}


def redis_up(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


def store_counts(text: str | None, quick: bool = False) -> list[int]:
    """The store counts of the ``stores`` scenario: ``N`` alone means 100 vs N (N above 100),
    ``A,B`` A vs B; nothing, 100 vs 10,000 (``--quick``: 100 vs 1,000)."""
    counts = [int(n) for n in (text or ("1000" if quick else "10000")).split(",")]
    return [100, *counts] if len(counts) == 1 and counts[0] > 100 else counts


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--redis", action="store_true", help="Mallow uses Redis on SQLite too (always on PostgreSQL)")
    parser.add_argument(
        "--redis-url", default="redis://127.0.0.1:6379/13", help="a database of its own (the tests use 15)"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0, help="per wrk run")
    parser.add_argument("--only", help=f"comma-separated, of: {', '.join(NAMES)} (default: all but cold)")
    parser.add_argument(
        "--cold", action="store_true", help="also the home page with every page cache off (render and kept pages)"
    )
    parser.add_argument(
        "--stores",
        help="N: a random store among 100 vs among N (default 10000); or counts compared, first vs last (100,1000)",
    )
    parser.add_argument("--quick", action="store_true", help="--stores 100,1000 unless --stores is given")
    parser.add_argument("--stores-budget", type=float, default=1800, help="seconds to make the stores, at most")
    parser.add_argument(
        "--crawl-budget", type=float, default=900, help="seconds to ask every store's home once, at most (per count)"
    )
    parser.add_argument(
        "--flash-units",
        type=int,
        default=http_flash.DEFAULT_UNITS,
        help="units per flash sale (and shoppers); enough that a round sells for a few seconds",
    )
    parser.add_argument(
        "--flash-drain",
        choices=("beside", "after"),
        default="beside",
        help="the flash sale's drain worker: beside the servers for the whole run (default), or started after "
        "each round's attempts (a worker node of its own)",
    )
    parser.add_argument("--json", help="save the rows to this file")
    args = parser.parse_args()
    args.only = [n.strip() for n in args.only.split(",")] if args.only else list(DEFAULT_ONLY)
    if args.cold and "cold" not in args.only:
        args.only.append("cold")
    unknown = set(args.only) - set(NAMES)
    if unknown:
        parser.error(f"--only: unknown {', '.join(sorted(unknown))} (known: {', '.join(NAMES)})")
    try:
        args.stores = store_counts(args.stores, args.quick)
    except ValueError:
        parser.error(f"--stores: a number, or numbers separated by commas (not {args.stores!r})")
    if not (1 <= args.rounds <= 20 and 1 <= args.seconds <= 60 and 10 <= args.flash_units <= 20_000):
        parser.error("--rounds 1..20, --seconds 1..60, --flash-units 10..20000 (bounded load)")
    if not (len(args.stores) >= 1 and all(1 <= n <= 20_000 for n in args.stores)):
        parser.error("--stores: 1..20,000 each")
    return args


def main() -> None:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a killed run still stops its servers
    ensure_tools()
    work = tempfile.mkdtemp(prefix="mallow-bench-http-")
    scratch = f"mallow_bench_http_{os.getpid()}" if args.backend == "postgresql" else None
    prefix = f"mallow-bench-http:{uuid.uuid4().hex[:8]}"
    servers, app, rows = Servers(work), None, []
    redis_ok = redis_up(args.redis_url)
    try:
        env = dict(os.environ, MALLOW_DATA_DIR=os.path.join(work, "data"), SECRET_KEY="bench", MALLOW_BENCH_WORK=work)
        env.pop("DATABASE_URL", None)
        env["REDIS_URL"] = args.redis_url if (args.redis or scratch) else ""
        bare_env = dict(os.environ, BARE_DATABASE_URL=f"sqlite:///{os.path.join(work, 'bare.db')}")
        if scratch:
            env["DATABASE_URL"] = create_database(scratch)
            bare_env["BARE_DATABASE_URL"] = env["DATABASE_URL"]
        if redis_ok:
            bare_env.update(BARE_REDIS_URL=args.redis_url, BARE_REDIS_PREFIX=prefix)
        elif "flash" in args.only or scratch:
            say(f"bench/http.py: Redis at {args.redis_url} does not answer: no A-flash-redis baseline")
        say(f"bench/http.py: {args.backend}, demo store in {env['MALLOW_DATA_DIR']}")
        mallow(env, "db", "upgrade")
        mallow(env, "demo")

        prepare(bare_env["BARE_DATABASE_URL"], bare_env.get("BARE_REDIS_URL"), prefix)
        # the bare app runs from a folder of its own: bench/ on gunicorn's path would hide ``http``
        bare_dir = os.path.join(work, "bare")
        os.mkdir(bare_dir)
        for name in ("http_baselines.py", "common.py"):
            shutil.copy(os.path.join(HERE, name), bare_dir)
        bare = servers.start("bare", "http_baselines:create_app()", bare_env, bare_dir, "/hello")
        # the flash-sale plugin's Redis keys under this run's prefix: deleted at the end
        factory_config = {"FLASHSALE_REDIS_PREFIX": f"{prefix}:flashsale"}
        url = servers.start("mallow", f"mallow.app:create_app({factory_config!r})", env, ROOT, "/s/demo/")
        demo = scenarios.Demo(url, work)
        app = setup.open_app(env)

        plain = [name for name in args.only if name in PLAIN]
        if plain:
            cold = None
            if "cold" in plain:  # the same app and data, every page cache holding nothing
                cold = servers.start("mallow-cold", f"mallow.app:create_app({COLD!r})", env, ROOT, "/s/demo/")
                for _ in range(3):  # nothing may come from a kept page (memory, or the warm server's files)
                    status, headers = get(cold + "/s/demo/")
                    if status != 200 or headers.get("X-Mallow-Cache"):
                        raise SystemExit(
                            f"the cold server answered {status}, X-Mallow-Cache {headers.get('X-Mallow-Cache')}"
                        )
            entries = [e for e in scenarios.plain_entries(demo, bare, cold, args.backend) if e["key"] in plain]
            rows += scenarios.measure_plain(entries, args.rounds, args.seconds)
            if cold:
                servers.stop("mallow-cold")
        if "flash" in args.only and demo.flashsale:
            rows += http_flash.measure_flash(
                demo,
                app,
                bare,
                env,
                factory_config,
                args.flash_units,
                args.rounds,
                args.seconds,
                redis_ok,
                args.flash_drain,
            )
        if "plugins" in args.only:
            rows += scenarios.measure_plugins(servers, env, bare, args.rounds, args.seconds)
        if "stores" in args.only:
            rows += scenarios.measure_stores(
                servers,
                env,
                app,
                bare,
                args.stores,
                args.rounds,
                args.seconds,
                args.stores_budget,
                args.crawl_budget,
                work,
                factory_config,
            )

        redis = "Redis" if env["REDIS_URL"] else "no Redis"
        title = (
            f"bench/http.py — {args.backend} + {redis}, gunicorn {WORKERS} sync workers, wrk -t1 -c32, "
            f"{args.rounds} round(s) × {args.seconds:g} s, medians"
        )
        report.print_rows(rows, title, args.backend)
        report.print_brief(rows, args.backend)
        if args.json:
            meta = dict(backend=args.backend, redis=bool(env["REDIS_URL"]), rounds=args.rounds, seconds=args.seconds)
            report.save(args.json, rows, dict(meta, title=title, at=time.strftime("%Y-%m-%d %H:%M:%S")))
    finally:
        servers.stop()
        dispose_app(app)
        drop_database(scratch)
        if redis_ok:
            forget_redis(args.redis_url, prefix)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Stores at scale (PostgreSQL, a schema per store): provisioning, migrating every store, and the
backend memory of serving every store — at 1,000 and 10,000 stores by default.

Every figure is printed next to its bare baseline or target, measured in the same run (see
shared/briefs/performance.md: these 2-core machines drift too much for absolute numbers).

* provisioning, while N stores exist: ``provision_store`` taking a schema from the pool, the same
  making the schema itself (pool off), and a replay of the very statements it sends as text in
  one transaction (the raw DDL baseline); the ratio to raw DDL (target <= 2x, ~60 ms); and the
  whole sign-up (``signup_merchant``) with the pool full and with it off.
* migrations, every store: ``mallow db upgrade``'s store step (``migrate_stores``) with
  ``--jobs`` processes, nothing to apply (bulk version read) and one revision to apply (every
  store first moved one revision down, timed too), against 1,000 in 60 s / 10,000 in 10 min.
* memory: ``--connections`` pooled connections each serve every store once, in its own random
  order (the statements of a store request: a few tables of the store's schema, translated as
  store engines do), without and then with recycling after ``--schemas-per-connection``
  schemas; then the PostgreSQL backends' memory (``pg_backend_memory_contexts`` of each
  connection, and RssAnon of every backend of the scratch database from /proc), projected to
  60 connections (4 gunicorn workers x a pool of 15), against 1 GiB.

Stores are made in bulk (rows inserted, schemas made by replaying provision_store's DDL, many per
transaction on two connections): signing 10,000 stores up one by one would take most of an hour.
Creates (and drops) its own scratch database; loopback only; every loop is bounded.

    .venv/bin/python bench/tenants.py                 # 1,000 and 10,000 stores (~25 min; --budget caps store-making)
    .venv/bin/python bench/tenants.py --quick         # 1,000 stores, fewer samples (~6 min)
"""

from __future__ import annotations

import common  # noqa: F401 -- first: moves bench/ to the end of sys.path (its http.py would hide the stdlib's)

import argparse
import os
import random
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa
from common import drop_scratch, mallow_config, replay_schemas, store_ddl

FAKE_BASE = 900_000_000  # store ids of provisioning samples (never a Store row)
TOUCHED_TABLES = ("staff", "settings", "products", "skus", "product_categories", "pages", "carts", "customers")


def say(*parts) -> None:
    print(*parts, flush=True)


def median(values) -> float:
    return statistics.median(values) if values else float("nan")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


class Clock:
    def __init__(self):
        self.started = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.started


# ---------------------------------------------------------------------------------------------
# the app and the statements provision_store sends


def build_app(config: dict, pool_size: int):
    from mallow.app import create_app
    from mallow.db import db
    from mallow.db.migrate import upgrade_platform
    from mallow.qualifications.matrix import seed_defaults

    app = create_app({**config, "MALLOW_STORE_POOL_SIZE": pool_size, "MALLOW_PG_SCHEMAS_PER_CONNECTION": 0})
    with app.app_context():
        upgrade_platform(db.engine)
        seed_defaults()
    return app


def captured_ddl(app) -> list[str]:
    """The statements ``provision_store`` sends for a new schema (:func:`common.store_ddl`)."""
    return store_ddl(app)


def raw_ddl(engine, ddl: list[str], store_ids: list[int]) -> None:
    """Make the schemas of ``store_ids`` in one transaction, every statement as text."""
    with engine.begin() as connection:
        for store_id in store_ids:
            for statement in ddl:
                connection.exec_driver_sql(statement.replace("store_{id}", f"store_{store_id}"))


# ---------------------------------------------------------------------------------------------
# stores in bulk


def grow_to(app, ddl: list[str], count: int, store_ids: list[int], deadline: float, clock: Clock) -> float:
    """Stores (rows and schemas) until ``count`` exist (or the budget is spent): rows inserted by the ORM 250 at a time,
    schemas by replaying provision_store's DDL 5 to a transaction (the lock table's size) on two
    connections (:func:`common.replay_schemas`, shared with bench/http.py's store counts)."""
    from mallow.accounts.models import Merchant
    from mallow.db import db
    from mallow.tenants.models import Store

    started, initial = clock(), len(store_ids)
    with app.app_context():
        engine = db.engine
        while len(store_ids) < count:
            batch = min(250, count - len(store_ids))
            first = len(store_ids)
            merchants = [
                Merchant(email=f"bulk{first + i}@example.com", name="店主", password_hash="-") for i in range(batch)
            ]
            stores = [
                Store(slug=f"bulk-{first + i:05d}", name=f"店铺 {first + i}", main_category="general", status="open")
                for i in range(batch)
            ]
            for merchant, store in zip(merchants, stores, strict=True):
                store.owner = merchant
            db.session.add_all(merchants + stores)
            db.session.commit()
            pairs = [(s.id, s.owner_id) for s in stores]
            db.session.remove()

            replay_schemas(engine, ddl, pairs, per_transaction=5, connections=2)  # disposes the engine after
            store_ids.extend(store_id for store_id, _ in pairs)
            rate = (len(store_ids) - initial) / max(clock() - started, 1e-9)
            say(f"  made {len(store_ids):6d}/{count} stores in bulk ({rate:.1f}/s, t={clock():.0f}s)")
            if clock() > deadline and len(store_ids) < count:
                say(f"  BUDGET: {deadline:.0f} s spent; measuring at {len(store_ids)} stores instead of {count}")
                break
    return clock() - started


# ---------------------------------------------------------------------------------------------
# provisioning


def provisioning(app, ddl: list[str], samples: int, fake: list[int]) -> dict:
    """Alternating samples of provision_store from the pool, provision_store making the schema,
    and the raw DDL replay; each sample's schema dropped (untimed)."""
    from mallow.accounts.staff import owner_seed
    from mallow.tenants import pool
    from mallow.tenants.provisioning import drop_store, provision_store

    times: dict[str, list[float]] = {"pool": [], "inline": [], "raw": []}
    with app.app_context():
        engine = app.extensions["mallow.store_engines"].platform_engine
        size = app.config["MALLOW_STORE_POOL_SIZE"]
        pool.top_up(samples + 1)

        def pooled(store_id):
            return provision_store(store_id, seed=owner_seed(1))

        def inline(store_id):
            app.config["MALLOW_STORE_POOL_SIZE"] = 0
            try:
                return provision_store(store_id, seed=owner_seed(1))
            finally:
                app.config["MALLOW_STORE_POOL_SIZE"] = size

        def raw(store_id):
            started = time.perf_counter()
            raw_ddl(engine, ddl, [store_id])
            return time.perf_counter() - started

        kinds = [("pool", pooled), ("inline", inline), ("raw", raw)]
        for i in range(samples + 1):  # the first round warms up and is not counted
            for name, run in kinds[i % 3 :] + kinds[: i % 3]:
                fake[0] += 1
                elapsed = run(fake[0])
                if i:
                    times[name].append(elapsed)
                drop_store(fake[0])
        pool.top_up()
    return times


def signups(app, samples: int) -> dict:
    """The whole sign-up (validation, hash, rows, schema, audit, commit), pool full vs off."""
    from mallow.db import db
    from mallow.merchants.signup import signup_merchant
    from mallow.tenants import pool

    times: dict[str, list[float]] = {"pool": [], "inline": []}
    size = app.config["MALLOW_STORE_POOL_SIZE"]
    for i in range(samples):
        for kind in ("pool", "inline") if i % 2 == 0 else ("inline", "pool"):
            slug = f"signup-{kind}-{os.getpid()}-{random.randrange(10**9)}"
            with app.app_context():
                pool.top_up(size)  # untimed: the job's work
            app.config["MALLOW_STORE_POOL_SIZE"] = size if kind == "pool" else 0
            try:
                with app.test_request_context():
                    started = time.perf_counter()
                    signup_merchant(
                        {
                            "email": f"{slug}@example.com",
                            "password": "bench-pass-123",
                            "name": "店主",
                            "store_name": "店铺",
                            "slug": slug[:32].rstrip("-"),
                            "main_category": "general",
                        }
                    )
                    times[kind].append(time.perf_counter() - started)
                    db.session.remove()
            finally:
                app.config["MALLOW_STORE_POOL_SIZE"] = size
    return times


# ---------------------------------------------------------------------------------------------
# migrations


def migrations(app, store_ids: list[int], jobs: int) -> dict:
    """``migrate_stores`` over every store: nothing to apply; then every store one revision down
    (timed, same machinery) and ``migrate_stores`` bringing them all back to the head."""
    from mallow.db.migrate import head, run_store_chain, script_directory, upgrade_stores
    from mallow.tenants.provisioning import migrate_stores

    stores = [(store_id, f"store-{store_id}") for store_id in store_ids]
    quiet = lambda line: None  # noqa: E731
    with app.app_context():
        started = time.perf_counter()
        idle = migrate_stores(stores, jobs=jobs, echo=quiet)
        idle_s = time.perf_counter() - started
        previous = script_directory("store").get_revision(head("store")).down_revision
        engines = app.extensions["mallow.store_engines"]

        def down(store_id):
            with app.app_context():
                with engines.engine_for(store_id).begin() as connection:
                    run_store_chain(connection, engines.version_table_schema(store_id), previous, downgrade=True)

        engines.platform_engine.dispose()
        started = time.perf_counter()
        downgraded = upgrade_stores(stores, down, quiet, jobs=jobs)
        down_s = time.perf_counter() - started
        started = time.perf_counter()
        real = migrate_stores(stores, jobs=jobs, echo=quiet)
        up_s = time.perf_counter() - started
    failed = idle["failed"] + downgraded["failed"] + real["failed"]
    if failed:
        raise SystemExit(f"migrations failed: {failed[:3]}")
    return {"idle_s": idle_s, "idle_skipped": idle["skipped"], "down_s": down_s, "up_s": up_s, "up": real["migrated"]}


# ---------------------------------------------------------------------------------------------
# backend memory


def serve_every_store(url: str, store_ids: list[int], connections: int, recycle_after: int) -> dict:
    """``connections`` threads on a pool of as many connections; each thread serves every store
    once in its own random order (SELECTs on a few of the store's tables, translated as store
    engines do, one checkout per store). Then the memory of every backend, measured while they
    are all still open."""
    from mallow.db import store_metadata
    from mallow.db.session import STORE_SCHEMA
    from mallow.tenants import recycling

    engine = sa.create_engine(url, pool_size=connections, max_overflow=0, pool_timeout=60)
    recycling.install(engine, recycle_after)
    tables = [store_metadata.tables[f"{STORE_SCHEMA}.{name}"] for name in TOUCHED_TABLES]
    queries = [sa.select(sa.func.count()).select_from(table) for table in tables]
    closed = [0]
    lock = threading.Lock()

    @sa.event.listens_for(engine.pool, "close")
    def counted(*_args):
        with lock:
            closed[0] += 1

    def walk(seed):
        order = list(store_ids)
        random.Random(seed).shuffle(order)
        for store_id in order:
            with engine.connect() as connection:
                connection.execution_options(schema_translate_map={STORE_SCHEMA: f"store_{store_id}"})
                for query in queries:
                    connection.execute(query).scalar()

    started = time.perf_counter()
    with ThreadPoolExecutor(connections) as pool:
        list(pool.map(walk, range(connections)))
    seconds, recycled = time.perf_counter() - started, closed[0]
    memory = backend_memory(engine, connections)
    engine.dispose()
    return {"seconds": seconds, "closed": recycled, **memory}


def backend_memory(engine, connections: int) -> dict:
    """Every pooled connection checked out at once; each asks its own backend (its memory
    contexts, CacheMemoryContext among them), and /proc gives RssAnon of every one."""
    from contextlib import ExitStack

    contexts, cache, pids = 0, 0, []
    with ExitStack() as stack:
        held = [stack.enter_context(engine.connect()) for _ in range(connections)]
        for connection in held:
            total, cached, pid = connection.exec_driver_sql(
                "SELECT sum(total_bytes), sum(total_bytes) FILTER (WHERE name = 'CacheMemoryContext'), "
                "pg_backend_pid() FROM pg_backend_memory_contexts"
            ).one()
            contexts, cache = contexts + int(total), cache + int(cached or 0)
            pids.append(pid)
    return {"contexts": contexts, "cache": cache, "rss_anon": sum(rss_anon(pid) for pid in pids)}


def rss_anon(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


# ---------------------------------------------------------------------------------------------
# main


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", default="1000,10000", help="store counts to measure at (default 1000,10000)")
    parser.add_argument("--quick", action="store_true", help="1,000 stores, fewer samples")
    parser.add_argument("--samples", type=int, default=20, help="provisioning samples of each kind per count")
    parser.add_argument("--signups", type=int, default=10, help="sign-ups of each kind per count")
    parser.add_argument("--jobs", type=int, default=2, help="processes migrating stores (default 2)")
    parser.add_argument("--pool-size", type=int, default=5, help="MALLOW_STORE_POOL_SIZE (default 5)")
    parser.add_argument("--connections", type=int, default=4, help="connections serving every store")
    parser.add_argument("--schemas-per-connection", type=int, default=100, help="recycle after (default 100)")
    parser.add_argument(
        "--budget", type=float, default=900, help="stop making stores this many s into the run, measure there"
    )
    args = parser.parse_args(argv)
    if args.quick:
        if args.stores == parser.get_default("stores"):
            args.stores = "1000"
        args.samples, args.signups = min(args.samples, 10), min(args.signups, 5)
    args.levels = sorted({int(x) for x in args.stores.split(",") if x.strip()})
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    clock = Clock()
    config, scratch = mallow_config("postgresql", "tenants")
    app = None
    say(
        f"mallow stores-at-scale bench: stores={args.levels} jobs={args.jobs} pool={args.pool_size} "
        f"connections={args.connections} recycle after {args.schemas_per_connection} schemas; "
        f"cpus={os.cpu_count()} load average {load_average()}"
    )
    try:
        app = build_app(config, args.pool_size)
        ddl = captured_ddl(app)
        say(f"  scratch database {scratch}; provision_store sends {len(ddl)} statements (t={clock():.0f}s)")
        store_ids: list[int] = []
        fake = [FAKE_BASE]
        rows = []
        for level in args.levels:
            say(f"== {level} stores ==")
            grow_s = grow_to(app, ddl, level, store_ids, args.budget, clock)
            level = len(store_ids)  # fewer when the store-making budget ran out
            prov = provisioning(app, ddl, args.samples, fake)
            say(
                f"  provision_store: pool {ms(median(prov['pool']))}, inline {ms(median(prov['inline']))}, "
                f"raw DDL {ms(median(prov['raw']))} (t={clock():.0f}s)"
            )
            signup = signups(app, args.signups)
            say(
                f"  sign-up: pool {ms(median(signup['pool']))}, inline {ms(median(signup['inline']))} (t={clock():.0f}s)"
            )
            migration = migrations(app, store_ids, args.jobs)
            say(
                f"  migrate every store (--jobs {args.jobs}): nothing to apply {migration['idle_s']:.1f} s, "
                f"one revision down {migration['down_s']:.1f} s, up again {migration['up_s']:.1f} s (t={clock():.0f}s)"
            )
            url = app.config["SQLALCHEMY_DATABASE_URI"]
            base = serve_every_store(url, store_ids[:1], args.connections, 0)
            before = serve_every_store(url, store_ids, args.connections, 0)
            after = serve_every_store(url, store_ids, args.connections, args.schemas_per_connection)
            say(
                f"  memory after serving every store on {args.connections} connections: "
                f"{mib(before['contexts'])} without recycling, {mib(after['contexts'])} with (t={clock():.0f}s)"
            )
            rows.append(
                {
                    "level": level,
                    "grow_s": grow_s,
                    "prov": prov,
                    "signup": signup,
                    "migration": migration,
                    "base": base,
                    "before": before,
                    "after": after,
                }
            )
        print_report(args, rows, clock())
        return 0
    finally:
        drop_scratch(app, scratch)


def mib(value: float) -> str:
    return f"{value / 2**20:7.1f} MiB"


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def print_report(args, rows, elapsed: float) -> None:
    say("")
    say(
        f"=== Mallow stores at scale — PostgreSQL, {os.cpu_count()} CPUs, {elapsed:.0f} s, load average {load_average()} ==="
    )
    say(
        "Provisioning one store while N exist (median; raw DDL = provision_store's own statements as text, one transaction)"
    )
    say(
        f"{'stores':>7} | {'from pool':>10} | {'made inline':>11} | {'raw DDL':>10} | {'pool/DDL':>8} | {'inline/DDL':>10} | "
        f"{'sign-up, pool':>13} | {'sign-up, no pool':>16}"
    )
    for r in rows:
        p, s = r["prov"], r["signup"]
        raw = median(p["raw"])
        say(
            f"{r['level']:>7} | {ms(median(p['pool'])):>10} | {ms(median(p['inline'])):>11} | {ms(raw):>10} | "
            f"{median(p['pool']) / raw:7.2f}x | {median(p['inline']) / raw:9.2f}x | {ms(median(s['pool'])):>13} | "
            f"{ms(median(s['inline'])):>16}"
        )
    say("  target: <= 2x raw DDL (~60 ms) of schema work per new store, also with 10,000 stores present.")
    say("")
    say(f"Migrating every store with --jobs {args.jobs} (wall time; target 1,000 in <= 60 s, 10,000 in <= 10 min)")
    say(
        f"{'stores':>7} | {'nothing to apply':>16} | {'one revision down':>17} | {'one revision up':>15} | {'stores/s up':>11}"
    )
    for r in rows:
        m = r["migration"]
        say(
            f"{r['level']:>7} | {m['idle_s']:14.1f} s | {m['down_s']:15.1f} s | {m['up_s']:13.1f} s | "
            f"{r['level'] / m['up_s']:11.0f}"
        )
    say("")
    say(
        f"PostgreSQL backend memory after {args.connections} connections each served every store once "
        f"(recycling after {args.schemas_per_connection} schemas; target <= 1 GiB in total)"
    )
    say(
        f"{'stores':>7} | {'recycling':>9} | {'contexts':>11} | {'of it cache':>11} | {'RssAnon':>11} | "
        f"{'per schema':>10} | {'closed':>6} | {'60 connections':>14}"
    )
    for r in rows:
        base, before, after, n = r["base"], r["before"], r["after"], r["level"]
        per_schema = (before["contexts"] - base["contexts"]) / (args.connections * max(1, n - 1))
        fresh = base["contexts"] / args.connections
        projected = {"off": fresh + per_schema * n, "on": fresh + per_schema * min(n, args.schemas_per_connection)}
        for label, m in (("off", before), ("on", after)):
            say(
                f"{n:>7} | {label:>9} | {mib(m['contexts'])} | {mib(m['cache'])} | {mib(m['rss_anon'])} | "
                f"{per_schema / 1024:7.1f} KiB | {m['closed']:>6} | {mib(60 * projected[label]):>14}"
            )
    say("  contexts = sum of pg_backend_memory_contexts over the pooled connections; RssAnon = their processes'")
    say("  private memory (/proc); per schema = what serving one more store adds to a connection (vs. serving one);")
    say("  closed = connections recycled during the loop; 60 connections = 4 gunicorn workers x (pool 5 + overflow")
    say("  10), each fresh + per schema x the schemas it keeps (every store: off; at most the bound: on).")
    say("(measured while other work may run on this machine: compare the ratios and bounds, not absolute times)")


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Tenancy bench: store provisioning, per-store migration, and per-request tenant overhead.

Every figure is printed next to a bare baseline measured in the same run, and as a ratio
(see shared/briefs/performance.md: these machines drift too much for absolute numbers).

* sign-up / provisioning: seconds per new store (median, p95) through the real sign-up
  (``signup_merchant``) and the schema provisioning alone (``provision_store``), measured
  while ~N stores exist, next to a replay of the very same SQL statements (raw DDL baseline).
* migrations: ``migrate_store`` over every store (all at head: the "nothing to apply" cost)
  next to a bare read of each store's ``alembic_version`` row.
* requests: a store route (tenant resolution + the store's schema) next to two baselines, a
  random store per request: ``plain``, a request that does neither (the same staff SELECT on a
  copy of the table in the default schema: no store lookup, no translate map), and ``bare``, the
  resolver's store lookup plus one fixed store schema (what the resolver machinery alone costs).
  Flask test client in-process and, with ``--http``, waitress on 127.0.0.1. Median of 3
  alternating rounds; both ratios printed.

Creates (and drops) its own scratch database ``mallow_bench_<pid>``; loopback only; every
loop is bounded in count and time.

    .venv/bin/python bench/tenants.py                     # PostgreSQL, 100 and 1,000 stores
    .venv/bin/python bench/tenants.py --http --quick
    .venv/bin/python bench/tenants.py --backend sqlite --stores 100,300
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC

PG_ADMIN_URL = os.environ.get("MALLOW_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
FAKE_BASE = 900_000_000  # store ids used for raw provisioning samples (never real stores)
PASSWORD = "bench-pass-123"


# ---------------------------------------------------------------------------------------------
# small helpers


def say(*parts) -> None:
    print(*parts, flush=True)


def median(values):
    return statistics.median(values) if values else float("nan")


def p95(values):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


class Clock:
    def __init__(self):
        self.started = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.started


# ---------------------------------------------------------------------------------------------
# scratch database and app


def check_loopback(url: str) -> None:
    from sqlalchemy.engine import make_url

    host = make_url(url).host or "localhost"
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"refusing a non-loopback database host {host!r}: this bench runs on 127.0.0.1 only")


def create_scratch_database() -> str:
    import sqlalchemy as sa

    check_loopback(PG_ADMIN_URL)
    name = f"mallow_bench_{os.getpid()}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def drop_scratch_database(url: str) -> None:
    import sqlalchemy as sa

    name = url.rsplit("/", 1)[1]
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def build_app(database_url: str, data_dir: str):
    from mallow.app import create_app
    from mallow.db import db
    from mallow.db.migrate import upgrade_platform
    from mallow.qualifications.matrix import seed_defaults

    app = create_app(
        {
            "DATABASE_URL": database_url,
            "MALLOW_DATA_DIR": data_dir,
            "SECRET_KEY": "bench-secret-key-not-for-production",
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
            "REDIS_URL": "",
            "SERVER_NAME": None,
        }
    )
    add_bench_routes(app)  # before the first request
    with app.app_context():
        upgrade_platform(db.engine)
        seed_defaults()
        create_plain_table(db.engine)
    return app


@functools.cache
def plain_staff():
    """A copy of the ``staff`` table in the platform database's default schema (``bench_staff``),
    mapped outside Mallow's models: what the ``plain`` baseline reads."""
    from sqlalchemy.orm import registry

    from mallow.accounts.models import Staff

    mapper_registry = registry()
    table = Staff.__table__.to_metadata(mapper_registry.metadata, schema=None, name="bench_staff")

    class PlainStaff:
        pass

    mapper_registry.map_imperatively(PlainStaff, table)
    return PlainStaff


def create_plain_table(engine) -> None:
    from datetime import datetime

    table = plain_staff().__mapper__.local_table
    with engine.begin() as connection:
        table.create(connection)
        connection.execute(
            table.insert().values(id=1, merchant_id=1, role="owner", active=True, created_at=datetime.now(UTC))
        )


def add_bench_routes(app) -> None:
    """The routes compared. ``plain`` runs only the staff SELECT; the other three run the same two
    SELECTs (the store by slug, as the resolver does it, then one ``staff`` row of a store schema):

    * ``plain``  platform route: one ``staff`` row of ``bench_staff`` in the default schema, no
      store lookup, no translate map (a request that does no tenancy at all)
    * ``bare``   platform route, no resolver; the staff row of one fixed store
    * ``switch`` platform route, no resolver; the staff row of the requested store
    * ``tenant`` store route ``/s/<slug>/…``: the resolver loads and activates the store, and
      the session sends the staff query to the active store's schema

    PostgreSQL: ``bare`` and ``switch`` send the staff query down the session's own platform
    connection with a per-statement ``schema_translate_map`` (one connection per request, the
    cheapest way Mallow could switch schema); SQLite: through the store's engine (its file).
    """
    from flask import abort, jsonify

    from mallow.accounts.models import Staff
    from mallow.db import db
    from mallow.db.session import STORE_SCHEMA
    from mallow.tenants.engines import schema_name
    from mallow.tenants.models import Store

    PlainStaff = plain_staff()
    staff_query = db.select(Staff.id, Staff.role).where(Staff.id == 1)
    plain_query = db.select(PlainStaff.id, PlainStaff.role).where(PlainStaff.id == 1)
    fixed = {}

    def engines():
        return app.extensions["mallow.store_engines"]

    def load_store(slug):  # the resolver's own query (mallow/tenants/resolve.py)
        store = db.session.execute(db.select(Store).filter_by(slug=slug)).scalar_one_or_none()
        if store is None or store.status == "closed":
            abort(404)
        return store

    def staff_row(store_id):
        if engines().is_postgresql:
            return db.session.execute(
                staff_query,
                bind_arguments={"bind": db.engine},
                execution_options={"schema_translate_map": {STORE_SCHEMA: schema_name(store_id)}},
            ).first()
        return db.session.execute(staff_query, bind_arguments={"bind": engines().engine_for(store_id)}).first()

    def plain():
        row = db.session.execute(plain_query).first()  # the platform engine, default schema
        return jsonify(id=row.id, role=row.role)

    def bare(slug):
        load_store(slug)
        row = staff_row(fixed["store_id"])
        return jsonify(id=row.id, role=row.role)

    def switch(slug):
        row = staff_row(load_store(slug).id)
        return jsonify(id=row.id, role=row.role)

    def tenant():
        row = db.session.execute(staff_query).first()
        return jsonify(id=row.id, role=row.role)

    app.add_url_rule("/_bench/plain", "bench_plain", plain)
    app.add_url_rule("/_bench/bare/<slug>", "bench_bare", bare)
    app.add_url_rule("/_bench/switch/<slug>", "bench_switch", switch)
    app.add_url_rule("/s/<store_slug>/_bench/staff", "bench_tenant", tenant)
    app.extensions["mallow.bench_fixed"] = fixed


VARIANTS = {  # name: (path pattern, stores drawn from: "all" or "small" = the first --stores count)
    "plain": ("/_bench/plain", "all"),
    "bare": ("/_bench/bare/{slug}", "all"),
    "switch": ("/_bench/switch/{slug}", "all"),
    "tenant": ("/s/{slug}/_bench/staff", "all"),
    "tenant-small": ("/s/{slug}/_bench/staff", "small"),
    "api/store": ("/s/{slug}/api/store", "all"),
}
VARIANT_HELP = {
    "plain": "platform route, the staff SELECT on a default-schema copy; no store lookup, no translate map (baseline)",
    "bare": "platform route, same 2 SELECTs as tenant, fixed store schema (resolver-cost baseline)",
    "switch": "platform route, same 2 SELECTs, schema of the random store, no resolver",
    "tenant": "store route: resolver + active store's schema, same 2 SELECTs",
    "tenant-small": "same store route, random store among only the first {small} (scale check, same run)",
    "api/store": "real GET /s/<slug>/api/store (anonymous; reads platform tables only)",
}


# ---------------------------------------------------------------------------------------------
# statement capture (query counts, raw DDL replay)


class Capture:
    """Records every statement sent to any engine while active."""

    def __init__(self):
        self.statements: list[tuple[str, object, bool]] = []
        self.checkouts = 0

    def __enter__(self):
        import sqlalchemy as sa
        from sqlalchemy import event

        event.listen(sa.engine.Engine, "before_cursor_execute", self._record)
        event.listen(sa.pool.Pool, "checkout", self._checkout)
        return self

    def __exit__(self, *exc):
        import sqlalchemy as sa
        from sqlalchemy import event

        event.remove(sa.engine.Engine, "before_cursor_execute", self._record)
        event.remove(sa.pool.Pool, "checkout", self._checkout)

    def _checkout(self, *args):
        self.checkouts += 1

    def _record(self, conn, cursor, statement, parameters, context, executemany):
        self.statements.append((statement, parameters, executemany))


# ---------------------------------------------------------------------------------------------
# sign-ups and provisioning


class Provisioning:
    def __init__(self, app):
        import mallow.merchants.signup as signup_module

        self.app = app
        self.slugs: list[str] = []
        self.store_ids: list[int] = []
        self.signup_seconds: list[float] = []
        self.inner_seconds: list[float] = []  # provision_store's share of each sign-up
        original = signup_module.provision_store

        def timed_provision(*args, **kwargs):  # bench-process wrapper, app code untouched
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.inner_seconds.append(time.perf_counter() - started)

        signup_module.provision_store = timed_provision
        self._ddl: list[tuple[str, object, bool]] | None = None
        self._ddl_id: int | None = None
        self._next_fake = FAKE_BASE

    def signup(self) -> float:
        from mallow.db import db
        from mallow.merchants.signup import signup_merchant

        n = len(self.slugs) + 1
        slug = f"bench-{n:05d}"
        started = time.perf_counter()
        with self.app.test_request_context():
            _merchant, store = signup_merchant(
                {
                    "email": f"{slug}@example.com",
                    "password": PASSWORD,
                    "name": "店主",
                    "store_name": f"店铺 {slug}",
                    "slug": slug,
                    "main_category": "general",
                }
            )
            store_id = store.id
            db.session.remove()
        elapsed = time.perf_counter() - started
        self.slugs.append(slug)
        self.store_ids.append(store_id)
        self.signup_seconds.append(elapsed)
        return elapsed

    def grow_to(self, count: int, deadline: float, clock: Clock) -> float:
        """Sign stores up until ``count`` exist; returns the seconds it took."""
        started = clock()
        first = len(self.slugs)
        while len(self.slugs) < count:
            self.signup()
            done = len(self.slugs)
            if done % 100 == 0 or done == count:
                rate = (done - first) / max(clock() - started, 1e-9)
                say(f"  signed up {done:5d}/{count} stores ({rate:.1f}/s, t={clock():.0f}s)")
            if clock() > deadline:
                raise SystemExit(
                    f"sign-up budget exhausted at {done} stores (t={clock():.0f}s); use --quick or fewer --stores"
                )
        return clock() - started

    def _fake_id(self) -> int:
        self._next_fake += 1
        return self._next_fake

    def provision_once(self) -> float:
        """One raw ``provision_store`` call for a store id with no Store row; dropped after."""
        from mallow.accounts.staff import owner_seed
        from mallow.tenants.provisioning import drop_store, provision_store

        store_id = self._fake_id()
        with self.app.app_context():
            started = time.perf_counter()
            provision_store(store_id, seed=owner_seed(1))
            elapsed = time.perf_counter() - started
            drop_store(store_id)
        return elapsed

    def capture_ddl(self) -> None:
        from mallow.accounts.staff import owner_seed
        from mallow.tenants.provisioning import drop_store, provision_store

        store_id = self._fake_id()
        with self.app.app_context():
            with Capture() as capture:
                provision_store(store_id, seed=owner_seed(1))
            drop_store(store_id)
        skip = {"BEGIN", "COMMIT", "ROLLBACK"}
        self._ddl = [s for s in capture.statements if s[0].strip().upper() not in skip]
        self._ddl_id = store_id

    def raw_ddl_once(self) -> float:
        """Replay the statements ``provision_store`` sent, as text, in one transaction on the
        same pool: the bare cost of the DDL without SQLAlchemy DDL compilation or Alembic."""
        from mallow.tenants.provisioning import drop_store

        if self._ddl is None:
            self.capture_ddl()
        store_id = self._fake_id()
        old, new = f"store_{self._ddl_id}", f"store_{store_id}"
        statements = [(s.replace(old, new), p, many) for s, p, many in self._ddl]
        with self.app.app_context():
            engines = self.app.extensions["mallow.store_engines"]
            engine = engines.engine_for(store_id) if not engines.is_postgresql else engines.platform_engine
            started = time.perf_counter()
            with engine.begin() as connection:
                for statement, parameters, _many in statements:
                    if parameters:
                        connection.exec_driver_sql(statement, parameters)
                    else:
                        connection.exec_driver_sql(statement)
            elapsed = time.perf_counter() - started
            drop_store(store_id)
        return elapsed

    def sample_raw(self, samples: int) -> tuple[list[float], list[float]]:
        provision, ddl = [], []
        self.provision_once(), self.raw_ddl_once()  # warm-up (first of each kind is slower)
        for i in range(samples):
            pair = [(provision, self.provision_once), (ddl, self.raw_ddl_once)]
            for target, run in pair if i % 2 == 0 else pair[::-1]:
                target.append(run())
        return provision, ddl


# ---------------------------------------------------------------------------------------------
# migrations


def bench_migrations(app, store_ids: list[int], chunk: int = 50) -> dict:
    """``migrate_store`` on every store, as ``mallow db upgrade`` does, alternating chunks with
    a bare read of each store's version row (same engines, no Alembic)."""
    from mallow.tenants.provisioning import migrate_store

    engines = app.extensions["mallow.store_engines"]
    migrate_s = bare_s = 0.0
    with app.app_context():
        for start in range(0, len(store_ids), chunk):
            ids = store_ids[start : start + chunk]
            t0 = time.perf_counter()
            for store_id in ids:
                version_schema = engines.version_table_schema(store_id)
                with engines.engine_for(store_id).begin() as connection:
                    connection.exec_driver_sql(f'SELECT version_num FROM "{version_schema}".alembic_version').all()
            t1 = time.perf_counter()
            for store_id in ids:
                migrate_store(store_id)
            t2 = time.perf_counter()
            bare_s += t1 - t0
            migrate_s += t2 - t1
    n = len(store_ids)
    return {
        "stores": n,
        "migrate_s": migrate_s,
        "bare_s": bare_s,
        "migrate_rate": n / migrate_s,
        "bare_rate": n / bare_s,
    }


# ---------------------------------------------------------------------------------------------
# requests


def variant_urls(slugs: list[str], small: int, count: int) -> dict[str, list[str]]:
    """The same random sequence of stores for every variant (``small`` ones: among the first
    ``small`` stores), fixed seed per store count."""
    rng = random.Random(len(slugs))
    picks = {
        "all": [rng.choice(slugs) for _ in range(count)],
        "small": [rng.choice(slugs[:small]) for _ in range(count)],
    }
    return {name: [pattern.format(slug=slug) for slug in picks[pool]] for name, (pattern, pool) in VARIANTS.items()}


def check_routes(app, urls: dict[str, list[str]]) -> dict[str, tuple[int, int]]:
    """Every variant answers 200; the SQL statements and pool checkouts of one request of each."""
    client = app.test_client()
    counts = {}
    for name, candidates in urls.items():
        client.get(candidates[0])  # warm
        with Capture() as capture:
            response = client.get(candidates[-1])
        if response.status_code != 200:
            raise SystemExit(
                f"{name}: {candidates[-1]} answered {response.status_code}: {response.get_data(as_text=True)[:300]}"
            )
        counts[name] = (len(capture.statements), capture.checkouts)
    if len({counts[n] for n in ("bare", "switch", "tenant", "tenant-small")}) != 1:  # (plain: one SELECT fewer)
        say(f"  WARNING: unequal query counts {counts}: the comparison is not like for like")
    return counts


def inprocess_round(app, urls: list[str], max_seconds: float) -> float:
    client = app.test_client()
    started = time.perf_counter()
    done = 0
    for url in urls:
        response = client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}")
        done += 1
        if (done & 31) == 0 and time.perf_counter() - started > max_seconds:
            break
    return done / (time.perf_counter() - started)


def http_load(
    port: int, urls: dict[str, list[str]], threads: int, max_seconds: float, burst: int, result_queue
) -> None:
    """Child process: ``threads`` keep-alive clients; bursts of ``burst`` requests per variant,
    alternating (order rotated each burst), each burst shared by all threads. Bounded by the
    URL lists and by ``max_seconds`` per variant."""
    import http.client
    import threading
    from concurrent.futures import ThreadPoolExecutor

    local = threading.local()
    errors = [0]

    def fetch(paths):
        connection = getattr(local, "connection", None)
        if connection is None:
            connection = local.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for path in paths:
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                errors[0] += 1

    names = list(urls)
    spent = {n: 0.0 for n in names}
    done = {n: 0 for n in names}
    total = min(len(u) for u in urls.values())
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(fetch, [[urls[names[0]][0]]] * threads))  # open the connections
        for b, start in enumerate(range(0, total, burst)):
            order = names[b % len(names) :] + names[: b % len(names)]
            for name in order:
                chunk = urls[name][start : start + burst]
                parts = [chunk[i::threads] for i in range(threads)]
                started = time.perf_counter()
                list(pool.map(fetch, parts))
                spent[name] += time.perf_counter() - started
                done[name] += len(chunk)
            if max(spent.values()) > max_seconds:
                break
    result_queue.put(({n: done[n] / spent[n] for n in names}, errors[0]))


def http_round(port: int, urls: dict[str, list[str]], threads: int, max_seconds: float, burst: int = 200) -> dict:
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=http_load, args=(port, urls, threads, max_seconds, burst, queue))
    process.start()
    rates, errors = queue.get(timeout=len(urls) * max_seconds + 120)
    process.join(timeout=30)
    if errors:
        raise SystemExit(f"HTTP load: {errors} responses were not 200")
    return rates


def inprocess_interleaved(app, urls: dict[str, list[str]], max_seconds: float, burst: int = 50) -> dict:
    """One in-process round: bursts of ``burst`` requests per variant, alternating (order rotated
    each burst), so drift on this shared machine hits every variant alike. Each variant gets at
    most ``len(urls[name])`` requests and the round stops after ``max_seconds`` per variant."""
    client = app.test_client()
    names = list(urls)
    spent = {n: 0.0 for n in names}
    done = {n: 0 for n in names}
    total = min(len(u) for u in urls.values())
    for b, start in enumerate(range(0, total, burst)):
        order = names[b % len(names) :] + names[: b % len(names)]
        for name in order:
            chunk = urls[name][start : start + burst]
            started = time.perf_counter()
            for url in chunk:
                response = client.get(url)
                if response.status_code != 200:
                    raise SystemExit(f"{url} answered {response.status_code}")
            spent[name] += time.perf_counter() - started
            done[name] += len(chunk)
        if max(spent.values()) > max_seconds:
            break
    return {n: done[n] / spent[n] for n in names}


def bench_requests(app, urls: dict[str, list[str]], args, server_port: int | None) -> dict:
    """Median req/s of ``args.rounds`` rounds per variant; every round interleaves the variants
    in bursts, in-process and (with a server) over HTTP."""
    names = list(urls)
    results = {"inprocess": {n: [] for n in names}, "http": {n: [] for n in names}}
    for name in names:  # warm every variant once over a slice of the same random stores
        inprocess_round(app, urls[name][:200], 5)
    for _round in range(args.rounds):
        for name, rate in inprocess_interleaved(app, urls, args.round_seconds).items():
            results["inprocess"][name].append(rate)
        if server_port is not None:
            limited = {name: u[: args.http_requests] for name, u in urls.items()}
            for name, rate in http_round(server_port, limited, args.http_threads, args.round_seconds).items():
                results["http"][name].append(rate)
    return {mode: {n: median(v) for n, v in by.items() if v} for mode, by in results.items()}


def backend_memory(app) -> str:
    """PostgreSQL memory of the pooled connections that served the rounds (the largest one):
    every pooled connection is checked out at once, so each is asked about itself."""
    from contextlib import ExitStack

    from mallow.db import db

    with app.app_context():
        engine = db.engine
        if engine.dialect.name != "postgresql":
            return "n/a (SQLite)"
        sizes = []
        with ExitStack() as stack:
            for _ in range(max(1, engine.pool.checkedin())):
                connection = stack.enter_context(engine.connect())
                sizes.append(
                    connection.exec_driver_sql(
                        "SELECT sum(total_bytes), sum(total_bytes) FILTER (WHERE name = 'CacheMemoryContext') "
                        "FROM pg_backend_memory_contexts"
                    ).one()
                )
    total, cache = max(sizes, key=lambda row: row[1] or 0)
    return (
        f"largest of {len(sizes)}: {int(total) / 2**20:.1f} MiB, of it catalogue cache "
        f"{int(cache or 0) / 2**20:.1f} MiB"
    )


def start_waitress(app, threads: int):
    import logging
    import threading

    from waitress.server import create_server

    logging.getLogger("waitress").setLevel(logging.ERROR)  # "Task queue depth is N" under load

    server = create_server(app, host="127.0.0.1", port=0, threads=threads)
    thread = threading.Thread(target=server.run, name="waitress", daemon=True)
    thread.start()
    return server, server.effective_port


# ---------------------------------------------------------------------------------------------
# main


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--stores", default="100,1000", help="store counts to measure at (default 100,1000)")
    parser.add_argument("--quick", action="store_true", help="stores 100,300; fewer samples and requests")
    parser.add_argument("--http", action="store_true", help="also through waitress on 127.0.0.1")
    parser.add_argument("--window", type=int, default=50, help="last sign-ups before each count to report")
    parser.add_argument("--raw-samples", type=int, default=20, help="raw provision / DDL samples per count")
    parser.add_argument("--requests", type=int, default=1500, help="requests per variant per in-process round (bound)")
    parser.add_argument("--http-requests", type=int, default=1500, help="requests per HTTP round (bound)")
    parser.add_argument("--http-threads", type=int, default=8, help="client threads for --http")
    parser.add_argument("--server-threads", type=int, default=4, help="waitress threads for --http")
    parser.add_argument("--round-seconds", type=float, default=1.5, help="time bound per variant per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--signup-budget", type=float, default=600, help="stop if still signing up this many s into the run"
    )
    args = parser.parse_args(argv)
    if args.quick:
        if args.stores == parser.get_default("stores"):
            args.stores = "100,300"
        for name, value in (
            ("window", 30),
            ("raw_samples", 10),
            ("requests", 800),
            ("http_requests", 800),
            ("round_seconds", 1.0),
        ):
            if getattr(args, name) == parser.get_default(name):
                setattr(args, name, value)
    args.levels = sorted({int(x) for x in args.stores.split(",") if x.strip()})
    if not args.levels or args.levels[0] < 2:
        parser.error("--stores needs counts of at least 2")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    clock = Clock()
    data_dir = tempfile.mkdtemp(prefix="mallow-bench-")
    database_url = None
    app = server = None
    say(
        f"mallow tenancy bench: backend={args.backend} stores={args.levels} http={args.http} "
        f"quick={args.quick} pid={os.getpid()} cpus={os.cpu_count()} load average {load_average()}"
    )
    try:
        if args.backend == "postgresql":
            database_url = create_scratch_database()
        else:
            database_url = f"sqlite:///{data_dir}/platform.db"
        app = build_app(database_url, data_dir)
        prov = Provisioning(app)
        say(f"  scratch: {database_url.split('@')[-1]}  data dir: {data_dir}  (t={clock():.1f}s)")
        if args.http:
            server, port = start_waitress(app, args.server_threads)
        else:
            port = None
        rows = []
        for level in args.levels:
            say(f"== {level} stores ==")
            before = len(prov.slugs)
            grow_seconds = prov.grow_to(level, args.signup_budget, clock)
            app.extensions["mallow.bench_fixed"].setdefault("store_id", prov.store_ids[0])
            window = min(args.window, level - before)
            signup = prov.signup_seconds[-window:]
            inner = prov.inner_seconds[-window:]
            say(
                f"  sign-up (last {window}): median {ms(median(signup))}, p95 {ms(p95(signup))}; "
                f"its provision_store median {ms(median(inner))}"
            )
            raw_provision, raw_ddl = prov.sample_raw(args.raw_samples)
            say(
                f"  provision_store alone ({args.raw_samples}): median {ms(median(raw_provision))}, "
                f"p95 {ms(p95(raw_provision))}; raw DDL replay median {ms(median(raw_ddl))}  (t={clock():.0f}s)"
            )
            migration = bench_migrations(app, prov.store_ids)
            say(
                f"  migrate_store over {migration['stores']} stores: {migration['migrate_s']:.1f} s "
                f"= {migration['migrate_rate']:.1f} stores/s (bare version read {migration['bare_rate']:.0f}/s)"
                f"  (t={clock():.0f}s)"
            )
            urls = variant_urls(prov.slugs, args.levels[0], max(args.requests, args.http_requests))
            counts = check_routes(app, urls)
            requests = bench_requests(app, urls, args, port)
            memory = backend_memory(app)
            say(
                "  requests/s (in-process): "
                + ", ".join(f"{n} {v:.0f}" for n, v in requests["inprocess"].items())
                + f"  (t={clock():.0f}s)"
            )
            if requests["http"]:
                say("  requests/s (HTTP):       " + ", ".join(f"{n} {v:.0f}" for n, v in requests["http"].items()))
            rows.append(
                {
                    "level": level,
                    "window": window,
                    "grown": level - before,
                    "grow_s": grow_seconds,
                    "signup": signup,
                    "inner": inner,
                    "raw_provision": raw_provision,
                    "raw_ddl": raw_ddl,
                    "migration": migration,
                    "counts": counts,
                    "requests": requests,
                    "memory": memory,
                }
            )
        print_table(args, rows, clock())
        return 0
    finally:
        if server is not None:
            server.close()
        if app is not None:
            with app.app_context():
                from mallow.db import db

                app.extensions["mallow.store_engines"].dispose()
                db.engine.dispose()
        if args.backend == "postgresql" and database_url:
            drop_scratch_database(database_url)
        shutil.rmtree(data_dir, ignore_errors=True)


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def print_table(args, rows, elapsed: float) -> None:
    say("")
    say(
        f"=== Mallow tenancy bench — backend {args.backend}, {os.cpu_count()} CPUs, total {elapsed:.0f} s, "
        f"load average now {load_average()} ==="
    )
    say("(other work on this machine slows absolute figures 2-4x; compare the ratios, measured alternately)")
    say("Seconds per new store (each figure measured while the given number of stores existed)")
    say(
        f"{'stores':>7} | {'sign-up med':>11} {'p95':>9} | {'its provision':>13} | "
        f"{'provision_store med':>19} {'p95':>9} | {'raw DDL med':>11} | {'prov/DDL':>8}"
    )
    for r in rows:
        ratio = median(r["raw_provision"]) / median(r["raw_ddl"])
        say(
            f"{r['level']:>7} | {median(r['signup']) * 1000:9.1f}ms {p95(r['signup']) * 1000:7.1f}ms | "
            f"{median(r['inner']) * 1000:11.1f}ms | {median(r['raw_provision']) * 1000:17.1f}ms "
            f"{p95(r['raw_provision']) * 1000:7.1f}ms | {median(r['raw_ddl']) * 1000:9.1f}ms | {ratio:7.2f}x"
        )
    say("  sign-ups: " + "; ".join(f"{r['grown']} more to reach {r['level']} took {r['grow_s']:.0f} s" for r in rows))
    if elapsed > 180:
        say(
            f"  NOTE: this run took {elapsed:.0f} s, {sum(r['grow_s'] for r in rows):.0f} s of it signing stores up "
            f"(the real sign-up, one at a time); --quick measures at 100 and 300 stores instead."
        )
    say("  sign-up = signup_merchant in a test request context (validation, pbkdf2:1000 hash, rows, schema, audit,")
    say("  commit), last --window sign-ups before the count; raw DDL = the same statements replayed as text.")
    say("")
    say("Per-store migration, nothing to apply (migrate_store on every store, as `mallow db upgrade`)")
    say(
        f"{'stores':>7} | {'seconds':>8} | {'stores/s':>9} | {'bare stores/s':>13} | {'ratio':>6} | "
        f"{'10,000 stores':>13}"
    )
    for r in rows:
        m = r["migration"]
        say(
            f"{m['stores']:>7} | {m['migrate_s']:8.1f} | {m['migrate_rate']:9.1f} | {m['bare_rate']:13.0f} | "
            f"{m['migrate_rate'] / m['bare_rate']:6.3f} | {10_000 / m['migrate_rate'] / 60:9.1f} min"
        )
    say("  bare = one SELECT of the store's alembic_version row through the same engine. Target: 1,000 in <= 60 s,")
    say("  10,000 in <= 10 min (the last column extrapolates linearly).")
    say("")
    say(
        f"Requests, a random store per request (median of {args.rounds} alternating rounds; req/s and ratio to `plain`,"
    )
    say("then ratio to `bare`)")
    small = args.levels[0]
    labels = {n: (f"tenant@{small}" if n == "tenant-small" else n) for n in VARIANTS}
    for name, text in VARIANT_HELP.items():
        say(f"  {labels[name]:>12}: {text.format(small=small)}")
    modes = ["inprocess"] + (["http"] if args.http else [])
    say(f"{'stores':>7} | {'mode':>9} | " + " | ".join(f"{labels[n]:>15}" for n in VARIANTS))
    for r in rows:
        for mode in modes:
            rates = r["requests"][mode]
            cells = [f"{rates[n]:6.0f} {rates[n] / rates['plain']:5.2f}x" for n in VARIANTS]
            say(f"{r['level']:>7} | {mode:>9} | " + " | ".join(f"{c:>15}" for c in cells))
            cells = [f"{rates[n] / rates['bare']:5.2f}x bare" for n in VARIANTS]
            say(f"{'':>7} | {'':>9} | " + " | ".join(f"{c:>15}" for c in cells))
        cells = ["{} SQL, {} conn".format(*r["counts"][n]) for n in VARIANTS]
        say(f"{'':>7} | {'per req':>9} | " + " | ".join(f"{c:>15}" for c in cells))
        say(f"{'':>7} | memory of the pooled connections after the rounds: {r['memory']}")
    say("")
    say("Tenancy per request, same run (req/s ratios; 1.00x = free)")
    for r in rows:
        for mode in modes:
            rates = r["requests"][mode]
            say(
                f"  {r['level']:>6} stores, {mode:>9}: tenant/plain {rates['tenant'] / rates['plain']:.2f}x "
                f"(resolution + schema switch vs neither), tenant/bare {rates['tenant'] / rates['bare']:.2f}x "
                f"(the resolver machinery vs the same two SELECTs without it), bare/plain "
                f"{rates['bare'] / rates['plain']:.2f}x (the store lookup query itself)"
            )
    say("")
    say(f"Scale, same run (target >= 0.95x): tenant route, random store among all N vs among the first {small}")
    for mode in modes:
        rates = rows[0]["requests"][mode]
        say(
            f"  noise floor ({small} stores, {mode}): tenant vs tenant@{small}, the same workload, "
            f"{rates['tenant'] / rates['tenant-small']:.2f}x"
        )
    for r in rows[1:]:
        for mode in modes:
            rates = r["requests"][mode]
            say(
                f"  {r['level']:>6} stores, {mode:>9}: {rates['tenant'] / rates['tenant-small']:.2f}x   "
                f"(tenant/bare here {rates['tenant'] / rates['bare']:.2f}x vs {small} stores "
                f"{rows[0]['requests'][mode]['tenant'] / rows[0]['requests'][mode]['bare']:.2f}x)"
            )
    say(
        f"  (test client in-process; --http: waitress {args.server_threads} threads on 127.0.0.1, "
        f"{args.http_threads} keep-alive client threads in a"
    )
    say(
        f"  separate process; a round gives each variant at most {args.requests} requests and "
        f"{args.round_seconds:.1f} s)"
    )


if __name__ == "__main__":
    sys.exit(main())

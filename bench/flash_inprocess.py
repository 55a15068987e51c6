#!/usr/bin/env python
"""Flash sale, measured in-process (no HTTP, no wrk): what a quiet machine is not needed for.

1. **door**: the CPU this process spends on one admitted buy attempt through Mallow's WSGI app
   (the front door answers it: store snapshot, token → mirrored session, the admission script,
   a JSON 202), against the bare A-flash-redis app (Flask + one Lua script: buyer check +
   decrement + record) called the same way: a prepared WSGI environ, the app called directly.
   Reported: µs of process CPU per attempt (median of ``--rounds`` rounds of ``--attempts``,
   alternating), the ratio, and the Redis round trips per attempt (commands sent, counted);
2. **drain**: ``--tickets`` tickets admitted at the door, then the ``flashsale.drain`` job run
   in this process: orders per second (wall and process CPU), and the CPU of the PostgreSQL
   backends serving the scratch database (``/proc/<pid>/stat`` utime + stime of each, the drain's
   connections), per order; median of ``--rounds`` fresh sales. Checked: exactly ``--tickets`` orders;
3. **rounds**: whether what the worker spends per order grows with the orders already in the
   store: ``--rounds`` sales of ``--tickets`` units for the same shoppers one after another, their
   orders left unpaid (as bench/http_flash.py leaves them), each sale's tickets drained, then the
   flash-sale sweep run as ``mallow worker`` runs it every 30 s beside the drain. Per round:
   statements and PostgreSQL buffers (``pg_stat_database``) per drained order, and the sweep's
   statements and buffers; the first and the last round should read alike.

    .venv/bin/python bench/flash_inprocess.py door
    valgrind --tool=callgrind --instr-atstart=no .venv/bin/python bench/flash_inprocess.py door \
        --attempts 500 --callgrind door        # (or bare): instructions per attempt
    .venv/bin/python bench/flash_inprocess.py drain --tickets 500
    .venv/bin/python bench/flash_inprocess.py rounds --tickets 2000 --rounds 4

PostgreSQL (a scratch database ``mallow_bench_inproc_<pid>``, dropped after) and Redis (a key
prefix of its own, its keys deleted after, never FLUSHDB) on 127.0.0.1.
"""

from __future__ import annotations

import common  # noqa: F401 -- first: moves bench/ to the end of sys.path

import argparse
import gc
import hashlib
import io
import json
import os
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta

from common import ADDRESS, FAST_HASH, FLASH_LUA, PG_ADMIN, create_database, dispose_app, drop_database

REDIS = os.environ.get("MALLOW_BENCH_REDIS", "redis://127.0.0.1:6379/15")


def bare_app(prefix: str):
    """A-flash-redis as bench/http_baselines.py serves it."""
    import redis
    from flask import Flask, jsonify, request

    app = Flask("bare")
    client = redis.Redis.from_url(REDIS)
    script = client.register_script(FLASH_LUA)

    @app.post("/flash-redis")
    def flash():
        outcome = script(keys=[f"{prefix}:stock", f"{prefix}:buyers"], args=[request.get_json()["buyer"]])
        return jsonify(outcome=int(outcome)), 201 if outcome == 1 else 409

    client.set(f"{prefix}:stock", 10**9)
    return app


def environ(path: str, body: bytes, token: str | None = None) -> dict:
    env = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    if token:
        env["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return env


def call(app, env: dict) -> tuple[str, bytes]:
    seen = []

    def start_response(status, headers, exc_info=None):
        seen.append(status)

    body = b"".join(app(env, start_response))
    return seen[0], body


def script_usec() -> tuple[int, int]:
    """(EVALSHA calls, µs Redis spent in them) so far, from the server's command statistics."""
    import redis

    client = redis.Redis.from_url(REDIS)
    stats = client.info("commandstats").get("cmdstat_evalsha") or {"calls": 0, "usec": 0}
    client.close()
    return int(stats["calls"]), int(stats["usec"])


class RedisCounter:
    """Counts commands sent to Redis (every connection of this process)."""

    def __init__(self):
        import redis.connection

        self.n = 0
        self._module = redis.connection.Connection
        self._original = self._module.send_packed_command

    def __enter__(self):
        original, counter = self._original, self

        def send(conn, *args, **kwargs):
            counter.n += 1
            return original(conn, *args, **kwargs)

        self._module.send_packed_command = send
        return self

    def __exit__(self, *exc):
        self._module.send_packed_command = self._original


# --- set-up ----------------------------------------------------------------------------------------


def mallow_app(database_url: str, prefix: str):
    from mallow.app import create_app
    from mallow.db import db
    from mallow.db.migrate import upgrade_platform
    from mallow.plugin_host.loader import load_approved
    from mallow.qualifications.matrix import seed_defaults
    from mallow.testing import JobRecorder, approve_plugin, make_admin

    config = {
        "MALLOW_DATA_DIR": tempfile.mkdtemp(prefix="mallow-bench-inproc-"),
        "SECRET_KEY": "bench",
        "PASSWORD_HASH_METHOD": FAST_HASH,
        "LOGIN_RATE_LIMIT_IP": "1000000 per minute",
        "TESTING": False,
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS,
        "FLASHSALE_REDIS_URL": REDIS,
        "FLASHSALE_REDIS_PREFIX": f"{prefix}:fs",
        "SESSION_MIRROR_PREFIX": f"{prefix}:m",
        "FLASHSALE_SNAPSHOT_SECONDS": 3600,
    }
    app = create_app(config)
    with app.app_context():
        upgrade_platform(db.engine)
        seed_defaults()
    make_admin(app)
    approve_plugin(app, "flashsale")
    load_approved(app)
    app.extensions["mallow.jobs"] = JobRecorder()  # the drain is run here, by hand
    return app


def shop_of(app):
    from mallow.testing import enable_plugin, make_product, make_store

    shop = make_store(app)
    enable_plugin(app, shop, "flashsale", {"ip_attempts_per_minute": 1_000_000, "shopper_attempts_per_minute": 600})
    [sku] = make_product(app, shop, title="秒杀压测", price=5999, stock=10_000_000)
    return shop, sku


def new_sale(app, shop, sku: int, units: int) -> int:
    from mallow.db import db
    from mallow.tenants.context import store_context
    from mallow_flashsale import gate, sales

    now = datetime.now(UTC)
    with store_context(shop.store_id, app=app):
        sale = sales.save(
            {
                "title": "压测秒杀",
                "starts_at": (now - timedelta(minutes=1)).isoformat(),
                "ends_at": (now + timedelta(hours=1)).isoformat(),
                "per_order_limit": 1,
                "per_shopper_limit": 1,
                "published": True,
                "items": [{"sku_id": sku, "sale_price": 99, "quota": units}],
            }
        )
        db.session.commit()
        assert gate.seed(shop.store_id, sale.id)
        return sale.id


def warm(app, shop, sale_id: int, sku: int, token: str, address: int) -> None:
    """The route reads the sale and the settings once (a quantity over the limit: 409)."""
    body = json.dumps({"sku_id": sku, "quantity": 2, "address_id": address}).encode()
    status, _ = call(app, environ(f"{shop.prefix}/api/x/flashsale/sales/{sale_id}/buy", body, token))
    assert status.startswith("409"), status


_NEXT_CUSTOMER = [10_000_000]


def mirrored_tokens(app, shop, count: int) -> list[str]:
    """``count`` bearer tokens mirrored in Redis for made-up customers (admission reads only the
    mirror; nothing is drained from them)."""
    import redis

    prefix = app.config["SESSION_MIRROR_PREFIX"]
    client = redis.Redis.from_url(REDIS)
    tokens = [f"shp_bench{uuid.uuid4().hex}" for _ in range(count)]
    first = _NEXT_CUSTOMER[0]
    _NEXT_CUSTOMER[0] += count
    with client.pipeline(transaction=False) as pipe:
        for n, token in enumerate(tokens):
            digest = hashlib.sha256(token.encode()).hexdigest()
            pipe.set(f"{prefix}:sess:{digest}", f"{shop.store_id}:{first + n}", ex=3600)
        pipe.execute()
    client.close()
    return tokens


def shoppers(app, shop, count: int) -> list[tuple[str, int]]:
    """Real shoppers (tokens mirrored on commit, an address each)."""
    from mallow.accounts import customers, sessions
    from mallow.db import db
    from mallow.orders import addresses
    from mallow.tenants.context import store_context

    made = []
    with store_context(shop.store_id, app=app):
        for n in range(count):
            customer = customers.register(
                {"login": f"b-{uuid.uuid4().hex[:12]}@example.com", "password": "bench-1234", "privacy_consent": True}
            )
            token = sessions.issue(customer, "token")
            made.append((token, addresses.create(customer.id, dict(ADDRESS)).id))
            if n % 200 == 199:
                db.session.commit()
        db.session.commit()
    return made


def cleanup(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    for n in range(0, len(keys), 1000):
        client.delete(*keys[n : n + 1000])
    client.close()


# --- 1. the door -----------------------------------------------------------------------------------


def measure_door(args, app, shop, sku) -> dict:
    prefix = app.config["FLASHSALE_REDIS_PREFIX"].rsplit(":", 1)[0]
    bare = bare_app(f"{prefix}:bare")
    ((token, address),) = shoppers(app, shop, 1)
    sale_id = new_sale(app, shop, sku, 1_000_000)
    warm(app, shop, sale_id, sku, token, address)
    path = f"{shop.prefix}/api/x/flashsale/sales/{sale_id}/buy"
    n = args.attempts
    # Each app collects only the garbage its own attempts leave: a gunicorn worker of the bare app
    # has a small heap of its own, while here the bare app's young garbage set off full collections
    # of Mallow's ~270,000 objects (one per ~5,000 attempts, ~0.5 s: ~100 µs an attempt billed to
    # the bare app). The door's attempts set off none.
    gc.collect()
    gc.freeze()
    if args.callgrind:
        return callgrind_door(args, app, bare, path, sku, address, shop)
    ours, theirs, trips, server = [], [], [], []
    buyer = uuid.uuid4().int % 10**9
    for rnd in range(args.rounds + 1):
        tokens = mirrored_tokens(app, shop, n)
        bodies = [json.dumps({"sku_id": sku, "quantity": 1, "address_id": address}).encode()] * n
        envs = [environ(path, b, t) for b, t in zip(bodies, tokens, strict=True)]
        bare_envs = []
        for _ in range(n):
            buyer += 1
            bare_envs.append(environ("/flash-redis", json.dumps({"buyer": buyer}).encode()))
        calls, usec = script_usec()
        with RedisCounter() as counter:
            started = time.process_time()
            for env in envs:
                status, body = call(app, env)
            spent = time.process_time() - started
        assert status.startswith("202"), (status, body)
        calls2, usec2 = script_usec()
        started = time.process_time()
        for env in bare_envs:
            call(bare, env)
        bare_spent = time.process_time() - started
        calls3, usec3 = script_usec()
        if rnd:  # round 0 warms up
            ours.append(spent / n * 1e6)
            theirs.append(bare_spent / n * 1e6)
            trips.append(counter.n / n)
            server.append(((usec2 - usec) / max(1, calls2 - calls), (usec3 - usec2) / max(1, calls3 - calls2)))
    return {
        "door_us": statistics.median(ours),
        "bare_us": statistics.median(theirs),
        "ratio": statistics.median(theirs) / statistics.median(ours),
        "redis_per_attempt": statistics.median(trips),
        "script_us": statistics.median(a for a, _b in server),
        "bare_script_us": statistics.median(b for _a, b in server),
        "rounds": list(zip(ours, theirs, strict=True)),
    }


def callgrind_door(args, app, bare, path: str, sku: int, address: int, shop) -> dict:
    """``--callgrind door|bare``: run under ``valgrind --tool=callgrind --instr-atstart=no``;
    collection is switched on (``callgrind_control -i on``) around ``--attempts`` attempts of one
    app only, after 200 to warm up: instructions per attempt = the run's total / attempts (an empty
    loop collects ~0.5 M, the switching itself)."""
    import subprocess

    def envs(count: int) -> list[dict]:
        if args.callgrind == "door":
            body = json.dumps({"sku_id": sku, "quantity": 1, "address_id": address}).encode()
            return [environ(path, body, token) for token in mirrored_tokens(app, shop, count)]
        first = uuid.uuid4().int % 10**9
        return [environ("/flash-redis", json.dumps({"buyer": first + k}).encode()) for k in range(count)]

    target = app if args.callgrind == "door" else bare
    for env in envs(200):
        call(target, env)
    measured = envs(args.attempts)
    switch = ["callgrind_control", "-i"]
    with RedisCounter() as counter:
        subprocess.run([*switch, "on", str(os.getpid())], check=True, capture_output=True)
        for env in measured:
            status, body = call(target, env)
        subprocess.run([*switch, "off", str(os.getpid())], check=True, capture_output=True)
    assert status[:3] in ("201", "202"), (status, body)
    return {"attempts": args.attempts, "redis_per_attempt": counter.n / args.attempts, "last": status}


# --- 2. the drain ----------------------------------------------------------------------------------


def sale_admitted(app, shop, sku: int, people: list) -> int:
    """A new sale of one unit per shopper, every shopper's attempt admitted at the door (202): its id."""
    sale_id = new_sale(app, shop, sku, len(people))
    warm(app, shop, sale_id, sku, *people[0])
    path = f"{shop.prefix}/api/x/flashsale/sales/{sale_id}/buy"
    for token, address in people:
        body = json.dumps({"sku_id": sku, "quantity": 1, "address_id": address}).encode()
        status, answer = call(app, environ(path, body, token))
        assert status.startswith("202"), (status, answer)
    return sale_id


_TICK = os.sysconf("SC_CLK_TCK")


def backend_cpu(name: str) -> dict[int, float]:
    """CPU seconds (user + system) each PostgreSQL backend connected to database ``name`` has used
    so far, by pid (``/proc/<pid>/stat``: PostgreSQL runs on this machine)."""
    import sqlalchemy as sa

    admin = sa.create_engine(PG_ADMIN)
    with admin.connect() as c:
        pids = c.execute(sa.text("SELECT pid FROM pg_stat_activity WHERE datname = :name"), {"name": name}).scalars()
        pids = list(pids)
    admin.dispose()
    found = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        found[pid] = (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime (fields 14 and 15)
    return found


def backend_spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds the backends spent between two :func:`backend_cpu` readings (a backend that
    started meanwhile counts from zero; one that ended meanwhile is not seen)."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def measure_drain(args, app, shop, sku, name: str) -> dict:
    import sqlalchemy as sa

    from mallow.db import db
    from mallow.jobs.registry import execute
    from mallow.tenants.context import store_context
    from mallow_flashsale.models import Purchase

    from mallow_flashsale import admission

    people = shoppers(app, shop, args.tickets)
    rates, cpu_rates, pg_ms = {True: [], False: []}, {True: [], False: []}, {True: [], False: []}
    relax = admission.relax_next_commit
    for rnd in range(2 * args.rounds + 1):
        grouped = rnd % 2 == 1  # alternating: every commit waiting for the disk, or one flush per batch
        admission.relax_next_commit = relax if grouped else (lambda: None)
        sale_id = sale_admitted(app, shop, sku, people)
        backends = backend_cpu(name)
        wall, cpu = time.perf_counter(), time.process_time()
        settled = execute(app, "flashsale.drain", {"store_id": shop.store_id})
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        pg = backend_spent(backends, backend_cpu(name))
        with store_context(shop.store_id, app=app):
            orders = db.session.execute(
                sa.select(sa.func.count(Purchase.id)).where(Purchase.sale_id == sale_id)
            ).scalar_one()
        assert settled == args.tickets and orders == args.tickets, (settled, orders)
        label = "one flush per batch" if grouped else "a flush per order"
        print(
            f"  round {rnd} ({label}): {args.tickets} orders in {wall:.2f} s ({args.tickets / wall:.0f}/s, "
            f"cpu {cpu:.2f} s, PostgreSQL backends' cpu {pg:.2f} s)"
        )
        if rnd:
            rates[grouped].append(args.tickets / wall)
            cpu_rates[grouped].append(args.tickets / cpu)
            pg_ms[grouped].append(pg / args.tickets * 1000)
    admission.relax_next_commit = relax
    return {
        key: {
            "orders_per_s": statistics.median(rates[key]),
            "orders_per_cpu_s": statistics.median(cpu_rates[key]),
            "pg_ms_per_order": statistics.median(pg_ms[key]),
        }
        for key in (False, True)
    }


# --- 3. the drain and the sweep, round after round ------------------------------------------------


def buffers(app, name: str) -> int:
    """Shared buffers PostgreSQL touched in database ``name`` so far. The pooled connections are
    closed first: a backend reports its counts when it ends."""
    import sqlalchemy as sa

    from mallow.db import db

    with app.app_context():
        app.extensions["mallow.store_engines"].dispose()
        db.engine.dispose()
    time.sleep(1.1)  # the statistics collector's own delay
    admin = sa.create_engine(PG_ADMIN)
    with admin.connect() as c:
        found = c.execute(
            sa.text("SELECT blks_hit + blks_read FROM pg_stat_database WHERE datname = :name"), {"name": name}
        ).scalar_one()
    admin.dispose()
    return int(found)


def drain_all(app, shop, tickets: int) -> int:
    """The store's queue drained as ``mallow worker`` drains it: a drain job hands over to the
    next one after ``DRAIN_SECONDS`` (on a loaded machine), which runs here too."""
    from mallow.jobs.registry import execute

    settled = 0
    for _job in range(20):
        settled += execute(app, "flashsale.drain", {"store_id": shop.store_id})
        if settled >= tickets:
            break
    return settled


def measure_rounds(args, app, shop, sku, name: str) -> list[dict]:
    import sqlalchemy as sa

    from mallow.db import db
    from mallow.jobs.registry import execute
    from mallow.testing.sql import statements
    from mallow.tenants.context import store_context
    from mallow_flashsale import sales
    from mallow_flashsale.models import Purchase

    people = shoppers(app, shop, args.tickets)
    found = []
    for rnd in range(1, args.rounds + 1):
        sale_id = sale_admitted(app, shop, sku, people)
        before = buffers(app, name)
        with statements() as drained:
            settled = drain_all(app, shop, args.tickets)
        between = buffers(app, name)
        with statements() as swept:
            execute(app, "flashsale.sweep_store", {"store_id": shop.store_id})
        after = buffers(app, name)
        with store_context(shop.store_id, app=app):
            orders = db.session.execute(
                sa.select(sa.func.count(Purchase.id)).where(Purchase.sale_id == sale_id)
            ).scalar_one()
            sales.end_now(sales.get(sale_id))  # as bench/http_flash.py ends each round's sale
            db.session.commit()
        assert settled == args.tickets and orders == args.tickets, (settled, orders)
        row = {
            "round": rnd,
            "orders_before": (rnd - 1) * args.tickets,
            "statements_per_order": len(drained) / settled,
            "buffers_per_order": (between - before) / settled,
            "sweep_statements": len(swept),
            "sweep_buffers": after - between,
        }
        print(
            f"  round {rnd} ({row['orders_before']} orders before): drain {row['statements_per_order']:.2f} statements "
            f"and {row['buffers_per_order']:.1f} buffers per order; sweep {row['sweep_statements']} statements, "
            f"{row['sweep_buffers']} buffers"
        )
        found.append(row)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=("door", "drain", "rounds"))
    parser.add_argument("--attempts", type=int, default=3000)
    parser.add_argument("--tickets", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--callgrind",
        choices=("door", "bare"),
        help="door part under valgrind --tool=callgrind --instr-atstart=no: collect one app's attempts only",
    )
    args = parser.parse_args()
    prefix = f"mallow-bench:inproc:{uuid.uuid4().hex[:8]}"
    name = f"mallow_bench_inproc_{os.getpid()}"
    app = None
    try:
        app = mallow_app(create_database(name), prefix)
        shop, sku = shop_of(app)
        if args.part == "door":
            found = measure_door(args, app, shop, sku)
            if args.callgrind:
                print(f"callgrind ({args.callgrind}): {found} -- instructions per attempt: the run's total / attempts")
                return
            for ours, theirs in found.pop("rounds"):
                print(f"  door {ours:.0f} µs, bare {theirs:.0f} µs")
            print(
                f"door: {found['door_us']:.0f} µs CPU per admitted attempt, A-flash-redis {found['bare_us']:.0f} µs: "
                f"{found['ratio']:.2f} × ; Redis commands per attempt {found['redis_per_attempt']:.2f}; "
                f"Redis's own time in the script {found['script_us']:.1f} µs, bare {found['bare_script_us']:.1f} µs"
            )
        elif args.part == "rounds":
            rows = measure_rounds(args, app, shop, sku, name)
            first, last = rows[0], rows[-1]
            print(
                f"rounds: drain per order {first['statements_per_order']:.2f} → {last['statements_per_order']:.2f} "
                f"statements, {first['buffers_per_order']:.1f} → {last['buffers_per_order']:.1f} buffers; sweep "
                f"{first['sweep_statements']} → {last['sweep_statements']} statements, "
                f"{first['sweep_buffers']} → {last['sweep_buffers']} buffers"
            )
        else:
            found = measure_drain(args, app, shop, sku, name)
            for key, label in ((False, "a flush per order"), (True, "one flush per batch")):
                print(
                    f"drain, {label}: {found[key]['orders_per_s']:.0f} orders/s (wall), "
                    f"{found[key]['orders_per_cpu_s']:.0f} orders per CPU second of this process "
                    f"({1000 / found[key]['orders_per_cpu_s']:.2f} ms an order), "
                    f"PostgreSQL backends {found[key]['pg_ms_per_order']:.2f} ms CPU an order"
                )
    finally:
        if app is not None:  # the analytics buffer written (and its thread stopped) while the database is there
            from mallow.analytics.buffer import buffer_of

            buffer_of(app).close()
        dispose_app(app)
        drop_database(name)
        cleanup(prefix)


if __name__ == "__main__":
    main()

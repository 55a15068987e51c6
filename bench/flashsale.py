#!/usr/bin/env python
"""Flash-sale bench: buy attempts per second through HTTP on a 100-unit sale, beside bare Flask
endpoints served the same way in the same run, and the count sold (it must equal the stock).

Both apps are served by waitress (8 threads) in a process of their own on 127.0.0.1; this
process is the client: ``--connections`` threads, each with a keep-alive HTTP/1.1 connection.
Every round (median of ``--rounds``, alternating with the baselines):

* **Mallow, stampede**: a fresh sale of ``--units`` units; ``--attempts`` buy attempts from
  ``--shoppers`` shoppers (1 or 2 units each, limit 2 per shopper) in random order. Reported:
  attempts/s over the whole stampede, attempts/s while stock lasted (until the last unit sold)
  and the units sold (checked in the database: exactly the quota, or the bench fails);
* **Mallow, sold out**: ``--soldout`` more attempts once the quota is gone, twice: through
  the early answer (``mallow.plugins.early`` called by Mallow's front door: the flag answers
  before Flask, no query, no Redis round trip) and, on a second server whose early answers are
  switched off, through Flask (the same flag inside the buy route);
* **bare hello**: Flask returning a small JSON (A-hello);
* **bare flash**: Flask + one Lua script (buyer check + decrement + record, A-flash-redis) with
  ``--redis``, else Flask + ``UPDATE … WHERE stock >= 1 RETURNING`` + ``INSERT`` + ``COMMIT`` on the
  same database (A-flash-sql), every attempt a new buyer while its stock lasts.

    .venv/bin/python bench/flashsale.py                                  # SQLite, no Redis
    .venv/bin/python bench/flashsale.py --backend postgresql --redis     # PostgreSQL + Redis gate

Loopback only; every loop is bounded in count and time. PostgreSQL runs use a scratch database
``mallow_bench_flash_<pid>`` (dropped after); Redis runs use a key prefix of their own (its keys
deleted after, never FLUSHDB).
"""

from __future__ import annotations

import common  # noqa: F401 -- first: moves bench/ to the end of sys.path (its http.py would hide the stdlib's)

import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

from common import FAST_HASH, FLASH_LUA, bare_tables, create_database, dispose_app, drop_database, free_port

REDIS = os.environ.get("MALLOW_BENCH_REDIS", "redis://127.0.0.1:6379/15")


# --- the servers (child processes) -------------------------------------------------------------


def bare_app(config: dict):
    import sqlalchemy as sa
    from flask import Flask, jsonify, request

    app = Flask("bare")

    @app.get("/hello")
    def hello():
        return jsonify(hello="world")

    if config.get("redis"):
        import redis

        client = redis.Redis.from_url(config["redis"])
        script = client.register_script(FLASH_LUA)
        prefix = config["prefix"]

        @app.post("/flash")
        def flash():
            outcome = script(keys=[f"{prefix}:stock", f"{prefix}:buyers"], args=[request.get_json()["buyer"]])
            return jsonify(outcome=int(outcome)), 201 if outcome == 1 else 409
    else:
        engine = sa.create_engine(config["bare_db"])

        @app.post("/flash")
        def flash():
            buyer = request.get_json()["buyer"]
            with engine.begin() as c:
                left = c.execute(
                    sa.text("UPDATE bare_stock SET stock = stock - 1 WHERE id = 1 AND stock >= 1 RETURNING stock")
                ).scalar()
                if left is None:
                    return jsonify(outcome=0), 409
                c.execute(sa.text("INSERT INTO bare_orders (buyer, total) VALUES (:b, 99)"), {"b": buyer})
            return jsonify(outcome=1), 201

    return app


def serve(kind: str, port: int, config: dict) -> None:
    import logging

    import waitress

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "task queue depth": the point of a stampede

    if kind == "bare":
        app = bare_app(config)
    else:
        from mallow.app import create_app

        if kind == "mallow-no-early":  # the front door still runs, its early answers do not
            from mallow.plugins import early

            early.early_answer = lambda app, environ, store: None
        app = create_app(config["mallow"])
    waitress.serve(app, host="127.0.0.1", port=port, threads=8, connection_limit=200, _quiet=True)


def start_server(kind: str, config: dict) -> tuple[subprocess.Popen, int]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, "--port", str(port), "--config", json.dumps(config)],
        cwd=os.path.dirname(os.path.dirname(__file__)),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the {kind} server stopped (exit {process.returncode})")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, port
        except OSError:
            time.sleep(0.1)
    process.terminate()
    raise SystemExit(f"the {kind} server did not start")


# --- the client ------------------------------------------------------------------------------------


def fire(port: int, requests: list[tuple[str, str, dict | None, dict]], connections: int, seconds: float):
    """Send ``requests`` (method, path, JSON body, headers) over ``connections`` keep-alive
    connections; returns ``[(status, error, finished_at)]`` and the elapsed seconds."""
    results: list = []
    lock = threading.Lock()
    cursor = iter(range(len(requests)))
    started = time.perf_counter()
    stop_at = started + seconds

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        while time.perf_counter() < stop_at:
            with lock:
                index = next(cursor, None)
            if index is None:
                break
            method, path, body, headers = requests[index]
            payload = json.dumps(body).encode() if body is not None else None
            hdrs = dict(headers, **({"Content-Type": "application/json"} if payload else {}))
            try:
                conn.request(method, path, body=payload, headers=hdrs)
                response = conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                mine.append((0, "connection", time.perf_counter()))
                continue
            error = None
            if response.status >= 300:
                try:
                    error = json.loads(data).get("error")
                except ValueError:
                    error = str(response.status)
            mine.append((response.status, error, time.perf_counter()))
        conn.close()
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, time.perf_counter() - started, started


# --- set-up in this process (straight through the services) ------------------------------------


def mallow_setup(args, data_dir: str, database_url: str | None, prefix: str):
    config = {
        "MALLOW_DATA_DIR": data_dir,
        "SECRET_KEY": "bench",
        "PASSWORD_HASH_METHOD": FAST_HASH,
        "REDIS_URL": "",
        "LOGIN_RATE_LIMIT_IP": "1000000 per minute",
        "TESTING": False,
        "FLASHSALE_REDIS_URL": REDIS if args.redis else "",
        "FLASHSALE_REDIS_PREFIX": prefix,
    }
    if database_url:
        config["DATABASE_URL"] = database_url
    from mallow.app import create_app
    from mallow.db import db
    from mallow.db.migrate import upgrade_platform
    from mallow.plugin_host.loader import load_approved
    from mallow.qualifications.matrix import seed_defaults
    from mallow.testing import approve_plugin, enable_plugin, make_admin, make_product, make_store

    app = create_app(config)
    with app.app_context():
        upgrade_platform(db.engine)
        seed_defaults()
    make_admin(app)
    approve_plugin(app, "flashsale")
    load_approved(app)
    shop = make_store(app)
    enable_plugin(app, shop, "flashsale", {"ip_attempts_per_minute": 1_000_000, "shopper_attempts_per_minute": 600})
    [sku] = make_product(app, shop, title="秒杀压测", price=5999, stock=10_000_000)
    shoppers = make_shoppers(app, shop, args.shoppers)
    return app, config, shop, sku, shoppers


def make_shoppers(app, shop, count: int):
    """``count`` shoppers of ``shop`` with tokens and addresses (:func:`common.make_shoppers`)."""
    return common.make_shoppers(app, shop.store_id, count)


def new_sale(app, shop, sku: int, units: int) -> int:
    from mallow.db import db
    from mallow.tenants.context import store_context
    from mallow_flashsale import sales

    now = datetime.now(UTC)
    with store_context(shop.store_id, app=app):
        sale = sales.save(
            {
                "title": "压测秒杀",
                "starts_at": (now - timedelta(minutes=1)).isoformat(),
                "ends_at": (now + timedelta(hours=1)).isoformat(),
                "per_order_limit": 2,
                "per_shopper_limit": 2,
                "published": True,
                "items": [{"sku_id": sku, "sale_price": 99, "quota": units}],
            }
        )
        db.session.commit()
        return sale.id


def sold_units(app, shop, sale_id: int) -> tuple[int, int]:
    """(units the database says were taken, the largest share of one shopper)."""
    import sqlalchemy as sa

    from mallow.db import db
    from mallow.tenants.context import store_context
    from mallow_flashsale.models import Purchase, SaleItem

    with store_context(shop.store_id, app=app):
        item = db.session.execute(sa.select(SaleItem).where(SaleItem.sale_id == sale_id)).scalar_one()
        shares = (
            db.session.execute(
                sa.select(sa.func.sum(Purchase.quantity))
                .where(Purchase.sale_id == sale_id)
                .group_by(Purchase.customer_id)
            )
            .scalars()
            .all()
        )
        return item.quota - item.remaining, max(shares or [0])


# --- the run ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--redis", action="store_true", help="the Redis gate (and the bare Lua baseline)")
    parser.add_argument("--units", type=int, default=100)
    parser.add_argument("--attempts", type=int, default=3000)
    parser.add_argument("--shoppers", type=int, default=1000)
    parser.add_argument("--soldout", type=int, default=3000, help="attempts after the quota is gone")
    parser.add_argument("--baseline", type=int, default=3000, help="requests per baseline measurement")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=60.0, help="upper bound of each measurement")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, json.loads(args.config))
        return

    import sqlalchemy as sa

    data_dir = tempfile.mkdtemp(prefix="mallow-bench-flash-")
    prefix = f"mallow-bench:flashsale:{uuid.uuid4().hex[:8]}"
    scratch = database_url = None
    if args.backend == "postgresql":
        scratch = f"mallow_bench_flash_{os.getpid()}"
        database_url = create_database(scratch)
    bare_db = database_url or f"sqlite:///{data_dir}/bare.db"
    bare_engine = sa.create_engine(bare_db)
    bare_tables(bare_engine, 0)
    redis_client = None
    if args.redis:
        import redis

        redis_client = redis.Redis.from_url(REDIS)

    processes, app = [], None
    try:
        print(
            f"setting up: {args.backend}{' + Redis gate' if args.redis else ', no Redis'}, {args.shoppers} shoppers …",
            flush=True,
        )
        app, config, shop, sku, shoppers = mallow_setup(args, data_dir, database_url, prefix)
        mallow_server, mallow_port = start_server("mallow", {"mallow": config})
        processes.append(mallow_server)
        flask_server, flask_port = start_server("mallow-no-early", {"mallow": config})
        processes.append(flask_server)
        bare_server, bare_port = start_server(
            "bare", {"redis": REDIS if args.redis else None, "prefix": prefix, "bare_db": bare_db}
        )
        processes.append(bare_server)
        rng = random.Random(7)

        def stampede_round():
            sale_id = new_sale(app, shop, sku, args.units)
            path = f"{shop.prefix}/api/x/flashsale/sales/{sale_id}/buy"
            plan = []
            for _ in range(args.attempts):
                token, address = shoppers[rng.randrange(len(shoppers))]
                plan.append(
                    (
                        "POST",
                        path,
                        {"sku_id": sku, "quantity": rng.choice((1, 1, 2)), "address_id": address},
                        {"Authorization": f"Bearer {token}"},
                    )
                )
            results, elapsed, started = fire(mallow_port, plan, args.connections, args.seconds)
            wins = [r for r in results if r[0] == 201]
            bad = [r for r in results if r[0] >= 500 or r[0] == 0 or r[0] == 429]
            sell_window = (max(r[2] for r in wins) - started) if wins else elapsed
            in_window = sum(1 for r in results if r[2] - started <= sell_window)
            sold, top_share = sold_units(app, shop, sale_id)
            if sold != args.units or top_share > 2 or bad:
                raise SystemExit(
                    f"WRONG: sold {sold} of {args.units}, largest share {top_share}, "
                    f"{len(bad)} errors/rate limits: {bad[:5]}"
                )
            soldout_plan = [plan[i % len(plan)] for i in range(args.soldout)]
            soldout, soldout_elapsed, _ = fire(mallow_port, soldout_plan, args.connections, args.seconds)
            through_flask, flask_elapsed, _ = fire(flask_port, soldout_plan, args.connections, args.seconds)
            if any(r[0] != 409 or r[1] != "sold_out" for r in soldout + through_flask):
                answers = set((r[0], r[1]) for r in soldout + through_flask)
                raise SystemExit(f"WRONG: after selling out: {answers}")
            return {
                "all": len(results) / elapsed,
                "selling": in_window / sell_window,
                "sell_seconds": sell_window,
                "sold": sold,
                "soldout": len(soldout) / soldout_elapsed,
                "soldout_flask": len(through_flask) / flask_elapsed,
            }

        def hello_round():
            results, elapsed, _ = fire(
                bare_port, [("GET", "/hello", None, {})] * args.baseline, args.connections, args.seconds
            )
            return len(results) / elapsed

        def bare_flash_round():
            n = args.baseline
            if redis_client is not None:
                redis_client.delete(f"{prefix}:buyers")
                redis_client.set(f"{prefix}:stock", n)
            else:
                with bare_engine.begin() as c:
                    c.exec_driver_sql(f"UPDATE bare_stock SET stock = {n} WHERE id = 1")
            plan = [("POST", "/flash", {"buyer": i}, {}) for i in range(n)]
            results, elapsed, _ = fire(bare_port, plan, args.connections, args.seconds)
            if any(r[0] != 201 for r in results):
                raise SystemExit(f"bare flash failed: {set(r[0] for r in results)}")
            return len(results) / elapsed

        fire(bare_port, [("GET", "/hello", None, {})] * 500, args.connections, 5)  # warm-up
        for port in (mallow_port, flask_port):
            fire(port, [("GET", f"{shop.prefix}/api/x/flashsale/sales", None, {})] * 200, args.connections, 5)
        rounds = []
        for number in range(args.rounds):
            hello = hello_round()
            flash = bare_flash_round()
            ours = stampede_round()
            rounds.append((hello, flash, ours))
            print(
                f"  round {number + 1}: stampede {ours['all']:.0f}/s (selling {ours['selling']:.0f}/s for "
                f"{ours['sell_seconds']:.2f} s), sold out {ours['soldout']:.0f}/s early, "
                f"{ours['soldout_flask']:.0f}/s through Flask, sold {ours['sold']}; "
                f"bare hello {hello:.0f}/s, bare flash {flash:.0f}/s",
                flush=True,
            )

        med = statistics.median
        hello, flash = med(r[0] for r in rounds), med(r[1] for r in rounds)
        stamp, selling, soldout, soldout_flask = (
            med(r[2][key] for r in rounds) for key in ("all", "selling", "soldout", "soldout_flask")
        )
        bare_flash_name = (
            "bare Flask + Lua (A-flash-redis)" if args.redis else "bare Flask + UPDATE/INSERT (A-flash-sql)"
        )
        print(
            f"\n{args.backend}{' + Redis' if args.redis else ''}; {args.units} units, {args.attempts} attempts from "
            f"{args.shoppers} shoppers, {args.connections} connections, waitress 8 threads; median of {args.rounds}"
        )
        print(f"{'measurement':44} {'req/s':>8}   {'baseline':36} {'req/s':>8} {'ratio':>6}")
        print(f"{'stampede, every attempt':44} {stamp:8.0f}   {bare_flash_name:36} {flash:8.0f} {stamp / flash:6.2f}")
        print(f"{'while stock lasts':44} {selling:8.0f}   {bare_flash_name:36} {flash:8.0f} {selling / flash:6.2f}")
        print(
            f"{'sold out (early answer)':44} {soldout:8.0f}   {'bare Flask hello (A-hello)':36} {hello:8.0f} "
            f"{soldout / hello:6.2f}"
        )
        print(
            f"{'sold out (flag, through Flask)':44} {soldout_flask:8.0f}   {'bare Flask hello (A-hello)':36} "
            f"{hello:8.0f} {soldout_flask / hello:6.2f}"
        )
        print(f"sold: {args.units} of {args.units} in every round (checked in the database); no shopper over 2")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        bare_engine.dispose()
        if redis_client is not None:
            keys = list(redis_client.scan_iter(match=f"{prefix}:*", count=1000))
            if keys:
                redis_client.delete(*keys)
        if scratch:
            dispose_app(app)
            drop_database(scratch)


if __name__ == "__main__":
    main()

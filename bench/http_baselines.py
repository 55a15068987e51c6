"""The bare baseline apps of shared/briefs/performance.md, served by gunicorn beside Mallow in
bench/http.py (``gunicorn 'http_baselines:create_app()'`` from a copy of this folder). No Mallow
code: the ratio Mallow/baseline is the price of Mallow itself on the same machine in the same run.

* ``/hello`` — A-hello: Flask JSON "hello".
* ``/page`` — A-page: Flask + the Jinja2 list of 20 products (bench/common.py's ``BARE_PAGE``).
* ``/dbjson`` — A-dbjson: Flask + one SQLAlchemy query → JSON, on ``BARE_DATABASE_URL`` (the same
  backend Mallow runs on in that bench run).
* ``/dbpage`` — A-dbpage: Flask + one query (the 20 products) + the same Jinja2 page.
* ``POST /flash-pg`` — A-flash-pg: Flask-SQLAlchemy ``UPDATE … RETURNING`` on one hot stock row +
  ``INSERT`` of the order + ``COMMIT`` (on SQLite the same SQL: A-flash-sql).
* ``POST /flash-redis`` — A-flash-redis: Flask + one Lua script (buyer check + decrement + record)
  on ``BARE_REDIS_URL`` under the keys ``BARE_REDIS_PREFIX:*``; body ``{"buyer": <id>}``.
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from common import BARE_PAGE, BARE_PRODUCTS, FLASH_LUA, bare_tables
from flask import Flask, jsonify, request
from flask_sqlalchemy import SQLAlchemy

#: the hot row's stock: more than any bench run can sell, so every attempt is a sale
BARE_STOCK = 1_000_000_000


def prepare(database_url: str, redis_url: str | None = None, prefix: str = "") -> None:
    """Create and fill the tables (and Redis keys) the baselines use; run once, before the workers start."""
    engine = sa.create_engine(database_url)
    with engine.begin() as c:
        c.exec_driver_sql("DROP TABLE IF EXISTS bare_products")
        c.exec_driver_sql("CREATE TABLE bare_products (id INTEGER PRIMARY KEY, title TEXT NOT NULL, price INTEGER)")
        c.execute(sa.text("INSERT INTO bare_products VALUES (:id, :title, :price)"), BARE_PRODUCTS)
    bare_tables(engine, BARE_STOCK)
    engine.dispose()
    if redis_url:
        import redis

        client = redis.Redis.from_url(redis_url)
        client.delete(f"{prefix}:buyers")
        client.set(f"{prefix}:stock", BARE_STOCK)
        client.close()


def forget_redis(redis_url: str, prefix: str) -> None:
    """Delete every key under ``prefix:`` (the baseline's, and Mallow's flash-sale keys when the
    bench gave it that prefix); never FLUSHDB."""
    import redis

    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start : start + 1000])
    client.close()


def create_app() -> Flask:
    app = Flask("bare")
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["BARE_DATABASE_URL"]
    db = SQLAlchemy(app)
    engine = sa.create_engine(os.environ["BARE_DATABASE_URL"])
    template = app.jinja_env.from_string(BARE_PAGE)  # compiled once, as Flask's file templates are

    @app.get("/hello")
    def hello():
        return jsonify(hello="world")

    @app.get("/page")
    def page():
        return template.render(title="店铺", products=BARE_PRODUCTS)

    @app.get("/dbjson")
    def dbjson():
        with engine.connect() as c:
            row = c.execute(sa.text("SELECT id, title, price FROM bare_products WHERE id = 1")).one()
        return jsonify(id=row.id, title=row.title, price=row.price)

    @app.get("/dbpage")
    def dbpage():
        with engine.connect() as c:
            rows = c.execute(sa.text("SELECT id, title, price FROM bare_products ORDER BY id")).mappings().all()
        return template.render(title="店铺", products=rows)

    @app.post("/flash-pg")
    def flash_pg():
        left = db.session.execute(
            sa.text("UPDATE bare_stock SET stock = stock - 1 WHERE id = 1 AND stock >= 1 RETURNING stock")
        ).scalar()
        if left is None:
            db.session.rollback()
            return jsonify(error="sold_out"), 409
        db.session.execute(sa.text("INSERT INTO bare_orders (buyer, total) VALUES (1, 99)"))
        db.session.commit()
        return jsonify(left=left), 201

    redis_url = os.environ.get("BARE_REDIS_URL")
    if redis_url:
        import redis

        script = redis.Redis.from_url(redis_url).register_script(FLASH_LUA)
        keys = [f"{os.environ['BARE_REDIS_PREFIX']}:stock", f"{os.environ['BARE_REDIS_PREFIX']}:buyers"]

        @app.post("/flash-redis")
        def flash_redis():
            outcome = int(script(keys=keys, args=[request.get_json()["buyer"]]))
            return jsonify(outcome=outcome), 201 if outcome == 1 else 409

    return app

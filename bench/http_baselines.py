"""The bare baseline apps of shared/briefs/performance.md, served by gunicorn beside Mallow in
bench/http.py (``gunicorn --chdir bench 'http_baselines:create_app()'``). No Mallow code: the ratio
Mallow/baseline is the price of Mallow itself on the same machine in the same run.

* ``/hello`` — A-hello: Flask JSON "hello".
* ``/page`` — A-page: Flask + the Jinja2 list of 20 products (bench/common.py's ``BARE_PAGE``).
* ``/dbjson`` — A-dbjson: Flask + one SQLAlchemy query → JSON, on ``BARE_DATABASE_URL`` (the same
  backend Mallow runs on in that bench run).
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from common import BARE_PAGE, BARE_PRODUCTS
from flask import Flask, jsonify


def prepare(database_url: str) -> None:
    """Create and fill the one table A-dbjson reads (run once, before the workers start)."""
    engine = sa.create_engine(database_url)
    with engine.begin() as c:
        c.exec_driver_sql("DROP TABLE IF EXISTS bare_products")
        c.exec_driver_sql("CREATE TABLE bare_products (id INTEGER PRIMARY KEY, title TEXT NOT NULL, price INTEGER)")
        c.execute(sa.text("INSERT INTO bare_products VALUES (:id, :title, :price)"), BARE_PRODUCTS)
    engine.dispose()


def create_app() -> Flask:
    app = Flask("bare")
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

    return app

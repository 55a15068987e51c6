#!/usr/bin/env python
"""Storefront bench: product list page, product detail page and order placement, each beside a
bare Flask endpoint measured in the same run (ratio), median of alternating rounds.

The bare baselines carry their own code here (no Mallow): a Jinja2 product list page, a page
that reads one row, and "UPDATE stock … RETURNING + INSERT order + COMMIT" on the same database.
Requests go through each app's WSGI interface in-process (Flask test client), one at a time, so
the figures compare the code paths, not a web server. Loops are bounded in count and time.

    .venv/bin/python bench/storefront.py                       # SQLite (embedded default)
    .venv/bin/python bench/storefront.py --backend postgresql  # scratch database, dropped after
"""

from __future__ import annotations

import common  # noqa: F401 -- first: moves bench/ to the end of sys.path (its http.py would hide the stdlib's)

import argparse
import statistics
import sys

import sqlalchemy as sa
from common import BARE_PAGE, BARE_PRODUCTS, bare_tables, drop_scratch, mallow_config, rate
from flask import Flask, jsonify


def bare_app(database_url: str) -> Flask:
    app = Flask("bare")
    engine = sa.create_engine(database_url)
    bare_tables(engine, 100_000_000)
    products = BARE_PRODUCTS
    template = app.jinja_env.from_string(BARE_PAGE)  # compiled once, as Flask's file templates are

    @app.get("/page")
    def page():
        return template.render(title="店铺", products=products)

    @app.get("/one")
    def one():
        with engine.connect() as c:
            row = c.execute(sa.text("SELECT id, stock FROM bare_stock WHERE id = 1")).one()
        return template.render(title=str(row.stock), products=products[:1])

    @app.post("/order")
    def order():
        with engine.begin() as c:
            left = c.execute(
                sa.text("UPDATE bare_stock SET stock = stock - 1 WHERE id = 1 AND stock >= 1 RETURNING stock")
            ).scalar()
            c.execute(sa.text("INSERT INTO bare_orders (buyer, total) VALUES (1, 1000)"))
        return jsonify(left=left), 201

    app.bare_engine = engine
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    config, scratch = mallow_config(args.backend, "store")
    data_dir = config["MALLOW_DATA_DIR"]

    from mallow.app import create_app
    from mallow.db import db
    from mallow.db.migrate import upgrade_platform
    from mallow.qualifications.matrix import seed_defaults
    from mallow.testing import bearer, make_product, make_shopper, make_store

    app = create_app(config)
    with app.app_context():
        upgrade_platform(db.engine)
        seed_defaults()
        platform_url = db.engine.url.render_as_string(hide_password=False)
    shop = make_store(app)
    skus = [make_product(app, shop, title=f"临安山核桃仁 {i}", price=1000 + i, stock=10_000_000)[0] for i in range(20)]
    client = app.test_client()
    token, address = make_shopper(client, shop)
    from mallow.catalog.models import Sku
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        product_id = db.session.get(Sku, skus[0]).product_id

    bare_url = platform_url if args.backend == "postgresql" else f"sqlite:///{data_dir}/bare.db"
    bare = bare_app(bare_url).test_client()
    order_body = {"items": [{"sku_id": skus[0], "quantity": 1}], "address_id": address}
    scenarios = [
        (
            "product list page",
            lambda: rate(client, "GET", f"{shop.prefix}/", args.seconds, 20000),
            "bare Jinja page (20 products)",
            lambda: rate(bare, "GET", "/page", args.seconds, 20000),
        ),
        (
            "product detail page",
            lambda: rate(client, "GET", f"{shop.prefix}/products/{product_id}", args.seconds, 20000),
            "bare page + one query",
            lambda: rate(bare, "GET", "/one", args.seconds, 20000),
        ),
        (
            "order placement",
            lambda: rate(
                client, "POST", f"{shop.prefix}/api/orders", args.seconds, 5000, json=order_body, headers=bearer(token)
            ),
            "bare UPDATE…RETURNING + INSERT + COMMIT",
            lambda: rate(bare, "POST", "/order", args.seconds, 5000),
        ),
    ]
    try:
        run(args, scenarios)
    finally:
        drop_scratch(app, scratch)


def run(args, scenarios) -> None:
    print(f"backend: {args.backend}; {args.rounds} alternating rounds of {args.seconds:.0f} s each; in-process WSGI")
    print(f"{'scenario':24} {'mallow req/s':>13}   {'baseline':38} {'req/s':>9} {'ratio':>7}")
    for name, measure, base_name, base in scenarios:
        ours, theirs = [], []
        for _ in range(args.rounds):
            theirs.append(base())
            ours.append(measure())
        a, b = statistics.median(ours), statistics.median(theirs)
        print(f"{name:24} {a:13.0f}   {base_name:38} {b:9.0f} {a / b:7.2f}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Order placement bench: orders/s of Mallow's checkout on PostgreSQL beside the brief's bare
A-flash-pg baseline, measured alternately in the same process (the ratio is the figure).

* **mallow API**: ``POST /s/<slug>/api/orders`` of three lines (three SKUs, one of them the
  same hot row every time) as a signed-in shopper, in a store with the three bundled plugins on
  (group-buy, flash-sale, distribution): tenant resolution, auth, pricing with the plugins'
  hooks, stock, order, lines, adjustments, timeline, ledger, commit and the JSON answer.
* **place_order()**: the same order through :func:`mallow.orders.checkout.place_order` alone,
  inside one store request context (no routing, auth or JSON answer). The store is found the way
  the resolver finds it (:func:`mallow.tenants.snapshots.find`: from memory under the store's
  stamp) and the shopper is the one known id: loading a fresh ``Store`` row with
  ``session.get`` (and the ``Customer``) skipped the stamp, so every per-store cache (plugins,
  settings, permits) missed and the "alone" path ran 12 statements to the API's 6 — slower
  than the whole request it is part of.
* **A-flash-pg** (bare, no Mallow code): Flask-SQLAlchemy ``UPDATE … RETURNING`` of one hot row,
  ``INSERT`` an order, ``COMMIT``, through the same Flask test client.

In-process and one at a time, so it compares code paths and round trips, not a web server
(``bench/http.py`` does that). Loops are bounded in count and time.

    .venv/bin/python bench/orders.py [--rounds 3 --seconds 3] [--lines 3]
"""

from __future__ import annotations

import common  # noqa: F401 -- first: moves bench/ to the end of sys.path (its http.py would hide the stdlib's)

import argparse
import statistics
import tempfile
from pathlib import Path
from types import SimpleNamespace

from common import bare_tables, per_second
from flask import Flask, jsonify
from flask_sqlalchemy import SQLAlchemy

BUNDLED = ("groupbuy", "flashsale", "distribution")


class Folders:
    """What ``plugin_app`` needs of pytest's ``tmp_path_factory``."""

    def mktemp(self, name: str) -> Path:
        return Path(tempfile.mkdtemp(prefix=f"mallow-bench-orders-{name}-"))


def bare_app(database_url: str) -> Flask:
    """A-flash-pg: one hot row, ``UPDATE … RETURNING`` + ``INSERT`` + ``COMMIT`` per order."""
    app = Flask("bare")
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url
    bare = SQLAlchemy(app)
    with app.app_context():
        bare_tables(bare.engine, 100_000_000)

    @app.post("/order")
    def order():
        left = bare.session.execute(
            bare.text("UPDATE bare_stock SET stock = stock - 1 WHERE id = 1 AND stock >= 1 RETURNING stock")
        ).scalar()
        bare.session.execute(bare.text("INSERT INTO bare_orders (buyer, total) VALUES (1, 1000)"))
        bare.session.commit()
        return jsonify(left=left), 201

    return app


def _statements(call) -> int:
    """The SQL statements one call sends (BEGIN/COMMIT/ROLLBACK left out), on any engine."""
    from mallow.testing.sql import statements

    with statements() as seen:
        call()
    return len(seen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--lines", type=int, default=3, help="order lines (SKUs) per order")
    options = parser.parse_args()

    from mallow.accounts.models import Customer
    from mallow.db import db
    from mallow.orders.checkout import place_order
    from mallow.tenants.context import activate_store, store_context
    from mallow.tenants import snapshots
    from mallow.testing import HAVE_POSTGRES, bearer, dispose_app, enable_plugin, make_product, make_shopper, make_store
    from mallow.testing import plugin_app

    if not HAVE_POSTGRES:
        raise SystemExit("PostgreSQL is not running on 127.0.0.1:5432")
    app = plugin_app(Folders(), "postgresql", list(BUNDLED))
    try:
        shop = make_store(app)
        for name in BUNDLED:
            enable_plugin(app, shop, name)
        skus = [
            make_product(app, shop, title=f"临安山核桃仁 {i}", price=1000 + i, stock=10**8)[0]
            for i in range(options.lines)
        ]
        client = app.test_client()
        token, address = make_shopper(client, shop)
        items = [{"sku_id": sku, "quantity": 1} for sku in skus]
        body = {"items": items, "address_id": address}
        path, headers = f"{shop.prefix}/api/orders", bearer(token)
        with store_context(shop.store_id, app=app):
            customer_id = db.session.execute(db.select(Customer.id)).scalars().first()
        bare = bare_app(app.config["SQLALCHEMY_DATABASE_URI"]).test_client()

        def api_order():
            answer = client.post(path, headers=headers, json=body)
            assert answer.status_code == 201, answer.get_json()

        shopper = SimpleNamespace(id=customer_id)  # place_order reads only the id

        def direct_order():
            with app.test_request_context(f"{shop.prefix}/api/orders"):
                activate_store(snapshots.find(shop.slug))
                place_order(shopper, items, address)

        def bare_order():
            assert bare.post("/order").status_code == 201

        for call in (api_order, direct_order, bare_order):  # warm up every path
            per_second(call, 0.5, 50)
        counted = {key: _statements(call) for key, call in (("api", api_order), ("direct", direct_order))}
        counted["bare"] = _statements(bare_order)
        results: dict[str, list[float]] = {"api": [], "direct": [], "bare": []}
        for _round in range(options.rounds):
            results["bare"].append(per_second(bare_order, options.seconds, 20_000))
            results["api"].append(per_second(api_order, options.seconds, 20_000))
            results["bare"].append(per_second(bare_order, options.seconds, 20_000))
            results["direct"].append(per_second(direct_order, options.seconds, 20_000))
    finally:
        dispose_app(app)

    median = {key: statistics.median(values) for key, values in results.items()}
    print(f"PostgreSQL, {options.lines}-line orders, {BUNDLED} on; {options.rounds} alternating rounds, medians")
    print(f"{'path':34} {'orders/s':>9} {'A-flash-pg':>11} {'ratio':>7} {'statements':>11}")
    for key, name in (("api", "mallow API createOrder"), ("direct", "place_order() alone")):
        ratio = median[key] / median["bare"]
        print(f"{name:34} {median[key]:9.0f} {median['bare']:11.0f} {ratio:7.2f} {counted[key]:11d}")
    print(f"(A-flash-pg: {counted['bare']} statements; transaction control and pool checks not counted)")
    print("target (brief): order placement ≥ 0.50 × A-flash-pg")


if __name__ == "__main__":
    main()

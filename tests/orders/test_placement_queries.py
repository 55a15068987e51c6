"""Placing an order costs a fixed number of SQL statements, however many lines it has (issue 13).

Counts are deterministic where timings are not: a statement more is a lazy load or a round trip
on the checkout's hot path. Transaction control (SQLite's explicit ``BEGIN``) is left out. The
store has the demo's three plugins on (group-buy, flash-sale, distribution); the shopper fills a
cart through the API, then orders what the cart holds with ``createOrder``. What the request
holds today, in order:

* the bearer token with its shopper (left out of the counts: the request's, not the order's,
  and it may come from memory);
* ``place_order``: its reads in one statement (the address; with an ``Idempotency-Key``, the
  order placed with that key; every SKU with its product), then the writes. On PostgreSQL ONE
  statement writes everything (data-modifying CTEs: every line's stock, conditional, and its
  ledger row, the order, its timeline entry, its lines and adjustments); on SQLite the order,
  its timeline entry, its lines (one batched INSERT), every line's stock in one ``UPDATE …
  RETURNING`` and the stock ledger (one batched INSERT). The rows are written by Core
  statements built once, and the ORM objects the hooks and the answer see are made from them
  (no flush);
The store, its plugins, its settings and the permits check come from the process's memory under
the store's stamp once warm (:mod:`mallow.tenants.stamps`).
"""

from __future__ import annotations

import concurrent.futures
import re

import pytest
import sqlalchemy as sa

from mallow.testing.sql import listing, statements
from mallow.testing import backend_params, bearer, dispose_app, enable_plugin, make_product, make_shopper, make_store
from mallow.testing import plugin_app

DEMO_PLUGINS = ["groupbuy", "flashsale", "distribution"]
#: per backend: the createOrder request above, for any number of lines
#: (the bearer token's lookup left out: it is the request's, whether or not it is found in memory);
#: PostgreSQL: the read, the order's write and its stock taken in the COMMIT's round trip
ORDER_STATEMENTS = {"postgresql": 3, "sqlite": 7}


@pytest.fixture(scope="module", params=backend_params())
def demo_app(request, tmp_path_factory):
    """An app with the demo's three plugins approved and loaded, on each backend."""
    app = plugin_app(tmp_path_factory, request.param, DEMO_PLUGINS)
    yield app
    dispose_app(app)


@pytest.fixture
def shop(demo_app):
    shop = make_store(demo_app)
    for name in DEMO_PLUGINS:
        enable_plugin(demo_app, shop, name)
    return shop


def _skus(app, shop, count: int, stock: int = 50) -> list[int]:
    return [make_product(app, shop, title=f"商品 {n}", price=1000 + n, stock=stock)[0] for n in range(count)]


def _stock(app, shop, sku_ids: list[int]) -> list[int]:
    from mallow.catalog.models import Sku
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        return [db.session.get(Sku, sku_id).stock for sku_id in sku_ids]


def _warm(client, shop, token, address, sku) -> None:
    """A first order straight from the API (not the cart): the per-process caches are warm after it."""
    body = {"items": [{"sku_id": sku, "quantity": 1}], "address_id": address}
    assert client.post(f"{shop.prefix}/api/orders", headers=bearer(token), json=body).status_code == 201


def _order_from_cart(client, shop, token, address, skus, key=None):
    """Fill the cart with one of each SKU, then order what the cart holds (with ``key`` as the
    Idempotency-Key); the order's answer and the statements of the createOrder request."""
    for sku in skus:
        added = client.post(f"{shop.prefix}/api/cart/items", headers=bearer(token), json={"sku_id": sku, "quantity": 1})
        assert added.status_code == 201, added.get_json()
    cart = client.get(f"{shop.prefix}/api/cart", headers=bearer(token)).get_json()
    body = {"items": [{"sku_id": i["sku_id"], "quantity": i["quantity"]} for i in cart["items"]], "address_id": address}
    headers = {**bearer(token), **({"Idempotency-Key": key} if key else {})}
    with statements() as seen:
        response = client.post(f"{shop.prefix}/api/orders", headers=headers, json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json(), [statement for statement in seen if ".customer_sessions" not in statement]


def _ledger(app, shop, order_id: int) -> list[tuple[int, int, str]]:
    from mallow.db import db
    from mallow.inventory.models import StockMovement
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        rows = db.session.execute(
            sa.select(StockMovement.sku_id, StockMovement.delta, StockMovement.reason)
            .where(StockMovement.order_id == order_id)
            .order_by(StockMovement.sku_id)
        )
        return [tuple(row) for row in rows]


def test_a_three_line_order_from_the_cart_costs_a_fixed_number_of_statements(demo_app, shop):
    client = demo_app.test_client()
    token, address = make_shopper(client, shop)
    skus = _skus(demo_app, shop, 3)
    _warm(client, shop, token, address, skus[0])

    order, seen = _order_from_cart(client, shop, token, address, skus)

    assert [line["sku_id"] for line in order["lines"]] == skus
    assert order["total"] == order["items_total"] + sum(a["amount"] for a in order["adjustments"])
    assert _stock(demo_app, shop, skus) == [48, 49, 49]
    assert len(seen) == ORDER_STATEMENTS[demo_app.mallow_backend], listing(seen)
    assert sum(re.search(r"\bUPDATE \S*skus (AS \w+ )?SET", s) is not None for s in seen) == 1, listing(seen)
    assert sum("INSERT INTO" in s and ".order_lines " in s for s in seen) == 1, listing(seen)
    assert sum("INSERT INTO" in s and ".stock_movements " in s for s in seen) == 1, listing(seen)
    assert _ledger(demo_app, shop, order["id"]) == [(sku, -1, "reserve") for sku in skus]


def test_an_order_with_an_idempotency_key_costs_the_same_statements_and_a_repeat_answers_the_first(demo_app, shop):
    client = demo_app.test_client()
    token, address = make_shopper(client, shop)
    skus = _skus(demo_app, shop, 2)
    _warm(client, shop, token, address, skus[0])

    order, seen = _order_from_cart(client, shop, token, address, skus, key="k-1")

    assert len(seen) == ORDER_STATEMENTS[demo_app.mallow_backend], listing(seen)
    body = {"items": [{"sku_id": sku, "quantity": 1} for sku in skus], "address_id": address}
    again = client.post(f"{shop.prefix}/api/orders", headers={**bearer(token), "Idempotency-Key": "k-1"}, json=body)
    assert again.status_code == 200 and again.get_json() == order
    other = dict(body, note="不同的请求")
    refused = client.post(f"{shop.prefix}/api/orders", headers={**bearer(token), "Idempotency-Key": "k-1"}, json=other)
    assert refused.status_code == 422 and refused.get_json()["error"] == "idempotency_conflict"
    assert _stock(demo_app, shop, skus) == [48, 49]  # the warm-up's unit and this order's, once


def test_one_line_and_five_lines_cost_the_same_statements(demo_app, shop):
    client = demo_app.test_client()
    skus = _skus(demo_app, shop, 5)
    counts = {}
    for lines in (1, 5):
        token, address = make_shopper(client, shop)
        _warm(client, shop, token, address, skus[0])
        order, seen = _order_from_cart(client, shop, token, address, skus[:lines])
        assert len(order["lines"]) == lines
        counts[lines] = len(seen)
    assert counts[1] == counts[5] == ORDER_STATEMENTS[demo_app.mallow_backend], counts


def test_a_line_short_of_stock_refuses_the_whole_order_naming_it(demo_app, shop):
    from mallow.catalog.models import Sku
    from mallow.db import db
    from mallow.inventory.models import StockMovement
    from mallow.tenants.context import store_context

    client = demo_app.test_client()
    token, address = make_shopper(client, shop)
    first, scarce, last = skus = _skus(demo_app, shop, 3)
    with store_context(shop.store_id, app=demo_app):
        db.session.get(Sku, scarce).stock = 1
        db.session.commit()
    items = [{"sku_id": sku, "quantity": 2} for sku in skus]

    response = client.post(
        f"{shop.prefix}/api/orders", headers=bearer(token), json={"items": items, "address_id": address}
    )

    assert response.status_code == 409, response.get_json()
    assert response.get_json()["error"] == "sold_out" and response.get_json()["sku_id"] == scarce
    assert _stock(demo_app, shop, skus) == [50, 1, 50]
    assert client.get(f"{shop.prefix}/api/orders", headers=bearer(token)).get_json()["items"] == []
    with store_context(shop.store_id, app=demo_app):
        assert db.session.execute(sa.select(sa.func.count()).select_from(StockMovement)).scalar() == 0


@pytest.mark.parametrize("demo_app", ["postgresql"], indirect=True)
def test_overlapping_orders_at_once_sell_exactly_the_stock_without_deadlocks(demo_app, shop):
    """Three-line orders on overlapping SKUs, in different line orders, from 8 threads: every
    answer is an order or "sold out" (no deadlock answered as busy), and exactly the stock sold."""
    client = demo_app.test_client()
    a, b, c, d = _skus(demo_app, shop, 4, stock=12)
    shoppers = [make_shopper(client, shop) for _ in range(8)]
    baskets = [[a, b, c], [d, c, b], [b, d, a], [c, a, d]]

    def buy(n):
        token, address = shoppers[n % len(shoppers)]
        items = [{"sku_id": sku, "quantity": 1} for sku in baskets[n % len(baskets)]]
        response = demo_app.test_client().post(
            f"{shop.prefix}/api/orders", headers=bearer(token), json={"items": items, "address_id": address}
        )
        return n, response.status_code, (response.get_json() or {}).get("error")

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(buy, range(40)))

    assert {(status, error) for _n, status, error in results} <= {(201, None), (409, "sold_out")}, results
    sold = [baskets[n % len(baskets)] for n, status, _error in results if status == 201]
    assert len(sold) >= 12  # at least one basket's worth: never refused while every SKU had stock
    assert _stock(demo_app, shop, [a, b, c, d]) == [12 - sum(sku in basket for basket in sold) for sku in (a, b, c, d)]

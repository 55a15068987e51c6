"""What placing an order sends to the database, counted (issue 13): a fixed number of statements
for one line or three, with line and order adjustments; on PostgreSQL the order — its row, its
timeline entry, its lines and its adjustments — is ONE statement (data-modifying CTEs,
``orders/checkout.py`` ``_placement_statement``), and every line's stock and ledger row one more,
sent in the COMMIT's round trip (``inventory/stock.py`` ``last_taking_statement``).

The store runs a plugin built here that discounts every line and the order, so each order has
adjustments on its lines and on the whole order: their rows must point at the right lines.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from mallow.testing import backend_params, bearer, dispose_app, enable_plugin, make_product, make_shopper, make_store
from mallow.testing import plugin_app
from mallow.testing.builders import build_plugin
from mallow.testing.sql import listing, statements

DEALS = """
from mallow.sdk import Adjustment, hookimpl


@hookimpl
def mallow_line_adjustments(context, line):
    return [Adjustment("line", "placement_deals", "per_line", "每件立减", -10 * (line.index + 1), line_index=line.index)]


@hookimpl
def mallow_order_adjustments(context, subtotal):
    return [Adjustment("order", "placement_deals", "per_order", "整单立减", -7)]
"""

#: place_order's statements in createOrder, warm (the bearer token's lookup is the request's, not
#: the order's: it is left out, however the token is found)
STATEMENTS = {
    # address + key's order + SKUs; the order's write; the stock and ledger, with the COMMIT
    "postgresql": 3,
    # reads; order; timeline entry; next ids; lines; adjustments; stock; ledger
    "sqlite": 8,
}


@pytest.fixture(scope="module")
def deals_plugin(tmp_path_factory):
    with build_plugin(tmp_path_factory) as plugins:
        plugins.add("placement_deals", DEALS, title={"zh_CN": "下单立减", "en": "Deals"}, permissions=["pricing"])
        yield plugins


@pytest.fixture(scope="module", params=backend_params())
def deals_app(request, deals_plugin, tmp_path_factory):
    app = plugin_app(tmp_path_factory, request.param, ["placement_deals"])
    yield app
    dispose_app(app)


@pytest.fixture
def shop(deals_app):
    shop = make_store(deals_app)
    enable_plugin(deals_app, shop, "placement_deals")
    return shop


def _skus(app, shop, count: int, stock: int = 20) -> list[int]:
    return [make_product(app, shop, title=f"核桃 {n}", price=1000 + n, stock=stock)[0] for n in range(count)]


def _order(client, shop, token, address, skus, quantity=1):
    body = {"items": [{"sku_id": sku, "quantity": quantity} for sku in skus], "address_id": address}
    with statements() as seen:
        response = client.post(f"{shop.prefix}/api/orders", headers=bearer(token), json=body)
    return response, [statement for statement in seen if ".customer_sessions" not in statement]


def _rows(app, shop, order_id: int) -> dict:
    """What the database holds of the order, read back in a fresh session."""
    from mallow.db import db
    from mallow.inventory.models import StockMovement
    from mallow.orders.models import OrderAdjustment, OrderEvent, OrderLine
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        lines = db.session.execute(
            sa.select(OrderLine.id, OrderLine.sku_id, OrderLine.quantity, OrderLine.total)
            .where(OrderLine.order_id == order_id)
            .order_by(OrderLine.id)
        ).all()
        adjustments = db.session.execute(
            sa.select(OrderAdjustment.line_id, OrderAdjustment.code, OrderAdjustment.amount)
            .where(OrderAdjustment.order_id == order_id)
            .order_by(OrderAdjustment.id)
        ).all()
        events = db.session.execute(sa.select(OrderEvent.kind).where(OrderEvent.order_id == order_id)).scalars()
        ledger = db.session.execute(
            sa.select(StockMovement.sku_id, StockMovement.delta, StockMovement.reason)
            .where(StockMovement.order_id == order_id)
            .order_by(StockMovement.sku_id)
        ).all()
        return {
            "lines": [tuple(row) for row in lines],
            "adjustments": [tuple(row) for row in adjustments],
            "events": list(events),
            "ledger": [tuple(row) for row in ledger],
        }


def _stock(app, shop, skus):
    from mallow.catalog.models import Sku
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        return [db.session.get(Sku, sku).stock for sku in skus]


@pytest.mark.parametrize("count", [1, 3])
def test_an_order_of_one_or_three_lines_costs_the_same_statements(deals_app, shop, count):
    client = deals_app.test_client()
    token, address = make_shopper(client, shop)
    skus = _skus(deals_app, shop, count)
    warm, _seen = _order(client, shop, token, address, skus[:1])  # per-process caches warm
    assert warm.status_code == 201, warm.get_json()

    response, seen = _order(client, shop, token, address, skus, quantity=2)

    assert response.status_code == 201, response.get_json()
    assert len(seen) == STATEMENTS[deals_app.mallow_backend], listing(seen)
    if deals_app.mallow_backend == "postgresql":  # the order in one statement, its stock in the last
        writes = [s for s in seen if "INSERT INTO" in s or "UPDATE" in s]
        assert len(writes) == 2, listing(seen)
        for table in ("orders", "order_events", "order_lines", "order_adjustments"):
            assert f".{table} (" in writes[0], table
        assert ".stock_movements (" in writes[1], writes[1]
        assert re.search(r"\bUPDATE \S*\.skus (AS \w+ )?SET", writes[1])
    order = response.get_json()
    assert [line["sku_id"] for line in order["lines"]] == skus
    assert order["total"] == order["items_total"] + sum(a["amount"] for a in order["adjustments"])
    assert order["total"] == sum(2 * (1000 + n) - 10 * (n + 1) for n in range(count)) - 7
    # the answer is what the database holds: ids, lines, each adjustment on its own line
    rows = _rows(deals_app, shop, order["id"])
    line_ids = [line["id"] for line in order["lines"]]
    assert rows["lines"] == [(line_ids[n], skus[n], 2, 2 * (1000 + n) - 10 * (n + 1)) for n in range(count)]
    assert rows["adjustments"] == [(line_ids[n], "per_line", -10 * (n + 1)) for n in range(count)] + [
        (None, "per_order", -7)
    ]
    assert [(a["line_id"], a["code"], a["amount"]) for a in order["adjustments"]] == rows["adjustments"]
    assert rows["events"] == ["placed"]
    assert rows["ledger"] == [(sku, -2, "reserve") for sku in skus]
    assert _stock(deals_app, shop, skus) == [17] + [18] * (count - 1)


def test_an_order_number_taken_a_moment_ago_gets_another_and_nothing_twice(deals_app, shop, monkeypatch):
    """The order number's random part can repeat within a second (busy stores do): the order is
    written under another number — not a 500, and no stock, line or ledger row written twice."""
    from mallow.orders import checkout

    client = deals_app.test_client()
    token, address = make_shopper(client, shop)
    skus = _skus(deals_app, shop, 2)
    numbers = iter(["20261206120000000001", "20261206120000000001", "20261206120000000002"])
    monkeypatch.setattr(checkout, "_order_number", lambda: next(numbers))

    first, _seen = _order(client, shop, token, address, skus)
    second, seen = _order(client, shop, token, address, skus)

    assert first.status_code == 201 and second.status_code == 201, second.get_json()
    assert first.get_json()["number"] == "20261206120000000001"
    assert second.get_json()["number"] == "20261206120000000002"
    assert len(seen) == STATEMENTS[deals_app.mallow_backend] + 1, listing(seen)  # the order's INSERT again
    assert _stock(deals_app, shop, skus) == [18, 18]
    for answer in (first, second):
        rows = _rows(deals_app, shop, answer.get_json()["id"])
        assert rows["ledger"] == [(sku, -1, "reserve") for sku in skus]
        assert len(rows["lines"]) == 2 and len(rows["adjustments"]) == 3 and rows["events"] == ["placed"]


@pytest.mark.parametrize("deals_app", ["postgresql"], indirect=True)
def test_the_placement_statement_is_short_enough_for_psycopg_to_keep_it_prepared(deals_app, shop):
    """psycopg keeps a statement's converted SQL (and so its server-side prepared plan's key)
    only up to 4,096 characters and 50 parameters; above, it parses the SQL on every order. The
    one write must stay under both, for a store whose schema name has ten digits too."""
    from psycopg._queries import MAX_CACHED_STATEMENT_LENGTH, MAX_CACHED_STATEMENT_PARAMS

    client = deals_app.test_client()
    token, address = make_shopper(client, shop)
    skus = _skus(deals_app, shop, 3)
    response, seen = _order(client, shop, token, address, skus)
    assert response.status_code == 201, response.get_json()

    writes = [s for s in seen if "INSERT INTO" in s]
    assert len(writes) == 2, listing(seen)  # the order's, and its stock's with the COMMIT
    for write in writes:
        longest = write.replace(f"store_{shop.store_id}.", "store_9999999999.")
        assert len(longest) <= MAX_CACHED_STATEMENT_LENGTH, len(longest)
        assert longest.count("%(") <= MAX_CACHED_STATEMENT_PARAMS

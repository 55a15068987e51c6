"""All or nothing on PostgreSQL, where one statement writes the whole order (issue 13): the stock
of every line, the ledger, the order, its timeline entry, its lines and adjustments. When a line
is short — or a plugin's ``mallow_order_placed`` refuses after that statement — the shopper is
told, and the database holds nothing of the order: no order, no line, no ledger row, and every
line's stock as it was, the lines before the short one included."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from mallow.testing import HAVE_POSTGRES, bearer, dispose_app, enable_plugin, make_product, make_shopper, make_store
from mallow.testing import plugin_app
from mallow.testing.builders import build_plugin

REFUSER = """
from mallow.sdk import Adjustment, CheckoutProblems, Problem, hookimpl


@hookimpl
def mallow_order_adjustments(context, subtotal):
    return [Adjustment("order", "placement_refuser", "welcome", "新客立减", -5)]


@hookimpl
def mallow_order_placed(order, context):
    if (context.options or {}).get("refuse"):
        assert order.id and [line.id for line in order.lines]  # it sees the order as written
        raise CheckoutProblems([Problem("placement_refused", "不卖了")])
"""

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not HAVE_POSTGRES, reason="PostgreSQL is not running"),
]


@pytest.fixture(scope="module")
def pg_app(tmp_path_factory):
    with build_plugin(tmp_path_factory) as plugins:
        plugins.add("placement_refuser", REFUSER, title={"zh_CN": "拒单插件", "en": "Refuser"}, permissions=["pricing"])
        app = plugin_app(tmp_path_factory, "postgresql", ["placement_refuser"])
        yield app
        dispose_app(app)


@pytest.fixture
def shop(pg_app):
    shop = make_store(pg_app)
    enable_plugin(pg_app, shop, "placement_refuser")
    return shop


def _skus(app, shop, stocks: list[int]) -> list[int]:
    return [make_product(app, shop, title=f"山核桃 {n}", price=1500, stock=s)[0] for n, s in enumerate(stocks)]


def _stock(app, shop, skus):
    from mallow.catalog.models import Sku
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        return [db.session.get(Sku, sku).stock for sku in skus]


def _counts(app, shop) -> dict[str, int]:
    """Rows of every table an order writes, in the store."""
    from mallow.db import db
    from mallow.inventory.models import StockMovement
    from mallow.orders.models import Order, OrderAdjustment, OrderEvent, OrderLine
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        return {
            model.__tablename__: db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar()
            for model in (Order, OrderLine, OrderAdjustment, OrderEvent, StockMovement)
        }


NOTHING = {"orders": 0, "order_lines": 0, "order_adjustments": 0, "order_events": 0, "stock_movements": 0}


def test_the_second_line_short_of_stock_leaves_nothing_and_the_first_lines_stock_untouched(pg_app, shop):
    client = pg_app.test_client()
    token, address = make_shopper(client, shop)
    first, scarce, last = skus = _skus(pg_app, shop, [10, 1, 10])
    items = [{"sku_id": sku, "quantity": 2} for sku in skus]

    response = client.post(
        f"{shop.prefix}/api/orders", headers=bearer(token), json={"items": items, "address_id": address}
    )

    assert response.status_code == 409, response.get_json()
    assert response.get_json()["error"] == "sold_out" and response.get_json()["sku_id"] == scarce
    assert _stock(pg_app, shop, skus) == [10, 1, 10]
    assert _counts(pg_app, shop) == NOTHING
    # and the shopper can still buy what there is: the refusal held no lock, left no row behind
    items[1]["quantity"] = 1
    placed = client.post(
        f"{shop.prefix}/api/orders", headers=bearer(token), json={"items": items, "address_id": address}
    )
    assert placed.status_code == 201, placed.get_json()
    assert _stock(pg_app, shop, skus) == [8, 0, 8]
    assert _counts(pg_app, shop) == {
        "orders": 1,
        "order_lines": 3,
        "order_adjustments": 1,
        "order_events": 1,
        "stock_movements": 3,
    }


def test_a_plugin_refusing_after_the_write_leaves_nothing(pg_app, shop):
    """``mallow_order_placed`` runs after the one statement, in its transaction: it sees the
    order and its lines with their ids, and when it refuses, all of it is rolled back."""
    client = pg_app.test_client()
    token, address = make_shopper(client, shop)
    skus = _skus(pg_app, shop, [5, 5])
    body = {"items": [{"sku_id": sku, "quantity": 1} for sku in skus], "address_id": address}

    refused = client.post(
        f"{shop.prefix}/api/orders", headers=bearer(token), json={**body, "options": {"refuse": True}}
    )

    assert refused.status_code == 422, refused.get_json()
    assert [p["code"] for p in refused.get_json()["problems"]] == ["placement_refused"]
    assert _stock(pg_app, shop, skus) == [5, 5]
    assert _counts(pg_app, shop) == NOTHING


def test_the_skus_are_not_locked_while_the_plugins_hooks_run(pg_app, shop, monkeypatch):
    """Every order of a best seller updates the same SKU rows, and an order holds their row locks
    until its transaction ends. The stock is taken by the transaction's last statement, sent with
    the COMMIT: while ``mallow_order_placed`` runs (and SQLAlchemy's commit after it), another
    transaction can still lock those rows at once as its stock ``UPDATE`` would (``FOR NO KEY
    UPDATE``: the order's new lines hold only the key-share locks of their foreign keys). Then the units are taken, the ledger written,
    and a second order of the same SKUs works as the first."""
    from mallow.orders import checkout

    client = pg_app.test_client()
    token, address = make_shopper(client, shop)
    skus = _skus(pg_app, shop, [5, 5])
    body = {"items": [{"sku_id": sku, "quantity": 2} for sku in skus], "address_id": address}
    probe = sa.create_engine(pg_app.config["SQLALCHEMY_DATABASE_URI"])
    locked_during_hooks = []
    call_hook = checkout.call_hook

    def probing(caller, *args, **kwargs):
        if "order" in kwargs:  # mallow_order_placed
            with probe.connect() as other:
                other.exec_driver_sql("SET lock_timeout = '50ms'")
                try:
                    other.execute(
                        sa.text(f"SELECT id FROM store_{shop.store_id}.skus WHERE id = ANY(:ids) FOR NO KEY UPDATE"),
                        {"ids": skus},
                    ).all()
                    locked_during_hooks.append(False)
                except sa.exc.OperationalError:
                    locked_during_hooks.append(True)
                other.rollback()
        return call_hook(caller, *args, **kwargs)

    monkeypatch.setattr(checkout, "call_hook", probing)
    try:
        for _ in range(2):
            placed = client.post(f"{shop.prefix}/api/orders", headers=bearer(token), json=body)
            assert placed.status_code == 201, placed.get_json()
    finally:
        probe.dispose()

    assert locked_during_hooks == [False, False]
    assert _stock(pg_app, shop, skus) == [1, 1]
    counts = _counts(pg_app, shop)
    assert (counts["orders"], counts["order_lines"], counts["stock_movements"]) == (2, 4, 4)


def test_an_order_taking_the_last_units_moves_the_stores_stamp(pg_app, shop):
    """Pages kept under the store's stamp show a SKU on sale: the order that sells it out moves
    the stamp when it commits (the stock taken with the COMMIT says so before the session's
    after-commit work), an order that leaves units does not."""
    from mallow.tenants import stamps

    client = pg_app.test_client()
    token, address = make_shopper(client, shop)
    [sku] = _skus(pg_app, shop, [3])

    def buy(quantity: int):
        placed = client.post(
            f"{shop.prefix}/api/orders",
            headers=bearer(token),
            json={"items": [{"sku_id": sku, "quantity": quantity}], "address_id": address},
        )
        assert placed.status_code == 201, placed.get_json()
        with pg_app.app_context():
            return stamps.current(shop.store_id)

    with pg_app.app_context():
        before = stamps.current(shop.store_id)
    assert buy(1) == before  # units left: the pages stand
    assert buy(2) != before  # sold out: they go
    assert _stock(pg_app, shop, [sku]) == [0]

"""The PostgreSQL connection dropped in the middle of checkout (issue 15, faults survived).

The request's own backend is ended from a second connection (``pg_terminate_backend``: what an
operator, a failover or an OOM kill does) after every row of the order is written — stock
taken, the coupon locked, the points spent — and before the commit. The server rolls the
transaction back; the shopper is told 503 "busy, nothing was saved, try again" (JSON for the API,
a page in words for the storefront, ``Retry-After``), never a 500; the database holds nothing of
the attempt; and the very next request succeeds on the same app, without a restart: the dead
connection was invalidated, and a connection the server dropped while it idled in the pool is
discarded by the checkout check before it serves anyone.

On the shared server: only this module's own database's backends are ended.
"""

from __future__ import annotations

import logging
import re

import pytest
import sqlalchemy as sa

from mallow.testing import (
    HAVE_POSTGRES,
    bearer,
    build_app,
    dispose_app,
    make_product,
    make_shopper,
    make_store,
    merchant_token,
    post_form,
    register_shopper,
)
from mallow.testing.faults_pg import BackendKiller, terminate_session_backend

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not HAVE_POSTGRES, reason="PostgreSQL is not running"),
]

BUSY_ZH = "店铺此刻繁忙，没有保存任何内容，请稍后再试。"


@pytest.fixture(scope="module")
def pg_app(tmp_path_factory):
    app = build_app(tmp_path_factory, "postgresql")
    killer = BackendKiller(app.config["SQLALCHEMY_DATABASE_URI"]).install(app)
    app.mallow_killer = killer
    app.mallow_kill_after_answer = []

    @app.after_request
    def kill_after_answer(response):
        """Armed: the answer is made, then the backend goes, before the session is closed."""
        if app.mallow_kill_after_answer:
            app.mallow_kill_after_answer.pop()
            terminate_session_backend(app.config["SQLALCHEMY_DATABASE_URI"])
        return response

    yield app
    killer.uninstall(app)
    dispose_app(app)


@pytest.fixture
def killer(pg_app) -> BackendKiller:
    pg_app.mallow_killer.arm(0)
    yield pg_app.mallow_killer
    pg_app.mallow_killer.arm(0)


def _in_store(app, shop, fn):
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        return fn()


def _state(app, shop, sku: int, customer_id: int) -> dict:
    """What a checkout writes: orders and their rows, the SKU's stock, the shopper's coupons and points."""
    from mallow.catalog.models import Sku
    from mallow.coupons.models import CustomerCoupon
    from mallow.db import db
    from mallow.inventory.models import StockMovement
    from mallow.membership.models import Member, PointEntry
    from mallow.orders.models import Order, OrderAdjustment, OrderLine

    def read():
        count = lambda model: db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar()  # noqa: E731
        return {
            "orders": count(Order),
            "order_lines": count(OrderLine),
            "order_adjustments": count(OrderAdjustment),
            "stock_movements": count(StockMovement),
            "stock": db.session.get(Sku, sku).stock,
            "coupons": sorted(
                db.session.execute(
                    sa.select(CustomerCoupon.status).where(CustomerCoupon.customer_id == customer_id)
                ).scalars()
            ),
            "points": getattr(db.session.get(Member, customer_id), "balance", 0),
            "point_entries": count(PointEntry),
        }

    return _in_store(app, shop, read)


def _newest_customer(app, shop) -> int:
    from mallow.accounts.models import Customer
    from mallow.db import db

    return int(_in_store(app, shop, lambda: db.session.execute(sa.select(sa.func.max(Customer.id))).scalar()))


def _shop_with_coupon_and_points(app):
    """A store running points (all may be redeemed), a 满100减10 coupon, a shopper who claimed it
    and holds 1,000 points, and a SKU at ¥60 with 10 in stock."""
    client = app.test_client()
    shop = make_store(app)
    mtoken = merchant_token(client, shop)
    console = f"{shop.prefix}/api/console"
    program = client.patch(
        f"{console}/membership/program", headers=bearer(mtoken), json={"enabled": True, "redeem_cap_percent": 100}
    )
    assert program.status_code == 200, program.get_json()
    token, address = make_shopper(client, shop)
    customer = _newest_customer(app, shop)
    given = client.post(
        f"{console}/membership/members/{customer}/points",
        headers=bearer(mtoken),
        json={"points": 1000, "reason": "客服补偿"},
    )
    assert given.status_code == 201, given.get_json()
    [sku] = make_product(app, shop, price=6000, stock=10)
    coupon = client.post(
        f"{console}/coupons",
        headers=bearer(mtoken),
        json={
            "name": "满100减10",
            "kind": "amount_off",
            "threshold_fen": 10000,
            "amount_fen": 1000,
            "total_quantity": 100,
            "starts_at": "2020-01-01T00:00:00+00:00",
            "ends_at": "2099-01-01T00:00:00+00:00",
            "status": "active",
        },
    )
    assert coupon.status_code == 201, coupon.get_json()
    held = client.post(f"{shop.prefix}/api/coupons/{coupon.get_json()['id']}/claim", headers=bearer(token))
    assert held.status_code == 201, held.get_json()
    return client, shop, token, address, customer, sku, held.get_json()["id"]


def test_an_api_checkout_whose_connection_drops_answers_503_and_writes_nothing(pg_app, killer, caplog):
    client, shop, token, address, customer, sku, holding = _shop_with_coupon_and_points(pg_app)
    before = _state(pg_app, shop, sku, customer)
    assert before["stock"] == 10 and before["coupons"] == ["available"] and before["points"] == 1000
    body = {
        "items": [{"sku_id": sku, "quantity": 2}],
        "address_id": address,
        "options": {"coupon": holding, "points": 300},
    }
    killer.arm()

    with caplog.at_level(logging.WARNING, logger="mallow.web"):
        dropped = client.post(f"{shop.prefix}/api/orders", headers=bearer(token), json=body)

    assert killer.killed and killer.armed == 0  # the backend really was ended mid-transaction
    assert dropped.status_code == 503, dropped.get_data(as_text=True)[:500]
    assert dropped.headers["Retry-After"] == "3"
    assert dropped.get_json() == {"error": "busy", "message": BUSY_ZH}
    # the operator sees a warning naming the request, not a 500's traceback
    assert any("database unavailable on" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR and r.name == "mallow.web"]
    assert _state(pg_app, shop, sku, customer) == before  # no order, no stock taken, coupon free, points kept

    # the next request, on the same app: placed, with the coupon and the points
    again = client.post(f"{shop.prefix}/api/orders", headers=bearer(token), json=body)

    assert again.status_code == 201, again.get_json()
    stages = {a["stage"]: a["amount"] for a in again.get_json()["adjustments"]}
    assert stages["coupon"] == -1000 and stages["points"] < 0
    after = _state(pg_app, shop, sku, customer)
    assert after["orders"] == 1 and after["stock"] == 8
    assert after["coupons"] == ["locked"] and after["points"] == 700


def test_a_storefront_checkout_whose_connection_drops_shows_a_try_again_page_and_the_same_form_places_once(
    pg_app, killer
):
    app = pg_app
    shop = make_store(app)
    [sku] = make_product(app, shop, price=2500, stock=5)
    client = app.test_client()
    register_shopper(client, shop)
    from mallow.catalog.models import Sku
    from mallow.db import db

    product = _in_store(app, shop, lambda: db.session.get(Sku, sku).product_id)
    added = post_form(
        client,
        f"{shop.prefix}/cart/items",
        {"sku_id": sku, "quantity": 2},
        form_path=f"{shop.prefix}/products/{product}",
    )
    assert added.status_code == 303
    page = client.get(f"{shop.prefix}/checkout").get_data(as_text=True)
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page))
    form.update(
        address_id="new",
        recipient="王五",
        phone="13700001111",
        province="浙江省",
        city="杭州市",
        district="余杭区",
        detail="文一西路 969 号",
    )
    customer = _newest_customer(app, shop)
    before = _state(app, shop, sku, customer)
    killer.arm()

    dropped = client.post(f"{shop.prefix}/checkout", data=form)

    assert killer.killed and killer.armed == 0
    assert dropped.status_code == 503 and dropped.mimetype == "text/html"
    assert dropped.headers["Retry-After"] == "3"
    assert "繁忙" in dropped.get_data(as_text=True)
    assert _state(app, shop, sku, customer) == before  # not even the new address's order

    # the shopper submits the same page again: one order, on to the cashier
    placed = client.post(f"{shop.prefix}/checkout", data=form)

    assert placed.status_code == 303, placed.get_data(as_text=True)[:800]
    assert re.search(r"/orders/\d+/pay$", placed.headers["Location"])
    after = _state(app, shop, sku, customer)
    assert after["orders"] == 1 and after["stock"] == 3
    assert client.post(f"{shop.prefix}/checkout", data=form).headers["Location"] == placed.headers["Location"]


def test_connections_the_server_dropped_while_idle_in_the_pool_never_reach_a_request(pg_app):
    """Every pooled connection of the app is ended while idle (a server restart's, an idle
    timeout's or an operator's doing): the next requests are answered at once, because the
    checkout check (the pool's liveness check) discards each dead connection and connects anew."""
    from mallow.db import db

    client = pg_app.test_client()
    shop = make_store(pg_app)
    token, address = make_shopper(client, shop)
    [sku] = make_product(pg_app, shop, price=1200, stock=5)
    # several requests at once would leave several pooled connections; one after another use one:
    # open a few by hand so the pool holds more than one when they are killed
    with pg_app.app_context():
        held = [db.engine.connect() for _ in range(3)]
        pids = [c.exec_driver_sql("SELECT pg_backend_pid()").scalar() for c in held]
        for connection in held:
            connection.close()  # back to the pool, alive
        admin = sa.create_engine(pg_app.config["SQLALCHEMY_DATABASE_URI"], poolclass=sa.pool.NullPool)
        with admin.connect() as connection:
            ended = connection.exec_driver_sql(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 10000)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).scalar()
        admin.dispose()
    assert ended >= len(set(pids))

    answers = [
        client.get(f"{shop.prefix}/api/orders", headers=bearer(token)).status_code,
        client.post(
            f"{shop.prefix}/api/orders",
            headers=bearer(token),
            json={"items": [{"sku_id": sku, "quantity": 1}], "address_id": address},
        ).status_code,
        client.get(f"{shop.prefix}/api/orders", headers=bearer(token)).status_code,
    ]

    assert answers == [200, 201, 200]


def test_a_connection_dropped_after_the_answer_was_made_does_not_turn_it_into_a_500(pg_app):
    """The server goes away between the view's answer and the request's teardown (the session's
    rollback then fails): the shopper still gets the answer, and the next request is served."""
    client = pg_app.test_client()
    shop = make_store(pg_app)
    token, _address = make_shopper(client, shop)
    pg_app.mallow_kill_after_answer.append(True)

    answered = client.get(f"{shop.prefix}/api/orders", headers=bearer(token))

    assert pg_app.mallow_kill_after_answer == []  # it was ended
    assert answered.status_code == 200 and answered.get_json()["items"] == []
    assert client.get(f"{shop.prefix}/api/orders", headers=bearer(token)).status_code == 200

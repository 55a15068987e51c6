"""The membership's facts read with the order (issue 13): a domain above orders registers what
its pricing hooks need of the shopper (``checkout.register_read``), and the order's one read
statement reads it instead of a statement of its own. The membership's registration
(``membership.pricing.LEVEL_READ``: the shopper's level and points balance) saves createOrder one
statement for a member (the level) and two for a member using points (the level and the
balance); the order, its adjustments and the points debited are exactly those of an order
placed without it.

The tests set the app's registrations for one test (``monkeypatch.setitem``), with and without
it, and place the same order both ways.
"""

from __future__ import annotations

import uuid

import pytest

from mallow.testing import bearer, make_product, make_shopper, make_store
from mallow.testing.sql import listing, statements

#: the parts of an order's answer that differ between two orders of the same items
_OWN = {"id", "number", "created_at", "pay_deadline", "at", "line_id"}


def _same_shape(value):
    if isinstance(value, dict):
        return {key: _same_shape(item) for key, item in value.items() if key not in _OWN}
    if isinstance(value, list):
        return [_same_shape(item) for item in value]
    return value


def _in_store(app, shop, func):
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        result = func()
        db.session.commit()
        return result


@pytest.fixture
def member_shop(app):
    """A store with the programme on, two levels (银卡 from 0: 9.5 折; 金卡 from 1,000: 9 折 and
    free shipping), three products and a shopper whose growth reaches 金卡, with 50,000 points."""
    from mallow.accounts.models import Customer
    from mallow.db import db
    from mallow.membership import service

    shop = make_store(app)
    client = app.test_client()
    token, address = make_shopper(client, shop)
    skus = [make_product(app, shop, title=f"会员商品 {n}", price=10_000 + n, stock=100)[0] for n in range(3)]

    def prepare():
        service.update_program({"enabled": True, "points_per_yuan": 100, "redeem_cap_percent": 50})
        service.save_level({"name": "银卡", "threshold": 0, "discount_percent": 95})
        service.save_level({"name": "金卡", "threshold": 1000, "discount_percent": 90, "free_shipping": True})
        customer_id = db.session.execute(db.select(Customer.id)).scalars().one()
        service.change_growth(customer_id, 5000)
        service.grant(customer_id, 50_000, "adjust", "开业赠送")
        return customer_id

    customer_id = _in_store(app, shop, prepare)
    return shop, client, token, address, skus, customer_id


def _order(client, shop, token, address, skus, options=None) -> tuple[dict, list[str]]:
    body = {"items": [{"sku_id": sku, "quantity": 1} for sku in skus], "address_id": address}
    if options is not None:
        body["options"] = options
    headers = bearer(token) | {"Idempotency-Key": uuid.uuid4().hex}
    with statements() as seen:
        response = client.post(f"{shop.prefix}/api/orders", headers=headers, json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json(), [s for s in seen if ".customer_sessions" not in s]


def _register(app, monkeypatch, on: bool = True) -> None:
    """The membership's read registered as ``create_app`` registers it (``app._connect_domains``),
    or none (``on=False``), for this test only."""
    from mallow.membership import pricing as membership_pricing
    from mallow.orders import checkout

    monkeypatch.setitem(app.extensions, checkout.READS, (membership_pricing.LEVEL_READ,) if on else ())


@pytest.mark.parametrize("options", [None, {"points": "max"}], ids=["level", "level-and-points"])
def test_the_level_and_balance_read_with_the_order_save_statements_and_change_nothing(
    app, member_shop, monkeypatch, options
):
    from mallow.membership import service

    shop, client, token, address, skus, customer_id = member_shop
    _register(app, monkeypatch, on=False)
    _order(client, shop, token, address, skus[:1], options)  # per-process caches warm
    without, seen_without = _order(client, shop, token, address, skus, options)
    balance_between = _in_store(app, shop, lambda: service.redeemable(customer_id, 10**9).balance)

    _register(app, monkeypatch)
    warm, _seen = _order(client, shop, token, address, skus[:1], options)  # the new read statement warm
    with_read, seen_with = _order(client, shop, token, address, skus, options)
    balance_after = _in_store(app, shop, lambda: service.redeemable(customer_id, 10**9).balance)

    saved = 2 if options else 1  # the level; with points, the balance too
    assert len(seen_with) == len(seen_without) - saved, listing(seen_with)
    assert not any("member_levels" in s for s in seen_with[1:]), listing(seen_with)  # only in the read
    assert _same_shape(with_read) == _same_shape(without)
    codes = [a["code"] for a in with_read["adjustments"]]
    assert codes.count(codes[0]) == 3 and codes[0].startswith("member_level:"), codes  # 金卡 on every line
    assert all(a["label"] == with_read["adjustments"][0]["label"] for a in with_read["adjustments"][:3])
    if options:  # the points of both orders placed with the read were debited, no more
        used = [
            int(a["code"].split(":")[1]) for o in (warm, with_read) for a in o["adjustments"] if a["stage"] == "points"
        ]
        assert len(used) == 2 and balance_after == balance_between - sum(used), (used, balance_between, balance_after)


def test_the_read_follows_the_programme_switched_off(app, member_shop, monkeypatch):
    """With the programme off the registered read is still made, and not used: no member price."""
    from mallow.membership import service

    shop, client, token, address, skus, _customer_id = member_shop
    _in_store(app, shop, lambda: service.update_program({"enabled": False}))
    _register(app, monkeypatch)
    _order(client, shop, token, address, skus[:1])  # the store's kept rows read again after the change
    order, seen = _order(client, shop, token, address, skus)
    assert [a for a in order["adjustments"] if a["stage"] == "line"] == []
    assert order["total"] == sum(10_000 + n for n in range(3))
    if app.mallow_backend == "postgresql":
        assert len(seen) == 3, listing(seen)  # the read (with the level), the write, the stock with the COMMIT


def test_a_shopper_below_every_level_gets_no_member_price(app, member_shop, monkeypatch):
    from mallow.membership import service

    shop, client, token, address, skus, _customer_id = member_shop
    _in_store(app, shop, lambda: service.save_level({"threshold": 10**8}, service.list_levels()[0]))
    _register(app, monkeypatch)
    token2, address2 = make_shopper(client, shop)  # growth 0: below both levels now
    order, _seen = _order(client, shop, token2, address2, skus)
    assert [a for a in order["adjustments"] if a["stage"] == "line"] == []


@pytest.mark.parametrize("app", ["postgresql"], indirect=True)  # psycopg's statement cache
def test_the_read_with_the_level_stays_prepared_by_psycopg(app, member_shop, monkeypatch):
    """psycopg keeps a statement's converted SQL only up to 4,096 characters and 50 parameters:
    the read with the membership's columns stays under both for a ten-digit store id."""
    from psycopg._queries import MAX_CACHED_STATEMENT_LENGTH, MAX_CACHED_STATEMENT_PARAMS

    shop, client, token, address, skus, _customer_id = member_shop
    _register(app, monkeypatch)
    _order_answer, seen = _order(client, shop, token, address, skus)
    [read] = [s for s in seen if "member_levels" in s]
    read = read.replace(f"store_{shop.store_id}.", "store_9999999999.")
    assert len(read) <= MAX_CACHED_STATEMENT_LENGTH, len(read)
    assert read.count("%(") <= MAX_CACHED_STATEMENT_PARAMS

"""Share rewards (分享有礼): the sharer gets the merchant's reward once the first order of a shopper
they brought **completes**, exactly once; never before, never for a later order, never for their
own order, never when the rule was off, never for an order refunded before it completed. A
reward coupon is the sharer's own: never in the claim centre. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from mallow.testing import bearer, make_product, make_shopper, merchant_token


def _in_store(app, shop):
    from mallow.tenants.context import store_context

    return store_context(shop.store_id, app=app)


def _me(client, shop, token) -> int:
    return client.get(f"{shop.prefix}/api/me", headers=bearer(token)).get_json()["id"]


def _set_rule(client, shop, **rule):
    body = {"enabled": True, "kind": "coupon", "amount": 500, **rule}
    answer = client.put(
        f"{shop.prefix}/api/console/share/reward", headers=bearer(merchant_token(client, shop)), json=body
    )
    assert answer.status_code == 200, answer.get_json()


def _code_of(app, shop, customer_id: int) -> str:
    from mallow.db import db
    from mallow.sharing.links import own_code

    with _in_store(app, shop):
        code = own_code(customer_id)
        db.session.commit()
    return code


def _order(client, shop, token, address, sku_id, code=None) -> int:
    body = {"items": [{"sku_id": sku_id, "quantity": 1}], "address_id": address}
    if code:
        body["options"] = {"share_ref": code}
    placed = client.post(f"{shop.prefix}/api/orders", headers=bearer(token), json=body)
    assert placed.status_code == 201, placed.get_json()
    return placed.get_json()["id"]


def _advance(app, shop, order_id: int, *steps: str) -> None:
    """Move the order on as the payment, the merchant and the timers would: ``paid``, ``shipped``,
    ``delivered``, ``completed`` (the completion hook runs), ``closed`` (a full refund)."""
    from mallow.db import db
    from mallow.orders import service
    from mallow.orders.models import Order

    with _in_store(app, shop):
        order = db.session.get(Order, order_id)
        for step in steps:
            if step == "paid":
                assert service.mark_paid(order, "test", {})
            elif step == "completed":
                service.complete(order)
            else:
                assert service.transition(order, step, "test")
        db.session.commit()


def _mine(client, shop, token) -> list[dict]:
    return client.get(f"{shop.prefix}/api/coupons/mine", headers=bearer(token)).get_json()


def _told(client, shop, token) -> list[dict]:
    listed = client.get(f"{shop.prefix}/api/me/notifications", headers=bearer(token)).get_json()
    return [item for item in listed["items"] if item["event"] == "share_reward"]


def _referral(app, shop, order_id: int):
    from mallow.db import db
    from mallow.sharing.models import ShareReferral

    with _in_store(app, shop):
        row = db.session.execute(sa.select(ShareReferral).where(ShareReferral.order_id == order_id)).scalar_one()
        db.session.expunge(row)
        return row


def _sweep(app, shop):
    from mallow.jobs.registry import execute

    return execute(app, "sharing.sweep_store", {"store_id": shop.store_id})


@pytest.fixture
def scene(share_app, shop, client):
    """A product, a sharer with their code, and a friend who has not ordered yet."""
    [sku_id] = make_product(share_app, shop, title="分享有礼测试", price=5000)
    sharer_token, sharer_address = make_shopper(client, shop)
    sharer_id = _me(client, shop, sharer_token)
    friend = share_app.test_client()
    friend_token, friend_address = make_shopper(friend, shop)
    return {
        "sku": sku_id,
        "sharer": (sharer_token, sharer_address, sharer_id),
        "code": _code_of(share_app, shop, sharer_id),
        "friend": (friend, friend_token, friend_address),
    }


def test_a_coupon_reward_is_granted_once_when_the_first_order_completes(share_app, shop, client, scene):
    from mallow.db import db
    from mallow.orders.models import Order
    from mallow.sharing import referrals, rewards

    _set_rule(client, shop, kind="coupon", amount=500)
    sharer_token, _address, _sharer_id = scene["sharer"]
    friend, friend_token, friend_address = scene["friend"]
    first = _order(friend, shop, friend_token, friend_address, scene["sku"], scene["code"])

    _advance(share_app, shop, first, "paid", "shipped", "delivered")
    assert _mine(client, shop, sharer_token) == [] and _told(client, shop, sharer_token) == []  # not yet

    _advance(share_app, shop, first, "completed")
    [held] = _mine(client, shop, sharer_token)
    assert held["status"] == "available"
    assert (held["coupon"]["kind"], held["coupon"]["amount_fen"], held["coupon"]["threshold_fen"]) == (
        "no_threshold",
        500,
        0,
    )
    with share_app.test_request_context():
        assert held["coupon"]["description"] == rewards.reason()
    [message] = _told(client, shop, sharer_token)
    assert "5" in message["body"]
    row = _referral(share_app, shop, first)
    assert (row.reward_kind, row.reward_amount, row.reward_ref) == ("coupon", 500, held["id"])
    assert row.rewarded_at is not None

    # completing again, the hook called again, the sweep job run twice (a retry): still one
    with _in_store(share_app, shop):
        order = db.session.get(Order, first)
        referrals.mallow_order_completed(order)
        rewards.grant(db.session.get(type(row), row.id))
        db.session.commit()
    _advance(share_app, shop, first, "completed")
    _sweep(share_app, shop)
    _sweep(share_app, shop)
    assert len(_mine(client, shop, sharer_token)) == 1 and len(_told(client, shop, sharer_token)) == 1

    # the reward coupon is the sharer's own: not in the claim centre, not claimable, not in the console
    assert all(c["id"] != held["coupon"]["id"] for c in client.get(f"{shop.prefix}/api/coupons/claimable").get_json())
    other_token, _ = make_shopper(client, shop)
    claimed = client.post(f"{shop.prefix}/api/coupons/{held['coupon']['id']}/claim", headers=bearer(other_token))
    assert claimed.status_code == 404
    console = client.get(f"{shop.prefix}/api/console/coupons", headers=bearer(merchant_token(client, shop)))
    assert all(c["id"] != held["coupon"]["id"] for c in console.get_json())

    # a rule changed later changes nothing granted
    _set_rule(client, shop, kind="points", amount=9)
    row = _referral(share_app, shop, first)
    assert (row.reward_kind, row.reward_amount) == ("coupon", 500)


def test_nothing_for_a_later_order_an_own_order_or_while_the_rule_is_off(share_app, shop, client, scene):
    sharer_token, sharer_address, sharer_id = scene["sharer"]
    friend, friend_token, friend_address = scene["friend"]
    _set_rule(client, shop, enabled=False, amount=0)

    first = _order(friend, shop, friend_token, friend_address, scene["sku"], scene["code"])
    _advance(share_app, shop, first, "paid", "shipped", "delivered", "completed")
    row = _referral(share_app, shop, first)
    assert row.completed_at is not None and row.reward_kind is None and row.rewarded_at is None
    _set_rule(client, shop, kind="coupon", amount=500)  # turned on after the completion: nothing due
    _sweep(share_app, shop)
    assert _mine(client, shop, sharer_token) == [] and _told(client, shop, sharer_token) == []

    # the friend's second order is not a first order; the sharer's own order is no referral
    second = _order(friend, shop, friend_token, friend_address, scene["sku"], scene["code"])
    own = _order(client, shop, sharer_token, sharer_address, scene["sku"], scene["code"])
    for order_id in (second, own):
        _advance(share_app, shop, order_id, "paid", "shipped", "delivered", "completed")
    _sweep(share_app, shop)
    assert _mine(client, shop, sharer_token) == [] and _told(client, shop, sharer_token) == []

    from mallow.db import db
    from mallow.sharing.models import ShareReferral

    with _in_store(share_app, shop):
        assert db.session.execute(sa.select(sa.func.count()).select_from(ShareReferral)).scalar() == 1
        assert (
            db.session.execute(
                sa.select(sa.func.count()).select_from(ShareReferral).where(ShareReferral.sharer_id == sharer_id)
            ).scalar()
            == 1
        )


def test_an_order_refunded_before_it_completes_never_rewards(share_app, shop, client, scene):
    _set_rule(client, shop, kind="coupon", amount=300)
    sharer_token, _address, _sharer_id = scene["sharer"]
    friend, friend_token, friend_address = scene["friend"]
    first = _order(friend, shop, friend_token, friend_address, scene["sku"], scene["code"])
    _advance(share_app, shop, first, "paid", "shipped", "closed")  # refunded in full
    _advance(share_app, shop, first, "completed")  # cannot complete any more
    _sweep(share_app, shop)
    row = _referral(share_app, shop, first)
    assert row.completed_at is None and row.rewarded_at is None
    assert _mine(client, shop, sharer_token) == [] and _told(client, shop, sharer_token) == []


def test_a_grant_that_fails_at_completion_is_granted_once_by_the_sweep(share_app, shop, client, scene, monkeypatch):
    from mallow.coupons import service as coupons

    _set_rule(client, shop, kind="coupon", amount=800)
    sharer_token, _address, _sharer_id = scene["sharer"]
    friend, friend_token, friend_address = scene["friend"]
    first = _order(friend, shop, friend_token, friend_address, scene["sku"], scene["code"])
    real = coupons.grant_reward

    def broken(*args, **kwargs):
        raise RuntimeError("the coupons are away")

    monkeypatch.setattr(coupons, "grant_reward", broken)
    _advance(share_app, shop, first, "paid", "shipped", "delivered", "completed")
    from mallow.orders.models import Order
    from mallow.db import db

    with _in_store(share_app, shop):
        assert db.session.get(Order, first).status == "completed"  # the completion stands
    row = _referral(share_app, shop, first)
    assert row.reward_kind == "coupon" and row.rewarded_at is None
    assert _mine(client, shop, sharer_token) == []

    _set_rule(client, shop, enabled=False, amount=0)  # what was due at completion stays due
    monkeypatch.setattr(coupons, "grant_reward", real)
    _sweep(share_app, shop)
    _sweep(share_app, shop)  # the job retried
    [held] = _mine(client, shop, sharer_token)
    assert held["coupon"]["amount_fen"] == 800
    assert len(_told(client, shop, sharer_token)) == 1


def test_a_points_reward_goes_into_the_sharers_points_ledger(share_app, shop, client, scene):
    from mallow.membership import service as membership

    _set_rule(client, shop, kind="points", amount=200)
    sharer_token, _address, sharer_id = scene["sharer"]
    friend, friend_token, friend_address = scene["friend"]
    first = _order(friend, shop, friend_token, friend_address, scene["sku"], scene["code"])
    _advance(share_app, shop, first, "paid", "shipped", "delivered", "completed")
    _advance(share_app, shop, first, "completed")
    _sweep(share_app, shop)
    from mallow.sharing import rewards

    with _in_store(share_app, shop):
        entries, _total = membership.ledger(sharer_id)
        rewarded = [e for e in entries if e.kind == "reward"]
        assert [(e.points, e.order_id, e.reason) for e in rewarded] == [(200, first, rewards.reason())]
    assert _referral(share_app, shop, first).reward_ref == rewarded[0].id
    [message] = _told(client, shop, sharer_token)
    assert "200" in message["body"]


def test_my_invitations_shows_masked_buyers_their_status_and_the_reward(share_app, shop, client):
    from mallow.testing import register_shopper

    _set_rule(client, shop, kind="coupon", amount=500)
    [sku_id] = make_product(share_app, shop, title="邀请列表测试", price=3000)
    sharer = share_app.test_client()
    register_shopper(sharer, shop)
    code = sharer.get(f"{shop.prefix}/share/link/product/{_product_of(share_app, shop, sku_id)}").get_json()["code"]
    logins, orders = [], []
    for _index in range(2):
        friend = share_app.test_client()
        login = f"friend-{_index}-x@example.com"
        token, address = make_shopper(friend, shop, login)
        logins.append(login)
        orders.append(_order(friend, shop, token, address, sku_id, code))
    _advance(share_app, shop, orders[0], "paid", "shipped", "delivered", "completed")

    page = sharer.get(f"{shop.prefix}/account/invitations")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count('data-status="rewarded"') == 1 and html.count('data-status="pending"') == 1
    assert "¥5" in html and 'id="invitation-rule"' in html
    assert all(login not in html and login.split("@")[0] not in html for login in logins)  # never who
    account = sharer.get(f"{shop.prefix}/account").get_data(as_text=True)
    assert f'href="{shop.prefix}/account/invitations"' in account
    assert share_app.test_client().get(f"{shop.prefix}/account/invitations").status_code in (302, 303)


def _product_of(app, shop, sku_id: int) -> int:
    from mallow.catalog.models import Sku
    from mallow.db import db

    with _in_store(app, shop):
        return db.session.get(Sku, sku_id).product_id

"""After-sales: refund-only and return-and-refund, decided by the merchant or by the timer, with
photos; stock returns only when goods come back; every step is on the order's timeline."""

from __future__ import annotations

from datetime import datetime, timedelta, UTC

import pytest

from mallow.testing.payments import pay_with_sandbox, place_order
from mallow.testing import bearer, image_upload, make_product, make_shopper, make_store, merchant_token, png_bytes


def _setup(app, *, price=1500, quantity=2, stock=10, ship=True, confirm=True):
    shop = make_store(app)
    client = app.test_client()
    [sku] = make_product(app, shop, price=price, stock=stock)
    token, address = make_shopper(client, shop)
    order = place_order(client, shop, token, address, sku, quantity)
    pay_with_sandbox(client, shop, token, order["id"])
    mtoken = merchant_token(client, shop)
    if ship:
        assert (
            client.post(
                f"{shop.prefix}/api/console/orders/{order['id']}/ship",
                headers=bearer(mtoken),
                json={"carrier": "中通快递", "tracking_number": "ZT778899"},
            ).status_code
            == 200
        )
    if ship and confirm:
        assert client.post(f"{shop.prefix}/api/orders/{order['id']}/confirm", headers=bearer(token)).status_code == 200
    return shop, client, token, mtoken, sku, order


def _stock(app, shop, sku):
    from mallow.orders.checkout import sku_stock
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        return sku_stock(sku)


def _timeline(client, shop, token, order_id):
    return [
        e["kind"]
        for e in client.get(f"{shop.prefix}/api/orders/{order_id}", headers=bearer(token)).get_json()["timeline"]
    ]


def _ask(client, shop, token, order_id, **body):
    return client.post(
        f"{shop.prefix}/api/orders/{order_id}/aftersales",
        headers=bearer(token),
        json={"kind": "refund_only", "reason": "质量问题"} | body,
    )


def test_return_and_refund_brings_the_stock_back_and_closes_the_order(app):
    shop, client, token, mtoken, sku, order = _setup(app)
    assert _stock(app, shop, sku) == 8
    asked = _ask(client, shop, token, order["id"], kind="return_refund", reason="尺码不合适")
    assert asked.status_code == 201
    aftersale = asked.get_json()
    console = f"{shop.prefix}/api/console/aftersales/{aftersale['id']}"
    # Goods cannot be confirmed back before the merchant approved the return.
    assert client.post(f"{console}/confirm-return", headers=bearer(mtoken)).status_code == 409
    approved = client.post(f"{console}/decision", headers=bearer(mtoken), json={"approve": True}).get_json()
    assert approved["status"] == "approved" and approved["refunds"] == []  # no money before the goods are back
    listed = client.get(f"{shop.prefix}/api/console/aftersales?status=approved", headers=bearer(mtoken)).get_json()
    assert [a["id"] for a in listed["items"]] == [aftersale["id"]]

    missing = client.post(
        f"{shop.prefix}/api/aftersales/{aftersale['id']}/return",
        headers=bearer(token),
        json={"carrier": "", "tracking_number": ""},
    )
    assert missing.status_code == 422 and {"carrier", "tracking_number"} <= set(missing.get_json()["fields"])
    sent = client.post(
        f"{shop.prefix}/api/aftersales/{aftersale['id']}/return",
        headers=bearer(token),
        json={"carrier": "顺丰速运", "tracking_number": "SF0001112223"},
    )
    assert sent.status_code == 200 and sent.get_json()["return_tracking_number"] == "SF0001112223"
    assert _stock(app, shop, sku) == 8

    back = client.post(f"{console}/confirm-return", headers=bearer(mtoken))
    assert back.status_code == 200, back.get_json()
    assert back.get_json()["status"] == "refunded"
    assert _stock(app, shop, sku) == 10
    # Confirming again changes nothing (and the stock is never returned twice).
    assert client.post(f"{console}/confirm-return", headers=bearer(mtoken)).status_code == 409
    assert _stock(app, shop, sku) == 10
    final = client.get(f"{shop.prefix}/api/orders/{order['id']}", headers=bearer(token)).get_json()
    assert final["status"] == "closed" and final["refunded_total"] == final["total"] == 3000
    kinds = _timeline(client, shop, token, order["id"])
    for kind in (
        "aftersale_requested",
        "aftersale_approved",
        "return_shipped",
        "return_received",
        "refund_requested",
        "refunded",
        "aftersale_refunded",
        "closed",
    ):
        assert kind in kinds, (kind, kinds)


def test_rejection_needs_a_reason_and_a_new_request_can_follow(app):
    shop, client, token, mtoken, sku, order = _setup(app)
    first = _ask(client, shop, token, order["id"], amount=1000).get_json()
    assert first["amount"] == 1000
    assert _ask(client, shop, token, order["id"]).status_code == 409  # one open request at a time
    decision = f"{shop.prefix}/api/console/aftersales/{first['id']}/decision"
    no_reason = client.post(decision, headers=bearer(mtoken), json={"approve": False})
    assert no_reason.status_code == 422 and "reason" in no_reason.get_json()["fields"]
    rejected = client.post(decision, headers=bearer(mtoken), json={"approve": False, "reason": "商品完好，不支持退款"})
    assert rejected.get_json()["status"] == "rejected"
    assert rejected.get_json()["merchant_reason"] == "商品完好，不支持退款"
    assert client.post(decision, headers=bearer(mtoken), json={"approve": True}).status_code == 409
    mine = client.get(f"{shop.prefix}/api/aftersales/{first['id']}", headers=bearer(token)).get_json()
    assert mine["merchant_reason"] == "商品完好，不支持退款"

    second = _ask(client, shop, token, order["id"], amount=1000)
    assert second.status_code == 201
    withdrawn = client.post(f"{shop.prefix}/api/aftersales/{second.get_json()['id']}/withdraw", headers=bearer(token))
    assert withdrawn.status_code == 200 and withdrawn.get_json()["status"] == "withdrawn"
    assert (
        client.post(
            f"{shop.prefix}/api/aftersales/{second.get_json()['id']}/withdraw", headers=bearer(token)
        ).status_code
        == 409
    )
    kinds = _timeline(client, shop, token, order["id"])
    assert kinds.count("aftersale_requested") == 2 and "aftersale_rejected" in kinds and "aftersale_withdrawn" in kinds
    assert (
        client.get(f"{shop.prefix}/api/orders/{order['id']}", headers=bearer(token)).get_json()["status"] == "delivered"
    )
    mine = client.get(f"{shop.prefix}/api/aftersales", headers=bearer(token)).get_json()["items"]
    assert [a["status"] for a in mine] == ["withdrawn", "rejected"]


def test_partial_refund_only_leaves_the_order_open(app):
    shop, client, token, mtoken, sku, order = _setup(app, ship=False)
    assert _ask(client, shop, token, order["id"], kind="return_refund").status_code == 422  # nothing shipped yet
    asked = _ask(client, shop, token, order["id"], amount=1200).get_json()
    done = client.post(
        f"{shop.prefix}/api/console/aftersales/{asked['id']}/decision", headers=bearer(mtoken), json={"approve": True}
    ).get_json()
    assert done["status"] == "refunded"
    after = client.get(f"{shop.prefix}/api/orders/{order['id']}", headers=bearer(token)).get_json()
    assert after["status"] == "paid" and after["refunded_total"] == 1200
    too_much = _ask(client, shop, token, order["id"], amount=1801)
    assert too_much.status_code == 422 and "amount" in too_much.get_json()["fields"]
    rest = _ask(client, shop, token, order["id"]).get_json()
    assert rest["amount"] == 1800  # the default: all that is left
    assert _stock(app, shop, sku) == 8  # refund only: the goods (and the stock) stay where they are


def test_eligibility_and_the_after_sales_window(app):
    from mallow.db import db
    from mallow.orders.models import Order
    from mallow.tenants.context import store_context

    shop = make_store(app)
    client = app.test_client()
    [sku] = make_product(app, shop, price=800, stock=5)
    token, address = make_shopper(client, shop)
    unpaid = place_order(client, shop, token, address, sku)
    refused = _ask(client, shop, token, unpaid["id"])
    assert refused.status_code == 409 and refused.get_json()["error"] == "not_eligible"
    bad = client.post(
        f"{shop.prefix}/api/orders/{unpaid['id']}/aftersales",
        headers=bearer(token),
        json={"kind": "exchange", "reason": ""},
    )
    assert bad.status_code == 422 and {"kind", "reason"} <= set(bad.get_json()["fields"])

    shop2, client2, token2, mtoken2, sku2, order2 = _setup(app)
    with store_context(shop2.store_id, app=app):
        row = db.session.get(Order, order2["id"])
        row.delivered_at = datetime.now(UTC) - timedelta(days=8)  # the window is 7 days
        db.session.commit()
    late = _ask(client2, shop2, token2, order2["id"])
    assert late.status_code == 409 and late.get_json()["error"] == "window_over"
    # Another shopper's order is not found; another store's merchant is refused.
    other_token, _ = make_shopper(client2, shop2)
    assert _ask(client2, shop2, other_token, order2["id"]).status_code == 404
    outsider = merchant_token(client2, shop)
    assert client2.get(f"{shop2.prefix}/api/console/aftersales", headers=bearer(outsider)).status_code == 403


def test_refund_only_is_approved_automatically_when_the_merchant_does_nothing(app):
    from mallow.jobs.registry import execute

    shop, client, token, mtoken, sku, order = _setup(app, confirm=False)
    asked = _ask(client, shop, token, order["id"]).get_json()
    decide_by = datetime.fromisoformat(asked["decide_by"])
    created = datetime.fromisoformat(asked["created_at"])
    assert round((decide_by - created).total_seconds() / 3600) == 48
    early = execute(
        app,
        "aftersales.sweep_store",
        {"store_id": shop.store_id, "now": (decide_by - timedelta(minutes=1)).isoformat()},
    )
    assert early == {"approved": 0, "refunds_made": 0}
    swept = execute(app, "aftersales.sweep", {"now": (decide_by + timedelta(minutes=1)).isoformat()})
    assert swept[shop.store_id] == {"approved": 1, "refunds_made": 0}
    mine = client.get(f"{shop.prefix}/api/aftersales/{asked['id']}", headers=bearer(token)).get_json()
    assert mine["status"] == "refunded" and mine["refunds"][0]["status"] == "succeeded"
    timeline = client.get(f"{shop.prefix}/api/orders/{order['id']}", headers=bearer(token)).get_json()["timeline"]
    approved = next(e for e in timeline if e["kind"] == "aftersale_approved")
    assert approved["detail"]["aftersale_id"] == asked["id"]
    assert client.get(f"{shop.prefix}/api/orders/{order['id']}", headers=bearer(token)).get_json()["status"] == "closed"
    # Return-and-refund requests are not approved by the timer: the goods must come back first.
    shop2, client2, token2, mtoken2, sku2, order2 = _setup(app)
    asked2 = _ask(client2, shop2, token2, order2["id"], kind="return_refund").get_json()
    later = datetime.fromisoformat(asked2["decide_by"]) + timedelta(hours=1)
    assert execute(app, "aftersales.sweep_store", {"store_id": shop2.store_id, "now": later.isoformat()}) == {
        "approved": 0,
        "refunds_made": 0,
    }


def test_photos_are_checked_stored_and_shown_to_the_merchant_only(app):
    shop, client, token, mtoken, sku, order = _setup(app)
    url = f"{shop.prefix}/api/orders/{order['id']}/aftersales"
    not_image = client.post(
        url,
        headers=bearer(token),
        content_type="multipart/form-data",
        data={"kind": "refund_only", "reason": "破损", "photos": [image_upload(b"%PDF-1.4 not an image")]},
    )
    assert not_image.status_code == 422 and "photos" in not_image.get_json()["fields"]
    too_many = client.post(
        url,
        headers=bearer(token),
        content_type="multipart/form-data",
        data={"kind": "refund_only", "reason": "破损", "photos": [image_upload(png_bytes()) for _ in range(7)]},
    )
    assert too_many.status_code == 422
    asked = client.post(
        url,
        headers=bearer(token),
        content_type="multipart/form-data",
        data={
            "kind": "refund_only",
            "reason": "破损",
            "amount": "500",
            "photos": [image_upload(png_bytes()), image_upload(png_bytes((10, 10), "#3c3"))],
        },
    )
    assert asked.status_code == 201, asked.get_json()
    aftersale = asked.get_json()
    assert aftersale["photos"] == 2 and aftersale["amount"] == 500
    photo = client.get(f"{shop.prefix}/api/console/aftersales/{aftersale['id']}/photos/1", headers=bearer(mtoken))
    assert photo.status_code == 200 and photo.data.startswith(b"\x89PNG")
    assert (
        client.get(
            f"{shop.prefix}/api/console/aftersales/{aftersale['id']}/photos/2", headers=bearer(mtoken)
        ).status_code
        == 404
    )
    assert (
        client.get(
            f"{shop.prefix}/api/console/aftersales/{aftersale['id']}/photos/0", headers=bearer(token)
        ).status_code
        == 401
    )


def _crash_between_decision_and_refund(app, monkeypatch, shop, aftersale_id, step):
    """Run ``step`` (decide or confirm_return) with the process dying where the refund is written."""
    from mallow.aftersales import service
    from mallow.aftersales.models import AfterSale
    from mallow.db import db
    from mallow.payments import refunds as payments
    from mallow.tenants.context import store_context

    def crash(*args, **kwargs):
        raise RuntimeError("worker killed")

    with monkeypatch.context() as patched, store_context(shop.store_id, app=app):
        patched.setattr(payments, "refund", crash)
        with pytest.raises(RuntimeError):
            step(service, db.session.get(AfterSale, aftersale_id))


@pytest.mark.parametrize("kind", ["refund_only", "return_refund"])
def test_the_sweep_makes_a_refund_lost_between_the_two_steps_once(app, monkeypatch, kind):
    from mallow.jobs.registry import execute

    shop, client, token, mtoken, sku, order = _setup(app)
    asked = _ask(client, shop, token, order["id"], kind=kind, amount=1000).get_json()
    mine = f"{shop.prefix}/api/aftersales/{asked['id']}"
    if kind == "refund_only":
        _crash_between_decision_and_refund(
            app, monkeypatch, shop, asked["id"], lambda service, row: service.decide(row, "staff:1", True)
        )
        stuck = "approved"
    else:
        decision = f"{shop.prefix}/api/console/aftersales/{asked['id']}/decision"
        assert client.post(decision, headers=bearer(mtoken), json={"approve": True}).status_code == 200
        assert (
            client.post(
                f"{mine}/return", headers=bearer(token), json={"carrier": "顺丰速运", "tracking_number": "SF0001112223"}
            ).status_code
            == 200
        )
        _crash_between_decision_and_refund(
            app, monkeypatch, shop, asked["id"], lambda service, row: service.confirm_return(row, "staff:1")
        )
        stuck = "returned"
    before = client.get(mine, headers=bearer(token)).get_json()
    assert before["status"] == stuck and before["refunds"] == []

    swept = execute(app, "aftersales.sweep_store", {"store_id": shop.store_id})
    assert swept == {"approved": 0, "refunds_made": 1}
    after = client.get(mine, headers=bearer(token)).get_json()
    assert after["status"] == "refunded"
    assert [(r["amount"], r["status"]) for r in after["refunds"]] == [(1000, "succeeded")]
    paid_back = client.get(f"{shop.prefix}/api/orders/{order['id']}", headers=bearer(token)).get_json()
    assert paid_back["refunded_total"] == 1000

    # A second run finds nothing to do: no second refund, no second timeline entry.
    assert execute(app, "aftersales.sweep_store", {"store_id": shop.store_id}) == {"approved": 0, "refunds_made": 0}
    again = client.get(mine, headers=bearer(token)).get_json()
    assert again["refunds"] == after["refunds"]
    final = client.get(f"{shop.prefix}/api/orders/{order['id']}", headers=bearer(token)).get_json()
    assert final["refunded_total"] == 1000
    assert [e["kind"] for e in final["timeline"]].count("refund_requested") == 1


def test_the_sweep_racing_the_merchants_approval_refunds_once(app, monkeypatch):
    from mallow.aftersales import service
    from mallow.jobs.registry import execute

    shop, client, token, mtoken, sku, order = _setup(app)
    asked = _ask(client, shop, token, order["id"], amount=1000).get_json()
    normal_path = service._refund
    swept = []

    def sweep_first(aftersale, actor):  # the sweep runs between the approval's commit and its refund
        monkeypatch.setattr(service, "_refund", normal_path)
        swept.append(execute(app, "aftersales.sweep_store", {"store_id": shop.store_id}))
        return normal_path(aftersale, actor)

    monkeypatch.setattr(service, "_refund", sweep_first)
    done = client.post(
        f"{shop.prefix}/api/console/aftersales/{asked['id']}/decision", headers=bearer(mtoken), json={"approve": True}
    )
    assert done.status_code == 200
    assert swept == [{"approved": 0, "refunds_made": 1}]
    assert done.get_json()["status"] == "refunded"
    assert [r["amount"] for r in done.get_json()["refunds"]] == [1000]
    final = client.get(f"{shop.prefix}/api/orders/{order['id']}", headers=bearer(token)).get_json()
    assert final["refunded_total"] == 1000


def test_a_refund_the_provider_side_refuses_is_on_the_timeline_once_however_often_the_sweep_retries(app, monkeypatch):
    from mallow.jobs.registry import execute
    from mallow.payments import refunds as payments

    shop, client, token, mtoken, sku, order = _setup(app)
    asked = _ask(client, shop, token, order["id"], amount=1000).get_json()

    def refused(*args, **kwargs):
        raise payments.PaymentProblem("exceeds_paid", "no money left")

    monkeypatch.setattr(payments, "refund", refused)
    client.post(
        f"{shop.prefix}/api/console/aftersales/{asked['id']}/decision", headers=bearer(mtoken), json={"approve": True}
    )
    for _run in range(2):
        assert execute(app, "aftersales.sweep_store", {"store_id": shop.store_id}) == {"approved": 0, "refunds_made": 0}
    assert _timeline(client, shop, token, order["id"]).count("aftersale_refund_failed") == 1
    assert (
        client.get(f"{shop.prefix}/api/aftersales/{asked['id']}", headers=bearer(token)).get_json()["status"]
        == "approved"
    )

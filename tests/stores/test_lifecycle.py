"""A store's life: the merchant asks to close (closing: no new orders, the placed ones still
handled, closed once none is open), a platform admin suspends, reopens or closes it; every step
refused where the state machine has no arrow, and audited with its actor and reason."""

from __future__ import annotations

import sqlalchemy as sa

from mallow.testing import (
    PASSWORD,
    bearer,
    csrf_token,
    login_merchant,
    make_product,
    make_shopper,
    make_store,
    post_form,
    register_shopper,
)
from mallow.testing.payments import pay_with_sandbox, place_order


def _admin(client, email):
    return client.post("/api/tokens", json={"email": email, "password": PASSWORD, "principal": "admin"}).get_json()[
        "token"
    ]


def _status(app, shop) -> str:
    from mallow.db import db
    from mallow.tenants.models import Store

    with app.app_context():
        return db.session.get(Store, shop.store_id).status


def _audit(app, shop) -> list[tuple[str, str | None, dict]]:
    """The store's ``store.*`` entries since it opened, oldest first: (action, actor kind, detail)."""
    from mallow.audit import AuditEntry
    from mallow.db import db

    with app.app_context():
        rows = db.session.execute(
            sa.select(AuditEntry)
            .where(
                AuditEntry.store_id == shop.store_id,
                AuditEntry.action.like("store.%"),
                AuditEntry.action != "store.opened",
            )
            .order_by(AuditEntry.id)
        ).scalars()
        return [(row.action, row.actor_kind, row.detail) for row in rows]


def _order_count(app, shop) -> int:
    from mallow.db import db
    from mallow.orders.models import Order
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        return db.session.execute(sa.select(sa.func.count(Order.id))).scalar_one()


def _product_path(app, shop, sku_id) -> str:
    from mallow.catalog.models import Sku
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        return f"{shop.prefix}/products/{db.session.get(Sku, sku_id).product_id}"


def _ask_to_close(client, shop, form_path: str = "/console/store", **fields):
    data = {"reason": "不再经营", "confirm": "yes"} | fields
    return post_form(client, f"{shop.prefix}/console/store/close", data, form_path=f"{shop.prefix}{form_path}")


def _merchant(app, shop):
    client = app.test_client()
    login_merchant(client, shop)
    return client


def test_admin_suspends_reopens_and_closes_with_reasons_and_refuses_what_the_machine_has_no_arrow_for(app, admin_email):
    shop = make_store(app)
    client = app.test_client()
    token = bearer(_admin(client, admin_email))
    base = f"/api/admin/stores/{shop.store_id}"

    assert client.post(f"{base}/close", json={"reason": "  "}, headers=token).status_code == 422
    assert client.post(f"{base}/suspend", json={"reason": "投诉核查中"}, headers=token).status_code == 200
    assert client.post(f"{base}/suspend", json={"reason": "again"}, headers=token).status_code == 409
    assert client.post(f"{base}/reopen", headers=token).status_code == 200
    closed = client.post(f"{base}/close", json={"reason": "严重违规"}, headers=token)
    assert closed.status_code == 200 and closed.get_json()["status"] == "closed"
    for refused in ("suspend", "close"):
        assert client.post(f"{base}/{refused}", json={"reason": "x"}, headers=token).status_code == 409
    assert client.post(f"{base}/reopen", headers=token).status_code == 409
    assert _status(app, shop) == "closed"

    assert [(action, actor, detail.get("reason")) for action, actor, detail in _audit(app, shop)] == [
        ("store.suspended", "admin", "投诉核查中"),
        ("store.reopened", "admin", None),
        ("store.closed", "admin", "严重违规"),
    ]
    # closed: the storefront says so, the store's JSON API is gone, its console reads only
    page = client.get(f"{shop.prefix}/")
    assert page.status_code == 503 and 'data-status="closed"' in page.get_data(as_text=True)
    assert client.get(f"{shop.prefix}/api/products").status_code == 404
    merchant = _merchant(app, shop)
    settings = merchant.get(f"{shop.prefix}/console/store")
    assert settings.status_code == 200 and 'id="closed-note"' in settings.get_data(as_text=True)
    assert 'id="close-store"' not in settings.get_data(as_text=True)
    assert merchant.post(f"{shop.prefix}/console/store/close", data={"reason": "x"}).status_code == 403


def test_the_admin_stores_page_closes_a_store_with_a_reason(app, admin_email):
    from mallow.testing import login_admin

    shop = make_store(app)
    client = app.test_client()
    login_admin(client, admin_email)
    page = client.get("/admin/stores?status=open").get_data(as_text=True)
    assert f'action="/admin/stores/{shop.store_id}/close"' in page
    empty = post_form(client, f"/admin/stores/{shop.store_id}/close", {"reason": ""}, form_path="/admin/stores")
    assert empty.status_code == 303 and _status(app, shop) == "open"
    done = post_form(client, f"/admin/stores/{shop.store_id}/close", {"reason": "主体注销"}, form_path="/admin/stores")
    assert done.status_code == 303 and _status(app, shop) == "closed"
    assert _audit(app, shop)[-1][0::2] == ("store.closed", {"from": "open", "to": "closed", "reason": "主体注销"})
    listed = client.get("/admin/stores?status=closed").get_data(as_text=True)
    assert shop.slug in listed and "data-purge-after=" in listed


def test_a_close_request_needs_a_reason_a_confirmation_and_the_form_s_csrf_token(app):
    shop = make_store(app)
    merchant = _merchant(app, shop)
    page = merchant.get(f"{shop.prefix}/console/store")
    assert page.status_code == 200 and 'id="close-store"' in page.get_data(as_text=True)

    missing = _ask_to_close(merchant, shop, reason="", confirm="")
    body = missing.get_data(as_text=True)
    assert missing.status_code == 422 and 'data-field="reason"' in body and 'data-field="confirm"' in body
    assert (
        merchant.post(f"{shop.prefix}/console/store/close", data={"reason": "x", "confirm": "yes"}).status_code == 400
    )
    assert _status(app, shop) == "open" and _audit(app, shop) == []


def test_a_close_request_with_nothing_open_closes_the_store_at_once(app):
    shop = make_store(app)
    merchant = _merchant(app, shop)
    response = _ask_to_close(merchant, shop)
    assert response.status_code == 303
    assert _status(app, shop) == "closed"
    actions = [(action, actor, detail.get("reason")) for action, actor, detail in _audit(app, shop)]
    assert actions == [
        ("store.close_requested", "merchant", "不再经营"),
        ("store.closing_finished", "system", None),
        ("store.closed", "system", ""),
    ]
    shown = merchant.get(f"{shop.prefix}/console/store").get_data(as_text=True)
    assert 'data-status="closed"' in shown and "不再经营" in shown


def test_a_closing_store_takes_no_new_order_but_finishes_the_placed_ones_then_closes(app):
    from mallow.jobs.registry import execute

    shop = make_store(app)
    [sku] = make_product(app, shop, stock=10)
    api = app.test_client()
    token, address = make_shopper(api, shop)
    placed = place_order(api, shop, token, address, sku)
    pay_with_sandbox(api, shop, token, placed["id"])  # paid: the merchant owes it
    browser = app.test_client()
    register_shopper(browser, shop)
    post_form(
        browser, f"{shop.prefix}/cart/items", {"sku_id": sku, "quantity": 1}, form_path=_product_path(app, shop, sku)
    )
    checkout_token = csrf_token(browser, f"{shop.prefix}/checkout")  # the checkout page open before the close
    merchant = _merchant(app, shop)

    assert _ask_to_close(merchant, shop).status_code == 303
    assert _status(app, shop) == "closing"  # one order is still open
    settings = merchant.get(f"{shop.prefix}/console/store").get_data(as_text=True)
    assert 'id="closing-note"' in settings and 'id="close-store"' not in settings
    assert _ask_to_close(merchant, shop, form_path="/console/staff").status_code == 409  # asked already

    # no new order: the JSON API says why, field by field, and nothing is written
    before = _order_count(app, shop)
    refused = api.post(
        f"{shop.prefix}/api/orders",
        headers=bearer(token),
        json={"items": [{"sku_id": sku, "quantity": 1}], "address_id": address},
    )
    assert refused.status_code == 422
    assert refused.get_json()["fields"]["store"]["code"] == "not_taking_orders"
    # nor the storefront's checkout form: the page says the store is closing
    form = browser.post(f"{shop.prefix}/checkout", data={"csrf_token": checkout_token, "address_id": "new"})
    assert form.status_code == 503 and 'data-status="closing"' in form.get_data(as_text=True)
    assert _order_count(app, shop) == before
    # the shopper still sees their orders, and the merchant still ships or refunds them
    assert browser.get(f"{shop.prefix}/orders").status_code == 200
    assert merchant.get(f"{shop.prefix}/console/orders/{placed['id']}").status_code == 200

    # the sweep closes the store only once that order is finished (here: refunded in full)
    assert execute(app, "stores.sweep_store", {"store_id": shop.store_id}) == {"closed": False}
    _close_order(app, shop, placed["id"])
    assert execute(app, "stores.sweep_store", {"store_id": shop.store_id}) == {"closed": True}
    assert _status(app, shop) == "closed"
    assert [action for action, _actor, _detail in _audit(app, shop)][-2:] == [
        "store.closing_finished",
        "store.closed",
    ]


def _close_order(app, shop, order_id):
    from mallow.db import db
    from mallow.orders import service
    from mallow.orders.models import Order
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        assert service.transition(db.session.get(Order, order_id), "closed", "staff")
        db.session.commit()


def test_an_admin_takes_a_close_request_back_or_closes_the_store_now(app, admin_email):
    shop = make_store(app)
    [sku] = make_product(app, shop)
    api = app.test_client()
    token, address = make_shopper(api, shop)
    place_order(api, shop, token, address, sku)
    _ask_to_close(_merchant(app, shop), shop)
    assert _status(app, shop) == "closing"
    admin = bearer(_admin(api, admin_email))
    assert api.post(f"/api/admin/stores/{shop.store_id}/reopen", headers=admin).status_code == 200
    assert _status(app, shop) == "open"
    assert api.get(f"{shop.prefix}/").status_code == 200

    _ask_to_close(_merchant(app, shop), shop)
    closed = api.post(f"/api/admin/stores/{shop.store_id}/close", json={"reason": "商家要求立即关闭"}, headers=admin)
    assert closed.status_code == 200 and _status(app, shop) == "closed"
    assert [action for action, _actor, _detail in _audit(app, shop)] == [
        "store.close_requested",
        "store.reopened",
        "store.close_requested",
        "store.closed",
    ]


def test_a_suspended_store_refuses_orders_through_the_api(app, admin_email):
    shop = make_store(app)
    [sku] = make_product(app, shop)
    api = app.test_client()
    token, address = make_shopper(api, shop)
    admin = bearer(_admin(api, admin_email))
    assert (
        api.post(f"/api/admin/stores/{shop.store_id}/suspend", json={"reason": "投诉核查中"}, headers=admin).status_code
        == 200
    )
    refused = api.post(
        f"{shop.prefix}/api/orders",
        headers=bearer(token),
        json={"items": [{"sku_id": sku, "quantity": 1}], "address_id": address},
    )
    assert refused.status_code == 422 and refused.get_json()["fields"]["store"]["message"]
    assert _order_count(app, shop) == 0
    page = api.get(f"{shop.prefix}/")
    assert page.status_code == 503 and 'data-status="suspended"' in page.get_data(as_text=True)


def test_a_store_that_never_opened_closes_at_once_when_its_owner_asks(app):
    shop = make_store(app, approved=False)
    assert _ask_to_close(_merchant(app, shop), shop).status_code == 303
    assert _status(app, shop) == "closed"
    assert [action for action, _actor, _detail in _audit(app, shop)] == ["store.close_requested", "store.closed"]

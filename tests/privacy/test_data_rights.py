"""Shoppers' data rights under PIPL (mallow.privacy): the consent to the store's privacy notice at
sign-up (recorded with its version), the export of everything the store holds about a shopper,
and deleting the account: refused while an order is open, then the shopper's phone, names and
addresses are nowhere in the store's schema, the orders still add up, the old token is dead."""

from __future__ import annotations

import itertools
import json
import random
import uuid

import sqlalchemy as sa

from mallow.testing import PASSWORD, bearer, make_product, make_store, merchant_token, post_form
from mallow.testing.payments import pay_with_sandbox, place_order


_ips = itertools.count(random.randrange(1, 2**20))


def fresh(app):
    """A test client from an address of its own (the per-IP limits are shared by the session's app)."""
    client = app.test_client()
    n = next(_ips)
    client.environ_base.update({"REMOTE_ADDR": f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"})
    return client


def new_phone() -> str:
    return f"13{random.randrange(10**9):09d}"


def sign_up(client, shop, phone: str, *, recipient: str, detail: str, address_phone: str) -> tuple[str, int]:
    """A shopper signed up by API with the consent ticked and one address; ``(token, address id)``."""
    made = client.post(
        f"{shop.prefix}/api/customers", json={"login": phone, "password": PASSWORD, "privacy_consent": True}
    )
    assert made.status_code == 201, made.get_json()
    token = made.get_json()["token"]
    address = client.post(
        f"{shop.prefix}/api/addresses",
        headers=bearer(token),
        json={
            "recipient": recipient,
            "phone": address_phone,
            "province": "浙江省",
            "city": "杭州市",
            "district": "西湖区",
            "detail": detail,
        },
    )
    assert address.status_code == 201, address.get_json()
    return token, address.get_json()["id"]


def _consents(app, shop, customer_id: int) -> list[tuple[str, str]]:
    from mallow.db import db
    from mallow.privacy.models import PrivacyConsent
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        return [
            (c.notice_version, c.channel)
            for c in db.session.execute(
                sa.select(PrivacyConsent).where(PrivacyConsent.customer_id == customer_id).order_by(PrivacyConsent.id)
            ).scalars()
        ]


def _customer_count(app, shop) -> int:
    from mallow.accounts.models import Customer
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        return db.session.execute(sa.select(sa.func.count(Customer.id))).scalar_one()


def test_a_sign_up_without_the_consent_is_refused_on_the_field_and_makes_no_account(app):
    shop = make_store(app)
    api = fresh(app)
    # the API's registerCustomer
    refused = api.post(f"{shop.prefix}/api/customers", json={"login": new_phone(), "password": PASSWORD})
    assert refused.status_code == 422
    assert refused.get_json()["fields"]["privacy_consent"]["code"] == "required"
    unticked = api.post(
        f"{shop.prefix}/api/customers", json={"login": new_phone(), "password": PASSWORD, "privacy_consent": False}
    )
    assert unticked.status_code == 422 and "privacy_consent" in unticked.get_json()["fields"]
    # the password form: the page shows the unticked box and the notice's link, and the error on it
    browser = fresh(app)
    page = browser.get(f"{shop.prefix}/register").get_data(as_text=True)
    assert 'name="privacy_consent"' in page and "checked" not in page.split('id="f-consent-password"')[1][:80]
    assert f'href="{shop.prefix}/privacy"' in page
    form = post_form(browser, f"{shop.prefix}/register", {"login": new_phone(), "password": PASSWORD})
    assert form.status_code == 422
    assert 'data-field="privacy_consent"' in form.get_data(as_text=True)
    # an SMS code for a new number: no account either (and the code is still good afterwards)
    from mallow.accounts import sms

    phone = new_phone()
    post_form(
        browser, f"{shop.prefix}/login/code", {"phone": phone, "page": "register"}, form_path=f"{shop.prefix}/register"
    )
    code = sms.provider(app).last_code(phone, shop.store_id)
    by_code = post_form(
        browser, f"{shop.prefix}/login/sms", {"phone": phone, "code": code}, form_path=f"{shop.prefix}/login"
    )
    assert by_code.status_code == 422 and 'data-field="privacy_consent"' in by_code.get_data(as_text=True)
    assert _customer_count(app, shop) == 0
    ticked = post_form(
        browser,
        f"{shop.prefix}/login/sms",
        {"phone": phone, "code": code, "privacy_consent": "1"},
        form_path=f"{shop.prefix}/login",
    )
    assert ticked.status_code == 303
    assert _customer_count(app, shop) == 1


def test_a_sign_up_with_the_consent_records_the_notice_version_and_the_way(app):
    from mallow.db import db
    from mallow.privacy.models import PrivacyNotice
    from mallow.tenants.context import store_context

    shop = make_store(app)
    api = fresh(app)
    notice = api.get(f"{shop.prefix}/api/privacy-notice").get_json()
    assert notice["platform_default"] is True and notice["version"] == "platform-2026-12"
    made = api.post(
        f"{shop.prefix}/api/customers", json={"login": new_phone(), "password": PASSWORD, "privacy_consent": True}
    )
    assert made.status_code == 201
    assert _consents(app, shop, made.get_json()["customer"]["id"]) == [("platform-2026-12", "password")]

    # the store publishes its own version: the next sign-up (by the form) agrees to that one
    with store_context(shop.store_id, app=app):
        db.session.add(
            PrivacyNotice(
                version="store-2027-01",
                title_zh="本店隐私政策",
                title_en="Our privacy notice",
                body_zh="我们只收集购物必需的信息。",
                body_en="We collect only what shopping needs.",
                published_at=sa.func.now(),
            )
        )
        db.session.commit()
    browser = fresh(app)
    phone = new_phone()
    done = post_form(browser, f"{shop.prefix}/register", {"login": phone, "password": PASSWORD, "privacy_consent": "1"})
    assert done.status_code == 303
    me = browser.get(f"{shop.prefix}/api/me")  # the cookie session is not a token: read the row instead
    assert me.status_code == 401
    with store_context(shop.store_id, app=app):
        from mallow.accounts.models import Customer
        from mallow.security import crypto

        customer_id = db.session.execute(
            sa.select(Customer.id).where(Customer.login_digest == crypto.digest(phone))
        ).scalar_one()
    assert _consents(app, shop, customer_id) == [("store-2027-01", "password")]
    assert "我们只收集购物必需的信息。" in browser.get(f"{shop.prefix}/privacy").get_data(as_text=True)


def _shopper(app, shop, client):
    tag = uuid.uuid4().hex[:6]
    person = {
        "phone": new_phone(),
        "recipient": f"隐私{tag}",
        "detail": f"文三路{random.randrange(10**6)}号{tag}室",
        "address_phone": new_phone(),
    }
    token, address = sign_up(
        client,
        shop,
        person["phone"],
        recipient=person["recipient"],
        detail=person["detail"],
        address_phone=person["address_phone"],
    )
    return person, token, address


def test_the_export_holds_the_shoppers_orders_and_addresses_and_nothing_of_another(app):
    shop = make_store(app)
    [sku] = make_product(app, shop, title="临安山核桃", price=3000)
    api = fresh(app)
    me, token, address = _shopper(app, shop, api)
    other, other_token, other_address = _shopper(app, shop, api)
    mine = place_order(api, shop, token, address, sku, 2)
    theirs = place_order(api, shop, other_token, other_address, sku, 1)
    api.post(f"{shop.prefix}/api/cart/items", headers=bearer(token), json={"sku_id": sku, "quantity": 1})

    response = api.get(f"{shop.prefix}/api/me/export", headers=bearer(token))
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    data = response.get_json()
    assert data["profile"]["login"] == me["phone"]
    assert [(a["recipient"], a["phone"], a["detail"]) for a in data["addresses"]] == [
        (me["recipient"], me["address_phone"], me["detail"])
    ]
    assert [o["number"] for o in data["orders"]] == [mine["number"]]
    [order] = data["orders"]
    assert order["total"] == mine["total"] and order["address"]["detail"] == me["detail"]
    assert [(line["title"], line["quantity"]) for line in order["lines"]] == [("临安山核桃", 2)]
    assert [c["notice_version"] for c in data["consents"]] == ["platform-2026-12"]
    text = json.dumps(data, ensure_ascii=False)
    for value in (other["phone"], other["recipient"], other["detail"], other["address_phone"], theirs["number"]):
        assert value not in text
    # without a token: 401; rate-limited per shopper
    assert api.get(f"{shop.prefix}/api/me/export").status_code == 401
    statuses = [api.get(f"{shop.prefix}/api/me/export", headers=bearer(token)).status_code for _ in range(5)]
    assert statuses[-1] == 429 and statuses.count(200) == 4


def _ship(api, shop, order_id: int) -> None:
    staff = merchant_token(api, shop)
    shipped = api.post(
        f"{shop.prefix}/api/console/orders/{order_id}/ship",
        headers=bearer(staff),
        json={"carrier": "顺丰速运", "tracking_number": f"SF{random.randrange(10**10)}"},
    )
    assert shipped.status_code == 200, shipped.get_json()


def test_deleting_is_refused_while_a_shipped_order_is_on_its_way(app):
    shop = make_store(app)
    [sku] = make_product(app, shop, price=1500)
    api = fresh(app)
    _me, token, address = _shopper(app, shop, api)
    order = place_order(api, shop, token, address, sku)
    pay_with_sandbox(api, shop, token, order["id"])
    _ship(api, shop, order["id"])

    refused = api.post(
        f"{shop.prefix}/api/me/delete", headers=bearer(token), json={"confirm": "注销", "password": PASSWORD}
    )
    assert refused.status_code == 409
    assert [(b["code"], b["order"]) for b in refused.get_json()["blockers"]] == [("to_receive", order["number"])]
    assert api.get(f"{shop.prefix}/api/me", headers=bearer(token)).status_code == 200  # nothing happened
    # a wrong password or a missing confirmation word: field errors
    wrong = api.post(f"{shop.prefix}/api/me/delete", headers=bearer(token), json={"confirm": "好", "password": "x"})
    assert wrong.status_code == 422 and set(wrong.get_json()["fields"]) == {"confirm", "password"}


def _store_text_values(app, shop) -> list[str]:
    """Every value of every text, varchar and JSON column of every table of the store's schema
    (core's tables and plugins'), and the plaintext of every encrypted (``*_cipher``) column."""
    from mallow.db import db, store_metadata
    from mallow.db.store_tables import _PLUGIN_METADATA
    from mallow.security import crypto
    from mallow.tenants.context import store_context

    values: list[str] = []
    with store_context(shop.store_id, app=app):
        for metadata in [store_metadata, *_PLUGIN_METADATA]:
            for table in metadata.sorted_tables:
                columns = [c for c in table.columns if isinstance(c.type, (sa.String, sa.Text, sa.JSON))]
                if not columns:
                    continue
                try:
                    rows = db.session.execute(sa.select(*columns), bind_arguments={"clause": table}).all()
                except sa.exc.DBAPIError:  # a plugin's table this store does not have
                    db.session.rollback()
                    continue
                for row in rows:
                    for column, value in zip(columns, row, strict=True):
                        if value is None:
                            continue
                        raw = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                        values.append(raw)
                        if column.name.endswith("_cipher") and raw.startswith("v1."):
                            values.append(crypto.decrypt(raw))
    return values


def _order_figures(app, shop, order_ids: list[int]) -> list[tuple]:
    from mallow.db import db
    from mallow.orders.models import Order, OrderAdjustment, OrderLine
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        return [
            (
                o.id,
                o.number,
                o.status,
                o.items_total,
                o.total,
                o.refunded_total,
                db.session.execute(sa.select(sa.func.sum(OrderLine.total)).where(OrderLine.order_id == o.id)).scalar(),
                db.session.execute(
                    sa.select(sa.func.coalesce(sa.func.sum(OrderAdjustment.amount), 0)).where(
                        OrderAdjustment.order_id == o.id
                    )
                ).scalar(),
            )
            for o in db.session.execute(sa.select(Order).where(Order.id.in_(order_ids)).order_by(Order.id)).scalars()
        ]


def test_after_deleting_the_account_nothing_personal_is_left_and_the_orders_add_up(app):
    from mallow import audit
    from mallow.db import db

    shop = make_store(app)
    [sku] = make_product(app, shop, title="西湖龙井", price=5000)
    api = fresh(app)
    me, token, address = _shopper(app, shop, api)
    other, other_token, other_address = _shopper(app, shop, api)
    # a completed order (paid, shipped, received) with a note naming the shopper, a cancelled one,
    # the cart, and the other shopper's order
    done = place_order(api, shop, token, address, sku, 2)
    pay_with_sandbox(api, shop, token, done["id"])
    _ship(api, shop, done["id"])
    assert api.post(f"{shop.prefix}/api/orders/{done['id']}/confirm", headers=bearer(token)).status_code == 200
    cancelled = place_order(api, shop, token, address, sku, 1)
    assert api.post(f"{shop.prefix}/api/orders/{cancelled['id']}/cancel", headers=bearer(token)).status_code == 200
    staff = merchant_token(api, shop)
    noted = api.post(
        f"{shop.prefix}/api/console/orders/{done['id']}/note",
        headers=bearer(staff),
        json={"note": f"老客户 {me['recipient']}，电话 {me['address_phone']}"},
    )
    assert noted.status_code == 200, noted.get_json()
    api.post(f"{shop.prefix}/api/cart/items", headers=bearer(token), json={"sku_id": sku, "quantity": 3})
    theirs = place_order(api, shop, other_token, other_address, sku, 1)
    mine = [done["id"], cancelled["id"]]
    before = _order_figures(app, shop, mine)
    everything = "\n".join(_store_text_values(app, shop))
    assert me["recipient"] in everything and me["detail"] in everything and me["phone"] in everything

    deleted = api.post(
        f"{shop.prefix}/api/me/delete", headers=bearer(token), json={"confirm": "注销", "password": PASSWORD}
    )
    assert deleted.status_code == 200, deleted.get_json()
    assert deleted.get_json() == {"deleted": True, "orders_kept": 2}

    # nowhere in the store's schema, in plain text or encrypted
    everything = "\n".join(_store_text_values(app, shop))
    for value in (me["phone"], me["recipient"], me["detail"], me["address_phone"]):
        assert value not in everything
        assert json.dumps(value)[1:-1] not in everything  # nor escaped inside JSON
    # the orders still add up, the same figures as before
    assert _order_figures(app, shop, mine) == before
    # the old token is dead; the login is free again (a new sign-up is a new account)
    assert api.get(f"{shop.prefix}/api/me", headers=bearer(token)).status_code == 401
    assert api.get(f"{shop.prefix}/api/me/export", headers=bearer(token)).status_code == 401
    again = api.post(f"{shop.prefix}/api/tokens", json={"login": me["phone"], "password": PASSWORD})
    assert again.status_code == 401
    # the merchant sees it on the order, and cannot undo it
    console = api.get(f"{shop.prefix}/api/console/orders/{done['id']}", headers=bearer(staff)).get_json()
    assert console["address"]["recipient"] == "已注销用户" and console["total"] == done["total"]
    assert console["timeline"][-1]["kind"] == "buyer_account_deleted"
    with app.app_context():
        entry = db.session.execute(
            sa.select(audit.AuditEntry).where(
                audit.AuditEntry.action == "shopper.account_deleted", audit.AuditEntry.store_id == shop.store_id
            )
        ).scalar_one()
        assert entry.detail["orders_kept"] == 2 and entry.detail["erased"]["addresses"] == 1
        assert entry.detail["erased"]["cart"] == 1
    # the other shopper is untouched
    exported = api.get(f"{shop.prefix}/api/me/export", headers=bearer(other_token)).get_json()
    assert exported["profile"]["login"] == other["phone"]
    assert [(a["recipient"], a["detail"]) for a in exported["addresses"]] == [(other["recipient"], other["detail"])]
    assert [o["number"] for o in exported["orders"]] == [theirs["number"]]
    assert exported["orders"][0]["address"]["recipient"] == other["recipient"]

"""Plugins' own tables in a shopper's data rights (issue 14): with the group buy, the flash sale
and distribution on, the export holds each plugin's section, and after the account is deleted
the shopper's phone, name and address line are nowhere in the store's schema, the plugins' tables
included. A plugin switched off since still has its rows exported and erased. A plugin whose
erasure fails refuses the whole deletion: nothing is erased, not even by the plugins before it."""

from __future__ import annotations

import json
import random
import uuid
from datetime import datetime, timedelta, UTC

import pytest
import sqlalchemy as sa

from mallow.testing import (
    PASSWORD,
    backend_params,
    bearer,
    dispose_app,
    enable_plugin,
    make_product,
    make_store,
    merchant_token,
    plugin_app,
)
from mallow.testing.builders import build_plugin

from .test_data_rights import _store_text_values

RAISER = """
from mallow.sdk import hookimpl


@hookimpl
def mallow_customer_data(customer):
    return {"since": object()}  # not JSON: the export says this part is unavailable


@hookimpl
def mallow_erase_customer(customer):
    raise RuntimeError("the erasure service is down")
"""

# catches its own database error and answers "done": on PostgreSQL its savepoint had to be rolled
# back, so its writes are gone while its answer says otherwise
SWALLOWER = """
import sqlalchemy as sa

from mallow.sdk import Customer, db, hookimpl


@hookimpl
def mallow_erase_customer(customer):
    try:
        db.session.execute(sa.select(Customer.id).where(Customer.id == sa.cast(sa.literal("x"), sa.Integer)))
    except Exception:
        pass
    return None
"""

BUNDLED = ["distribution", "flashsale", "groupbuy"]


@pytest.fixture(scope="module", params=backend_params())
def rights_app(request, tmp_path_factory):
    """The three bundled plugins and two that fail at erasing, approved and loaded."""
    with build_plugin(tmp_path_factory) as plugins:
        plugins.add("privacy_raiser", RAISER, title={"zh_CN": "出错插件", "en": "Raiser"}, permissions=["tables"])
        plugins.add(
            "privacy_swallower", SWALLOWER, title={"zh_CN": "吞错插件", "en": "Swallower"}, permissions=["customers"]
        )
        app = plugin_app(tmp_path_factory, request.param, [*BUNDLED, "privacy_raiser", "privacy_swallower"])
        yield app
        dispose_app(app)


def _person(app, shop) -> dict:
    """A shopper signed up by phone, with one address; their values and token."""
    client = app.test_client()
    tag = uuid.uuid4().hex[:6]
    person = {
        "phone": f"13{random.randrange(10**9):09d}",
        "recipient": f"隐私{tag}",
        "detail": f"文三路{random.randrange(10**6)}号{tag}室",
        "address_phone": f"15{random.randrange(10**9):09d}",
    }
    made = client.post(
        f"{shop.prefix}/api/customers", json={"login": person["phone"], "password": PASSWORD, "privacy_consent": True}
    )
    assert made.status_code == 201, made.get_json()
    person["token"] = made.get_json()["token"]
    address = client.post(
        f"{shop.prefix}/api/addresses",
        headers=bearer(person["token"]),
        json={
            "recipient": person["recipient"],
            "phone": person["address_phone"],
            "province": "浙江省",
            "city": "杭州市",
            "district": "西湖区",
            "detail": person["detail"],
        },
    )
    assert address.status_code == 201, address.get_json()
    person["address"] = address.get_json()["id"]
    return person


def _apply(client, shop, person) -> str:
    """The shopper applies to be a distributor, typing their name and phone in the note."""
    note = f"我是{person['recipient']}，电话 {person['phone']}，住{person['detail']}"
    applied = client.post(
        f"{shop.prefix}/api/x/distribution/apply", headers=bearer(person["token"]), json={"agree": True, "note": note}
    )
    assert applied.status_code in (200, 201), applied.get_json()
    return note


def _delete(client, shop, person):
    return client.post(
        f"{shop.prefix}/api/me/delete",
        headers=bearer(person["token"]),
        json={"confirm": "注销", "password": PASSWORD},
    )


def _export(client, shop, person) -> dict:
    response = client.get(f"{shop.prefix}/api/me/export", headers=bearer(person["token"]))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _everything(app, shop) -> str:
    """Every text, varchar and JSON value of every table of the store's schema (core and
    plugins), and the plaintext of every encrypted column, as one text."""
    return "\n".join(_store_text_values(app, shop))


def _groupbuy_member(app, shop, client, person) -> None:
    """The shopper ordered in a group buy and cancelled (a member who dropped out)."""
    [sku] = make_product(app, shop, title="拼团山核桃", price=6000)
    staff = merchant_token(client, shop)
    from mallow.catalog.models import Sku
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        product_id = db.session.get(Sku, sku).product_id
    now = datetime.now(UTC)
    campaign = client.post(
        f"{shop.prefix}/api/console/x/groupbuy/campaigns",
        headers=bearer(staff),
        json={
            "title": "两人团",
            "product_id": product_id,
            "group_size": 2,
            "tiers": [{"size": 2, "percent": "90"}],
            "starts_at": (now - timedelta(minutes=5)).isoformat(),
            "ends_at": (now + timedelta(days=3)).isoformat(),
            "quota": 10,
        },
    )
    assert campaign.status_code == 201, campaign.get_json()
    order = client.post(
        f"{shop.prefix}/api/orders",
        headers=bearer(person["token"]),
        json={
            "items": [{"sku_id": sku, "quantity": 1}],
            "address_id": person["address"],
            "options": {"groupbuy": {"campaign_id": campaign.get_json()["id"], "group_id": None}},
        },
    )
    assert order.status_code == 201, order.get_json()
    cancel = client.post(f"{shop.prefix}/api/orders/{order.get_json()['id']}/cancel", headers=bearer(person["token"]))
    assert cancel.status_code == 200, cancel.get_json()


def _flashsale_buyer(app, shop, client, person) -> None:
    """The shopper bought in a flash sale and cancelled (a purchase whose units went back)."""
    [sku] = make_product(app, shop, title="秒杀龙井", price=5000, stock=20)
    staff = merchant_token(client, shop)
    now = datetime.now(UTC)
    sale = client.post(
        f"{shop.prefix}/api/console/x/flashsale/sales",
        headers=bearer(staff),
        json={
            "title": "整点秒杀",
            "starts_at": (now - timedelta(minutes=1)).isoformat(),
            "ends_at": (now + timedelta(hours=1)).isoformat(),
            "preheat_at": None,
            "per_order_limit": 1,
            "per_shopper_limit": 1,
            "per_day_limit": 0,
            "published": True,
            "items": [{"sku_id": sku, "sale_price": 1990, "quota": 5}],
        },
    )
    assert sale.status_code == 201, sale.get_json()
    bought = client.post(
        f"{shop.prefix}/api/x/flashsale/sales/{sale.get_json()['id']}/buy",
        headers=bearer(person["token"]),
        json={"sku_id": sku, "quantity": 1, "address_id": person["address"]},
    )
    assert bought.status_code == 201, bought.get_json()
    order_id = bought.get_json()["order"]["id"]
    cancel = client.post(f"{shop.prefix}/api/orders/{order_id}/cancel", headers=bearer(person["token"]))
    assert cancel.status_code == 200, cancel.get_json()


def _audit_of_deletion(app, shop) -> dict:
    from mallow import audit
    from mallow.db import db

    with app.app_context():
        entry = db.session.execute(
            sa.select(audit.AuditEntry).where(
                audit.AuditEntry.action == "shopper.account_deleted", audit.AuditEntry.store_id == shop.store_id
            )
        ).scalar_one()
        return entry.detail


def _export_statements(app, shop, customer_id: int) -> int:
    """SQL statements the plugins' part of one export costs (the guard's savepoints aside)."""
    from mallow.accounts.models import Customer
    from mallow.db import db
    from mallow.privacy import plugin_data
    from mallow.tenants.context import store_context
    from mallow.testing.sql import statements

    with store_context(shop.store_id, app=app):
        customer = db.session.get(Customer, customer_id)
        with statements() as seen:
            asked = plugin_data.ask(plugin_data.EXPORT_HOOK, customer)
        assert not asked.failed
        return len([s for s in seen if not s.upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO"))])


def test_a_store_without_plugins_pays_one_statement_for_them(rights_app):
    shop = make_store(rights_app)
    me = _person(rights_app, shop)
    customer_id = _export(rights_app.test_client(), shop, me)["profile"]["id"]
    # its store_plugins rows (none) and the enabled set (which a request has read already)
    assert _export_statements(rights_app, shop, customer_id) == 2


def test_with_the_three_plugins_the_export_has_their_sections_and_the_deletion_leaves_nothing(rights_app):
    app = rights_app
    shop = make_store(app)
    for name in BUNDLED:
        enable_plugin(app, shop, name)
    client = app.test_client()
    me = _person(app, shop)
    other = _person(app, shop)
    note = _apply(client, shop, me)
    _apply(client, shop, other)
    _groupbuy_member(app, shop, client, me)
    _flashsale_buyer(app, shop, client, me)
    before = _everything(app, shop)
    assert note in before and me["recipient"] in before and me["phone"] in before

    exported = _export(client, shop, me)
    plugins = exported["plugins"]
    assert sorted(plugins) == BUNDLED
    assert plugins["distribution"]["distributor"]["note"] == note
    assert [(m["campaign"], m["status"]) for m in plugins["groupbuy"]["memberships"]] == [("两人团", "dropped")]
    assert [(p["sale"], p["sale_price"], p["status"]) for p in plugins["flashsale"]["purchases"]] == [
        ("整点秒杀", 1990, "returned")
    ]
    assert other["phone"] not in json.dumps(plugins, ensure_ascii=False)

    # 2 (which plugins) + distribution 5 (binding, distributor, balances, commissions, withdrawals)
    # + flash sale 2 (purchases, unpaid orders) + group buy 3 (memberships, units, refunds)
    assert _export_statements(app, shop, exported["profile"]["id"]) == 12

    deleted = _delete(client, shop, me)
    assert deleted.status_code == 200, deleted.get_json()
    everything = _everything(app, shop)
    for value in (me["phone"], me["recipient"], me["detail"], me["address_phone"]):
        assert value not in everything
        assert json.dumps(value)[1:-1] not in everything
    assert other["phone"] in everything  # the other distributor's note is theirs
    assert _audit_of_deletion(app, shop)["erased"]["plugins"] == BUNDLED


def test_a_plugin_switched_off_since_still_has_its_rows_exported_and_erased(rights_app):
    from mallow.testing import disable_plugin

    app = rights_app
    shop = make_store(app)
    enable_plugin(app, shop, "distribution")
    client = app.test_client()
    me = _person(app, shop)
    note = _apply(client, shop, me)
    disable_plugin(app, shop, "distribution")
    assert client.get(f"{shop.prefix}/api/x/distribution/me", headers=bearer(me["token"])).status_code == 404

    assert _export(client, shop, me)["plugins"]["distribution"]["distributor"]["note"] == note
    assert _delete(client, shop, me).status_code == 200
    assert note not in _everything(app, shop) and me["phone"] not in _everything(app, shop)


def test_a_plugin_that_fails_to_erase_refuses_the_whole_deletion(rights_app):
    app = rights_app
    shop = make_store(app)
    enable_plugin(app, shop, "distribution")
    enable_plugin(app, shop, "privacy_raiser")
    client = app.test_client()
    me = _person(app, shop)
    note = _apply(client, shop, me)

    exported = _export(client, shop, me)["plugins"]
    assert exported["distribution"]["distributor"]["note"] == note
    assert "unavailable" in exported["privacy_raiser"]  # the shopper is told a part is missing

    refused = _delete(client, shop, me)
    assert refused.status_code == 409
    [blocker] = refused.get_json()["blockers"]
    assert blocker["code"] == "plugin_failed" and blocker["plugin"] == "privacy_raiser"
    assert "出错插件" in blocker["message"] or "Raiser" in blocker["message"]
    # nothing was erased: distribution (called before it) kept the note, the account works
    everything = _everything(app, shop)
    assert note in everything and me["recipient"] in everything
    assert client.get(f"{shop.prefix}/api/me", headers=bearer(me["token"])).status_code == 200


@pytest.mark.parametrize("rights_app", ["postgresql"], indirect=True)  # an SQL error fails the transaction only there
def test_a_plugin_that_swallows_a_database_error_while_erasing_refuses_the_deletion(rights_app):
    app = rights_app
    shop = make_store(app)
    enable_plugin(app, shop, "distribution")
    enable_plugin(app, shop, "privacy_swallower")
    client = app.test_client()
    me = _person(app, shop)
    note = _apply(client, shop, me)

    refused = _delete(client, shop, me)
    assert refused.status_code == 409, refused.get_json()
    assert [(b["code"], b["plugin"]) for b in refused.get_json()["blockers"]] == [
        ("plugin_failed", "privacy_swallower")
    ]
    assert note in _everything(app, shop)
    assert client.get(f"{shop.prefix}/api/me", headers=bearer(me["token"])).status_code == 200


def test_the_answers_the_data_rights_hooks_must_give():
    """A section is a JSON object of plain values; blockers are a list of messages."""
    from mallow.plugins.results import wrong_answer

    assert wrong_answer("mallow_customer_data", {"notes": ["我", 1, None, {"ok": True}]}) is None
    assert wrong_answer("mallow_customer_data", {"at": datetime.now(UTC)}) == "a dict of plain JSON values"
    assert wrong_answer("mallow_customer_data", ["not", "a", "dict"]) is not None
    assert wrong_answer("mallow_erase_customer", ["佣金未结清"]) is None
    assert wrong_answer("mallow_erase_customer", []) is None
    assert wrong_answer("mallow_erase_customer", "佣金未结清") == "a list of messages"
    assert wrong_answer("mallow_erase_customer", [3]) is not None

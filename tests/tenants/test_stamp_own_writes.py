"""A request (or job) that writes what is kept under its store's stamp reads it afresh from then
on: the stamp moves only when the write commits, and the request keeps the stamp it read at its
start, so without this it would read back, from the process's memory, what was true before its
own write (``tenants/stamps.py`` ``_after_flush``)."""

from __future__ import annotations

from mallow.testing import bearer, make_store, merchant_token

TEMPLATE = {"mode": "pieces", "rules": [{"regions": ["*"], "first": 1, "first_fee": 800, "extra": 1, "extra_fee": 200}]}


def test_a_new_default_template_is_answered_as_the_default(app):
    """The merchant makes a second template the default: the answer says it is (it used to say
    false when the store's settings were kept from an earlier request under the same stamp)."""
    shop = make_store(app)
    client = app.test_client()
    merchant = bearer(merchant_token(client, shop))
    base = f"{shop.prefix}/api/console/shipping-templates"
    first = client.post(base, headers=merchant, json={"name": "全国", "is_default": True, **TEMPLATE})
    assert first.status_code == 201 and first.get_json()["is_default"] is True
    listed = client.get(base, headers=merchant).get_json()["items"]  # the settings kept under the stamp
    assert [t["is_default"] for t in listed] == [True]
    second = client.post(base, headers=merchant, json={"name": "江浙沪", "is_default": True, **TEMPLATE})
    assert second.status_code == 201 and second.get_json()["is_default"] is True
    listed = client.get(base, headers=merchant).get_json()["items"]
    assert {t["name"]: t["is_default"] for t in listed} == {"全国": False, "江浙沪": True}


def test_a_setting_written_in_a_request_is_read_back_in_it(app):
    from flask import g

    from mallow import settings
    from mallow.db import db
    from mallow.tenants import snapshots
    from mallow.tenants.context import activate_store

    shop = make_store(app)
    app.test_client().get(f"{shop.prefix}/")  # the process meets the store
    with app.test_request_context(f"{shop.prefix}/"):
        activate_store(snapshots.find(shop.slug))
        assert g.mallow_store_stamp is not None  # kept answers are used in this request
        before = settings.get("low_stock_threshold")
        db.session.info.clear()  # a later read in the request asks the process's memory again
        assert settings.get("low_stock_threshold") == before
        settings.put("low_stock_threshold", before + 7)
        assert settings.get("low_stock_threshold") == before + 7
        assert g.mallow_store_stamp is None  # nothing kept is read for the rest of the request
        db.session.rollback()

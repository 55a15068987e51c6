"""The flash sale in a shopper's data rights: the export lists their purchases (sale, price,
order, state) and nothing of another shopper's; an unpaid sale order refuses the deletion (the
core's check), and once it is closed the deletion goes through, keeping the sale's purchases (its
quota's bookkeeping) under the tombstone's id."""

from __future__ import annotations

import sqlalchemy as sa

from mallow.testing import PASSWORD, bearer

from .conftest import buy, create_sale, enabled_store, in_store, make_shoppers, product


def _delete(client, shop, token):
    return client.post(
        f"{shop.prefix}/api/me/delete", headers=bearer(token), json={"confirm": "注销", "password": PASSWORD}
    )


def test_the_export_lists_the_purchases_and_the_deletion_keeps_them_anonymous(fs_app):
    from mallow.db import db
    from mallow_flashsale.models import Purchase

    shop = enabled_store(fs_app)
    sku = product(fs_app, shop, price=5000)
    sale = create_sale(fs_app, shop, [{"sku_id": sku, "sale_price": 1990, "quota": 5}], title="整点秒杀")
    (token, address, customer_id), (other, other_address, _other_id) = make_shoppers(fs_app, shop, 2)
    client = fs_app.test_client()
    order = buy(client, shop, sale["id"], token, address, sku).get_json()["order"]
    theirs = buy(client, shop, sale["id"], other, other_address, sku).get_json()["order"]

    exported = client.get(f"{shop.prefix}/api/me/export", headers=bearer(token)).get_json()["plugins"]["flashsale"]
    assert [
        (p["sale"], p["sale_price"], p["quantity"], p["order_number"], p["status"]) for p in exported["purchases"]
    ] == [("整点秒杀", 1990, 1, order["number"], "pending")]
    assert exported["unpaid_orders"] == [{"sale": "整点秒杀", "order_number": order["number"]}]
    assert theirs["number"] not in str(exported)

    # unpaid: the core refuses; closed: the deletion goes through
    refused = _delete(client, shop, token)
    assert refused.status_code == 409 and [b["code"] for b in refused.get_json()["blockers"]] == ["unpaid"]
    assert client.post(f"{shop.prefix}/api/orders/{order['id']}/cancel", headers=bearer(token)).status_code == 200
    deleted = _delete(client, shop, token)
    assert deleted.status_code == 200, deleted.get_json()

    def purchases():
        return [
            (p.customer_id, p.status)
            for p in db.session.execute(sa.select(Purchase).where(Purchase.order_id == order["id"])).scalars()
        ]

    assert in_store(fs_app, shop, purchases) == [(customer_id, "returned")]

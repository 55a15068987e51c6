"""The checkout's hooks price a buy attempt from the endpoint's snapshot of the sale (no query),
so the units UPDATE checks the database's rows itself: a sale ended or repriced in another
process a moment ago (this process's snapshot still fresh) sells nothing at the old terms."""

from __future__ import annotations

from datetime import datetime, timedelta, UTC

import sqlalchemy as sa

from .conftest import buy, create_sale, enabled_store, in_store, make_shoppers, product, sale_item


def _elsewhere(app, shop, sale_id, **values):
    """What another process's console wrote (this process's snapshot does not know)."""
    from mallow.db import db
    from mallow_flashsale.models import Sale, SaleItem

    def write():
        sale_values = {k: v for k, v in values.items() if k != "sale_price"}
        if sale_values:
            db.session.execute(sa.update(Sale).where(Sale.id == sale_id).values(**sale_values))
        if "sale_price" in values:
            db.session.execute(
                sa.update(SaleItem).where(SaleItem.sale_id == sale_id).values(sale_price=values["sale_price"])
            )
        db.session.commit()

    in_store(app, shop, write)


def _selling(app, monkeypatch):
    monkeypatch.setitem(app.config, "FLASHSALE_SNAPSHOT_SECONDS", 600.0)  # this process's snapshot stays
    shop = enabled_store(app)
    sku = product(app, shop, price=1000)
    sale = create_sale(app, shop, [{"sku_id": sku, "sale_price": 100, "quota": 5}])
    shoppers = make_shoppers(app, shop, 2)
    client = app.test_client()
    token, address, _c = shoppers[0]
    first = buy(client, shop, sale["id"], token, address, sku)
    assert first.status_code == 201 and first.get_json()["order"]["total"] < 1000  # snapshot taken
    return shop, sku, sale, shoppers[1], client, first.get_json()["order"]["total"]


def test_a_sale_ended_elsewhere_sells_nothing_more(fs_app, monkeypatch):
    shop, sku, sale, (token, address, _c), client, _total = _selling(fs_app, monkeypatch)
    _elsewhere(fs_app, shop, sale["id"], ends_at=datetime.now(UTC) - timedelta(seconds=1))
    refused = buy(client, shop, sale["id"], token, address, sku)
    assert refused.status_code == 409 and refused.get_json()["error"] == "unavailable"
    assert sale_item(fs_app, shop, sale["id"], sku)["remaining"] == 4
    # the refusal dropped the snapshot: the next attempt reads that the sale is over
    again = buy(client, shop, sale["id"], token, address, sku)
    assert again.status_code == 409 and again.get_json()["error"] == "ended"


def test_a_price_changed_elsewhere_is_not_sold_at_the_old_price(fs_app, monkeypatch):
    shop, sku, sale, (token, address, _c), client, first_total = _selling(fs_app, monkeypatch)
    _elsewhere(fs_app, shop, sale["id"], sale_price=300)
    refused = buy(client, shop, sale["id"], token, address, sku)
    assert refused.status_code == 409 and refused.get_json()["error"] == "unavailable"
    assert sale_item(fs_app, shop, sale["id"], sku)["remaining"] == 4
    placed = buy(client, shop, sale["id"], token, address, sku)  # the snapshot was dropped
    assert placed.status_code == 201
    assert placed.get_json()["order"]["total"] == first_total + 200  # the new sale price, 300 fen
    assert sale_item(fs_app, shop, sale["id"], sku)["remaining"] == 3

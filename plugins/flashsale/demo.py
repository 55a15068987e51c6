"""The demo store's flash sale (``mallow_seed_demo``): live for 7 days, a dedicated quota per
option (at most its stock). Found by title, made once."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from mallow.sdk import Product, db
from mallow_flashsale import sales
from mallow_flashsale.models import Sale

SALE_TITLE = "碧根果·小香薯 限时秒杀"
# (product title, the option's spec values, sale price in fen, quota: at most the option's stock)
ITEMS = [("碧根果", {"规格": "200g"}, 1990, 60), ("临安小香薯", {"规格": "2.5kg"}, 1990, 40)]


def seed(now: datetime) -> dict[str, str]:
    sale = db.session.execute(sa.select(Sale).where(Sale.title == SALE_TITLE)).scalars().first()
    if sale is None:
        items = []
        for title, values, price, quota in ITEMS:
            product = db.session.execute(sa.select(Product).where(Product.title == title)).scalar_one()
            sku = next(s for s in product.skus if s.spec_values == values)
            items.append({"sku_id": sku.id, "sale_price": price, "quota": min(quota, sku.stock)})
        sale = sales.save(
            {
                "title": SALE_TITLE,
                "starts_at": now.isoformat(),
                "ends_at": (now + timedelta(days=7)).isoformat(),
                "per_order_limit": 1,
                "per_shopper_limit": 2,
                "per_day_limit": 0,
                "published": True,
                "items": items,
            }
        )
    return {"flash sale": f"/x/flashsale/{sale.id}"}

"""The demo store's group buy (``mallow_seed_demo``): a 3-person campaign with a price ladder on
the demo's walnut kernels, 24 h to fill a group, running 30 days. Found by title, made once."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from mallow.sdk import Product, db
from mallow_groupbuy import campaigns
from mallow_groupbuy.models import Campaign

CAMPAIGN_TITLE = "山核桃仁 3 人拼团"
PRODUCT_TITLE = "临安山核桃仁"


def seed(now: datetime) -> dict[str, str]:
    campaign = db.session.execute(sa.select(Campaign).where(Campaign.title == CAMPAIGN_TITLE)).scalars().first()
    if campaign is None:
        product = db.session.execute(sa.select(Product).where(Product.title == PRODUCT_TITLE)).scalar_one()
        campaign = campaigns.create(
            {
                "title": CAMPAIGN_TITLE,
                "product_id": product.id,
                "sku_ids": [],
                "group_size": 3,
                "tiers": [{"size": 2, "percent": "95"}, {"size": 3, "percent": "88"}],
                "leader_discount_percent": "5",
                "window_hours": 24,
                "starts_at": now.isoformat(),
                "ends_at": (now + timedelta(days=30)).isoformat(),
                "quota": 100,
                "per_order_limit": 2,
                "per_shopper_limit": 4,
            }
        )
    return {"group buy": f"/x/groupbuy/c/{campaign.id}"}

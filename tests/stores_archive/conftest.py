"""Fixtures for store archives: an app per backend with the group-buy plugin approved and loaded,
a seeded store (a media-library image, a product, a group-buy campaign, a shopper with a phone
number and an address, an order with its group-buy adjustment, paid on the sandbox cashier), the
operator's key file, and removing a store the way a purge would (schema or file, platform rows,
files)."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

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
from mallow.testing.images import image_upload, png_bytes
from mallow.testing.payments import pay_with_sandbox


@pytest.fixture(scope="session", params=backend_params())
def archive_app(request, tmp_path_factory):
    app = plugin_app(tmp_path_factory, request.param, ["groupbuy"])
    yield app
    dispose_app(app)


@pytest.fixture
def key_file(tmp_path) -> Path:
    from mallow.stores.archive.keys import new_key_text

    path = tmp_path / "archive.key"
    path.write_text(new_key_text())
    return path


@dataclass
class Seeded:
    shop: object
    title: str
    product_id: int
    phone: str
    address_phone: str
    recipient: str
    media_path: str
    media_bytes: bytes
    order_id: int


def seed_store(app) -> Seeded:
    from mallow.db import db
    from mallow.media import library
    from mallow.tenants.context import store_context

    client = app.test_client()
    shop = make_store(app)
    enable_plugin(app, shop, "groupbuy")
    picture = png_bytes((80, 60), "#3a6")
    with store_context(shop.store_id, app=app):
        asset = library.upload(image_upload(picture, "cover.png"))
        db.session.commit()
        media_path = asset.path
        stored = (Path(app.config["MALLOW_DATA_DIR"]) / media_path).read_bytes()  # re-encoded on upload
    title = f"导出测试商品 {uuid.uuid4().hex[:6]}"
    skus = make_product(app, shop, title=title, price=10000, stock=50)
    with store_context(shop.store_id, app=app):
        from mallow.catalog.models import Sku

        product_id = db.session.get(Sku, skus[0]).product_id
    mtoken = merchant_token(client, shop)
    now = datetime.now(UTC)
    campaign = client.post(
        f"{shop.prefix}/api/console/x/groupbuy/campaigns",
        headers=bearer(mtoken),
        json={
            "title": "三人团",
            "product_id": product_id,
            "group_size": 3,
            "tiers": [{"size": 2, "percent": "95"}, {"size": 3, "percent": "90"}],
            "starts_at": (now - timedelta(minutes=5)).isoformat(),
            "ends_at": (now + timedelta(days=7)).isoformat(),
            "quota": 10,
        },
    )
    assert campaign.status_code == 201, campaign.get_json()
    phone = f"139{random.randrange(10**8):08d}"
    address_phone = f"137{random.randrange(10**8):08d}"
    recipient = "王小明"
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
            "detail": "文三路 99 号",
        },
    )
    assert address.status_code == 201, address.get_json()
    order = client.post(
        f"{shop.prefix}/api/orders",
        headers=bearer(token),
        json={
            "items": [{"sku_id": skus[0], "quantity": 1}],
            "address_id": address.get_json()["id"],
            "options": {"groupbuy": {"campaign_id": campaign.get_json()["id"], "group_id": None}},
        },
    )
    assert order.status_code == 201, order.get_json()
    assert order.get_json()["adjustments"] or any(line.get("adjustments") for line in order.get_json()["lines"])
    pay_with_sandbox(client, shop, token, order.get_json()["id"])
    return Seeded(
        shop,
        title,
        product_id,
        phone,
        address_phone,
        recipient,
        media_path,
        stored,
        order.get_json()["id"],
    )


def remove_store(app, store_id: int, *, merchant_id: int | None = None) -> None:
    """Take a store off the platform entirely: its schema or file, its platform rows, its files."""
    import shutil

    from mallow.db import db, platform_metadata
    from mallow.tenants.provisioning import drop_store

    t = platform_metadata.tables
    with app.app_context():
        drop_store(store_id)
        qualification_ids = [
            r
            for (r,) in db.session.execute(
                sa.select(t["qualifications"].c.id).where(t["qualifications"].c.store_id == store_id)
            )
        ]
        db.session.execute(
            sa.delete(t["qualification_permits"]).where(
                t["qualification_permits"].c.qualification_id.in_(qualification_ids)
            )
        )
        for name in ("qualifications", "store_plugins", "plugin_faults", "compliance_findings", "audit_log"):
            if name in t:
                db.session.execute(sa.delete(t[name]).where(t[name].c.store_id == store_id))
        db.session.execute(sa.delete(t["stores"]).where(t["stores"].c.id == store_id))
        if merchant_id is not None:
            db.session.execute(
                sa.delete(t["account_sessions"]).where(t["account_sessions"].c.account_id == merchant_id)
            )
            db.session.execute(sa.delete(t["merchants"]).where(t["merchants"].c.id == merchant_id))
        db.session.commit()
        base = Path(app.config["MALLOW_DATA_DIR"])
        for folder in (base / "uploads" / "stores" / str(store_id), base / "uploads" / str(store_id)):
            shutil.rmtree(folder, ignore_errors=True)


__all__ = ["Seeded", "remove_store", "seed_store"]

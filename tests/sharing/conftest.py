"""Fixtures for share links and posters: an app per backend with the distribution plugin loaded
(a distributor shares with their distributor code), a store with it enabled, its products."""

from __future__ import annotations

import io

import pytest

from mallow.testing import backend_params, dispose_app, enable_plugin, make_product, make_store, plugin_app


@pytest.fixture(scope="session", params=backend_params())
def share_app(request, tmp_path_factory):
    app = plugin_app(tmp_path_factory, request.param, ["distribution"])
    yield app
    dispose_app(app)


@pytest.fixture
def shop(share_app):
    shop = make_store(share_app)
    enable_plugin(share_app, shop, "distribution")
    return shop


@pytest.fixture
def client(share_app):
    return share_app.test_client()


TITLE = "临安山核桃仁 手剥 500克 礼盒装 新货上市 坚果零食 每日一包"


def product_with_photo(app, shop, title: str = TITLE, price: int = 12850) -> int:
    """An on-shelf product whose main image is a library image (a blue square on disk)."""
    import uuid
    from pathlib import Path

    import sqlalchemy as sa
    from PIL import Image

    from mallow.catalog.models import ProductImage, Sku
    from mallow.db import db
    from mallow.tenants.context import store_context

    [sku_id] = make_product(app, shop, title=title, price=price)
    name = f"media/{uuid.uuid4().hex}.jpg"
    path = Path(app.config["MALLOW_DATA_DIR"]) / "uploads" / "stores" / str(shop.store_id) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    Image.new("RGB", (900, 900), (20, 90, 200)).save(buffer, format="JPEG")
    path.write_bytes(buffer.getvalue())
    with store_context(shop.store_id, app=app):
        product_id = db.session.execute(sa.select(Sku.product_id).where(Sku.id == sku_id)).scalar_one()
        relative = f"uploads/stores/{shop.store_id}/{name}"
        db.session.add(
            ProductImage(product_id=product_id, path=relative, thumb_path=relative, width=900, height=900, sort=0)
        )
        db.session.commit()
    return product_id

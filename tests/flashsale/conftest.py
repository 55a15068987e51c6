"""Fixtures for the flash-sale plugin: an app with the plugin approved and loaded on each backend,
stores with it enabled, sales, shoppers made straight through the services, and a Redis key
prefix of its own per test (keys are deleted by that prefix afterwards, never FLUSHDB)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, UTC

import pytest
import sqlalchemy as sa

from mallow.testing import (
    HAVE_POSTGRES,
    HAVE_REDIS,
    REDIS_URL,
    backend_params,
    bearer,
    dispose_app,
    enable_plugin,
    make_product,
    make_store,
    merchant_token,
    plugin_app,
)

#: generous attempt limits for tests that fire many requests from one address
OPEN_LIMITS = {"ip_attempts_per_minute": 1_000_000, "shopper_attempts_per_minute": 600}


@pytest.fixture(scope="session", params=backend_params())
def fs_app(request, tmp_path_factory):
    """The app with the flash-sale plugin approved and loaded, on SQLite and PostgreSQL
    (no Redis: the embedded default)."""
    app = plugin_app(tmp_path_factory, request.param, ["flashsale"])
    yield app
    dispose_app(app)


@pytest.fixture(scope="session")
def fs_redis_app(tmp_path_factory):
    """PostgreSQL + Redis: the gate in front of the database."""
    if not HAVE_POSTGRES:
        pytest.skip("PostgreSQL is not running")
    if not HAVE_REDIS:
        pytest.skip("Redis is not running")
    app = plugin_app(tmp_path_factory, "postgresql", ["flashsale"], FLASHSALE_REDIS_URL=REDIS_URL)
    yield app
    dispose_app(app)


@pytest.fixture
def redis_prefix(fs_redis_app):
    """A key prefix of this test's own; its keys are deleted afterwards (never FLUSHDB)."""
    import redis

    prefix = f"mallow-test:flashsale:{uuid.uuid4().hex[:10]}"
    fs_redis_app.config["FLASHSALE_REDIS_PREFIX"] = prefix
    client = redis.Redis.from_url(REDIS_URL)
    yield prefix
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def now() -> datetime:
    return datetime.now(UTC)


def enabled_store(app, settings: dict | None = None):
    shop = make_store(app)
    enable_plugin(app, shop, "flashsale", settings)
    return shop


def create_sale(
    app,
    shop,
    items: list[dict],
    *,
    starts=None,
    ends=None,
    preheat=None,
    published=True,
    per_order=1,
    per_shopper=1,
    per_day=0,
    title="双十一秒杀",
) -> dict:
    """A sale through the console API; ``items``: ``[{"sku_id", "sale_price", "quota"}]``."""
    client = app.test_client()
    token = merchant_token(client, shop)
    body = {
        "title": title,
        "starts_at": (starts or now() - timedelta(minutes=1)).isoformat(),
        "ends_at": (ends or now() + timedelta(hours=1)).isoformat(),
        "preheat_at": preheat.isoformat() if preheat else None,
        "per_order_limit": per_order,
        "per_shopper_limit": per_shopper,
        "per_day_limit": per_day,
        "published": published,
        "items": items,
    }
    response = client.post(f"{shop.prefix}/api/console/x/flashsale/sales", headers=bearer(token), json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def make_shoppers(app, shop, count: int) -> list[tuple[str, int, int]]:
    """``count`` shoppers with a token and an address each, straight through the services:
    ``[(token, address_id, customer_id)]``."""
    from mallow.accounts import customers, sessions
    from mallow.db import db
    from mallow.orders import addresses
    from mallow.tenants.context import store_context

    made = []
    with store_context(shop.store_id, app=app):
        for _ in range(count):
            customer = customers.register(
                {
                    "login": f"fs-{uuid.uuid4().hex[:12]}@example.com",
                    "password": "test-pass-123",
                    "privacy_consent": True,
                }
            )
            token = sessions.issue(customer, "token")
            address = addresses.create(
                customer.id,
                {
                    "recipient": "王五",
                    "phone": "13912345678",
                    "province": "浙江省",
                    "city": "杭州市",
                    "district": "西湖区",
                    "detail": "文三路 1 号",
                },
            )
            made.append((token, address.id, customer.id))
        db.session.commit()
    return made


def buy(client, shop, sale_id: int, token: str, address_id: int, sku_id: int, quantity: int = 1, **headers):
    return client.post(
        f"{shop.prefix}/api/x/flashsale/sales/{sale_id}/buy",
        headers=bearer(token) | headers,
        json={"sku_id": sku_id, "quantity": quantity, "address_id": address_id},
    )


def in_store(app, shop, func):
    """Run ``func()`` inside the store (a fresh app context and session) and return its result."""
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        return func()


def sale_item(app, shop, sale_id: int, sku_id: int):
    from mallow.db import db
    from mallow_flashsale.models import SaleItem

    def read():
        item = db.session.execute(
            sa.select(SaleItem).where(SaleItem.sale_id == sale_id, SaleItem.sku_id == sku_id)
        ).scalar_one()
        return {"quota": item.quota, "remaining": item.remaining}

    return in_store(app, shop, read)


def product(app, shop, *, price=1000, stock=100, title="秒杀商品") -> int:
    return make_product(app, shop, title=title, price=price, stock=stock)[0]


def in_request(app, shop, func):
    """Run ``func()`` inside a request of the store (``url_for`` works, as in a template)."""
    from mallow.db import db
    from mallow.tenants.context import activate_store
    from mallow.tenants.models import Store

    with app.test_request_context(f"{shop.prefix}/"):
        try:
            activate_store(db.session.get(Store, shop.store_id))
            return func()
        finally:
            db.session.remove()

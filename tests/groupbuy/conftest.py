"""Fixtures for the group-buy plugin: an app per backend with the plugin approved and loaded,
stores with it enabled, campaigns made through the console API, shoppers who order through
Mallow's own order API and pay on the sandbox cashier, and the sweep run at a chosen time."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, UTC

import pytest

from mallow.testing import backend_params, bearer, dispose_app, enable_plugin, make_product, make_store, plugin_app


@pytest.fixture(scope="session", params=backend_params())
def gb_app(request, tmp_path_factory):
    """A Mallow app with the group-buy plugin approved and loaded (one per backend)."""
    app = plugin_app(tmp_path_factory, request.param, ["groupbuy"])
    yield app
    dispose_app(app)


@pytest.fixture
def client(gb_app):
    return gb_app.test_client()


def now() -> datetime:
    return datetime.now(UTC)


class Person:
    def __init__(self, token: str, address: int, login: str):
        self.token, self.address, self.login = token, address, login


class Mall:
    """One store with the plugin enabled, driven through HTTP like shoppers and the merchant."""

    def __init__(self, app, client, settings: dict | None = None):
        from mallow.testing import merchant_token

        self.app, self.client = app, client
        self.shop = make_store(app)
        enable_plugin(app, self.shop, "groupbuy", settings)
        self.api = f"{self.shop.prefix}/api/x/groupbuy"
        self.console_api = f"{self.shop.prefix}/api/console/x/groupbuy"
        self.mtoken = merchant_token(client, self.shop)

    # -- catalogue and campaigns ------------------------------------------------------------
    def product(self, price: int = 10000, stock: int = 100, skus: list[dict] | None = None) -> list[int]:
        return make_product(self.app, self.shop, title="拼团测试商品", price=price, stock=stock, skus=skus)

    def campaign(self, skus: list[int], **values) -> dict:
        """A campaign on the product of ``skus`` (every option unless ``sku_ids`` is given)."""
        product_id = self.product_of(skus[0])
        body = {
            "title": "三人团",
            "product_id": product_id,
            "group_size": 3,
            "tiers": [{"size": 2, "percent": "95"}, {"size": 3, "percent": "90"}],
            "starts_at": (now() - timedelta(minutes=5)).isoformat(),
            "ends_at": (now() + timedelta(days=7)).isoformat(),
            "quota": 10,
        } | values
        response = self.client.post(f"{self.console_api}/campaigns", headers=bearer(self.mtoken), json=body)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def product_of(self, sku_id: int) -> int:
        from mallow.catalog.models import Sku
        from mallow.db import db
        from mallow.tenants.context import store_context

        with store_context(self.shop.store_id, app=self.app):
            return db.session.get(Sku, sku_id).product_id

    # -- people and orders -----------------------------------------------------------------
    def shopper(self) -> Person:
        from mallow.testing import make_shopper

        login = f"buyer-{uuid.uuid4().hex[:10]}@example.com"
        token, address = make_shopper(self.client, self.shop, login)
        return Person(token, address, login)

    def order(
        self,
        person: Person,
        sku: int,
        campaign: dict | None,
        group_id: int | None = None,
        quantity: int = 1,
        expect: int = 201,
    ) -> dict:
        body = {"items": [{"sku_id": sku, "quantity": quantity}], "address_id": person.address}
        if campaign is not None:
            body["options"] = {"groupbuy": {"campaign_id": campaign["id"], "group_id": group_id}}
        response = self.client.post(f"{self.shop.prefix}/api/orders", headers=bearer(person.token), json=body)
        assert response.status_code == expect, response.get_json()
        return response.get_json()

    def pay(self, person: Person, order: dict) -> dict:
        from mallow.testing.payments import pay_with_sandbox

        pay_with_sandbox(self.client, self.shop, person.token, order["id"])
        return self.order_of(person, order)

    def buy(self, person: Person, sku: int, campaign: dict, group_id: int | None = None, quantity: int = 1) -> dict:
        return self.pay(person, self.order(person, sku, campaign, group_id, quantity))

    def order_of(self, person: Person, order: dict) -> dict:
        return self.get(f"{self.shop.prefix}/api/orders/{order['id']}", person.token)

    def group_of(self, order: dict) -> int:
        """The group an order opened or joined (from its timeline)."""
        for event in order["timeline"]:
            if event["kind"] in ("groupbuy_opened", "groupbuy_joined"):
                return event["detail"]["group_id"]
        raise AssertionError(f"order {order['id']} is in no group: {[e['kind'] for e in order['timeline']]}")

    def group(self, group_id: int) -> dict:
        return self.get(f"{self.console_api}/groups/{group_id}", self.mtoken)

    def public_group(self, group_id: int) -> dict:
        response = self.client.get(f"{self.api}/groups/{group_id}")
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        return response.get_json()

    def refund_after_sale(self, person: Person, order: dict) -> dict:
        """A full refund-only after-sales request, approved by the merchant (sandbox: at once)."""
        requested = self.post(
            f"{self.shop.prefix}/api/orders/{order['id']}/aftersales",
            person.token,
            {"kind": "refund_only", "reason": "不想要了"},
            expect=(201,),
        )
        decided = self.post(
            f"{self.shop.prefix}/api/console/aftersales/{requested['id']}/decision", self.mtoken, {"approve": True}
        )
        assert decided["status"] == "refunded", decided
        return decided

    # -- time ------------------------------------------------------------------------------
    def sweep(self, at: datetime) -> dict:
        from mallow.jobs.registry import execute

        return execute(self.app, "groupbuy.sweep_store", {"store_id": self.shop.store_id, "now": at.isoformat()})

    def order_sweep(self, at: datetime) -> dict:
        from mallow.jobs.registry import execute

        return execute(self.app, "orders.sweep_store", {"store_id": self.shop.store_id, "now": at.isoformat()})

    # -- reading the store's tables ------------------------------------------------------------
    def stock(self, sku: int) -> int:
        from mallow.catalog.models import Sku
        from mallow.db import db
        from mallow.tenants.context import store_context

        with store_context(self.shop.store_id, app=self.app):
            return db.session.get(Sku, sku).stock

    def campaign_row(self, campaign: dict) -> dict:
        return self.get(f"{self.console_api}/campaigns/{campaign['id']}", self.mtoken)

    # -- HTTP ------------------------------------------------------------------------------
    def get(self, path: str, token: str | None = None) -> dict:
        response = self.client.get(path, headers=bearer(token) if token else {})
        assert response.status_code == 200, (path, response.status_code, response.get_data(as_text=True)[:500])
        return response.get_json()

    def post(self, path: str, token: str, body: dict, expect=(200,)) -> dict:
        response = self.client.post(path, headers=bearer(token), json=body)
        assert response.status_code in expect, (path, response.status_code, response.get_data(as_text=True)[:500])
        return response.get_json()


@pytest.fixture
def mall(gb_app, client):
    return Mall(gb_app, client)


__all__ = ["Mall", "Person", "now"]

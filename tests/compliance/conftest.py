"""Compliance fixtures: a general-merchandise store and a food store, each with its merchant
signed in (a browser client) and a console API token."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from mallow.testing import Shop, bearer, login_merchant, make_store, merchant_token


@dataclass
class Merchant:
    shop: Shop
    client: object
    token: str

    @property
    def api(self) -> str:
        return f"{self.shop.prefix}/api/console"

    @property
    def headers(self) -> dict:
        return bearer(self.token)

    def create_product(self, title, **fields):
        body = {"title": title, "skus": [{"spec_values": {}, "price": 1000, "stock": 5}], **fields}
        return self.client.post(f"{self.api}/products", json=body, headers=self.headers)

    def update_product(self, product_id, **fields):
        return self.client.patch(f"{self.api}/products/{product_id}", json=fields, headers=self.headers)

    def findings_page(self, status=None) -> str:
        response = self.client.get(f"{self.shop.prefix}/console/compliance/" + (f"?status={status}" if status else ""))
        assert response.status_code == 200
        return response.get_data(as_text=True)


def _merchant(app, category: str) -> Merchant:
    shop = make_store(app, approved=category == "general", category=category)
    client = app.test_client()
    login_merchant(client, shop)
    return Merchant(shop, client, merchant_token(app.test_client(), shop))


@pytest.fixture
def general(app) -> Merchant:
    return _merchant(app, "general")


@pytest.fixture
def food(app) -> Merchant:
    return _merchant(app, "food_prepackaged")


@pytest.fixture
def word():
    """A term no other test uses (the term list is shared by the tests of a session)."""
    return "宇宙无敌" + uuid.uuid4().hex[:6]

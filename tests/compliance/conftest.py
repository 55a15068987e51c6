"""Compliance fixtures: a general-merchandise store and a food store, each with its merchant
signed in (a browser client) and a console API token."""

from __future__ import annotations

import uuid

import pytest
from mallow.testing import MerchantClient


class Merchant(MerchantClient):
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
    return Merchant.new_store(app, signed_in=True, approved=category == "general", category=category)


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

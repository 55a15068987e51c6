"""Catalogue test fixtures: a fresh store with its merchant's token, and helpers that create
categories and products through the console API."""

from __future__ import annotations


import pytest

from mallow.testing import MerchantClient


class Console(MerchantClient):
    def post(self, path, body):
        return self.client.post(self.api + path, json=body, headers=self.headers)

    def patch(self, path, body):
        return self.client.patch(self.api + path, json=body, headers=self.headers)

    def get(self, path, **kwargs):
        return self.client.get(self.api + path, headers=self.headers, **kwargs)

    def category(self, name, parent_id=None) -> int:
        response = self.post("/categories", {"name": name, "parent_id": parent_id})
        assert response.status_code == 201, response.get_json()
        return response.get_json()["id"]

    def product(
        self, title, price=1000, *, status="on_shelf", stock=100, category_id=None, specs=None, skus=None, **extra
    ) -> dict:
        body = {
            "title": title,
            "status": status,
            "category_id": category_id,
            "specs": specs or [],
            "skus": skus or [{"spec_values": {}, "price": price, "stock": stock}],
            **extra,
        }
        response = self.post("/products", body)
        assert response.status_code == 201, response.get_json()
        return response.get_json()


def new_console(app) -> Console:
    return Console.new_store(app)


@pytest.fixture
def console(app) -> Console:
    return new_console(app)


@pytest.fixture
def other_console(app) -> Console:
    return new_console(app)

"""Helpers of the chat tests: a store with its owner (console signed in, API token), shoppers
signed in on the storefront with a token too, orders, and reading an SSE stream."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import pytest

from mallow.testing import PASSWORD, bearer, login_merchant, make_store, merchant_token, post_form, register_shopper
from mallow.testing.http import csrf_token


@dataclass
class Shopper:
    client: object
    token: str
    login: str
    customer_id: int


@dataclass
class Desk:
    """The store's owner: a signed-in console ``client`` and an API ``token``."""

    shop: object
    client: object
    token: str


def new_shopper(app, shop) -> Shopper:
    client = app.test_client()
    login = register_shopper(client, shop)
    made = app.test_client().post(f"{shop.prefix}/api/tokens", json={"login": login, "password": PASSWORD})
    assert made.status_code == 201, made.get_json()
    token = made.get_json()["token"]
    me = app.test_client().get(f"{shop.prefix}/api/me", headers=bearer(token))
    customer_id = me.get_json()["id"] if me.status_code == 200 else None
    return Shopper(client, token, login, customer_id)


@pytest.fixture
def shop(app):
    return make_store(app)


@pytest.fixture
def desk(app, shop):
    client = app.test_client()
    login_merchant(client, shop)
    return Desk(shop, client, merchant_token(app.test_client(), shop))


@pytest.fixture
def shopper(app, shop):
    return new_shopper(app, shop)


def say(shopper: Shopper, shop, text: str, order: str | None = None, expect: int = 201) -> list[dict]:
    """The shopper sends ``text`` from the chat page (its form, CSRF token, the page's script's Accept)."""
    data = {"text": text, "csrf_token": csrf_token(shopper.client, f"{shop.prefix}/chat")}
    if order:
        data["order"] = order
    response = shopper.client.post(f"{shop.prefix}/chat", data=data, headers={"Accept": "application/json"})
    assert response.status_code == expect, response.get_data(as_text=True)[:400]
    return response.get_json()["messages"] if expect == 201 else response.get_json()


def conversations(client, shop, token, **query) -> list[dict]:
    response = client.get(f"{shop.prefix}/api/chat/conversations", headers=bearer(token), query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["conversations"]


def answer(desk: Desk, conversation_id: int, text: str, expect: int = 201):
    response = post_form(
        desk.client,
        f"{desk.shop.prefix}/console/chat/{conversation_id}/messages",
        {"text": text},
        form_path=f"{desk.shop.prefix}/console/chat/{conversation_id}",
        headers={"Accept": "application/json"},
    )
    assert response.status_code == expect, response.get_data(as_text=True)[:400]
    return response.get_json()


def events(body: str) -> list[dict]:
    """The ``message`` events of an SSE body: ``{"id": …, "data": {…}}`` each."""
    found = []
    for block in body.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":"))
        if fields.get("event") == "message":
            found.append({"id": int(fields["id"]), "data": json.loads(fields["data"])})
    return found


def unique(prefix: str = "chat") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"

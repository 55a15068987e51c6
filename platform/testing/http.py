"""Driving Mallow over HTTP as its users do: browser forms with their CSRF token, sign-ins, API
tokens (``bearer``), a shopper with an address, and :class:`MerchantClient` for the console API."""

from __future__ import annotations

import itertools
import re
import uuid
from dataclasses import dataclass

from .stores import PASSWORD, Shop, make_store

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
_counter = itertools.count(1)


def csrf_token(client, path: str) -> str:
    page = client.get(path)
    found = CSRF_RE.search(page.get_data(as_text=True))
    assert found, f"no CSRF token on {path} ({page.status_code})"
    return found.group(1)


def post_form(client, path: str, data: dict, form_path: str | None = None, **kwargs):
    """POST a form the way a browser does: with the CSRF token of the page that shows it."""
    data = dict(data)
    data["csrf_token"] = csrf_token(client, form_path or path)
    return client.post(path, data=data, **kwargs)


def login_merchant(client, shop: Shop):
    response = post_form(client, "/merchant/login", {"email": shop.email, "password": shop.password})
    assert response.status_code in (302, 303), response.status_code
    return response


def login_admin(client, email: str):
    response = post_form(client, "/admin/login", {"email": email, "password": PASSWORD})
    assert response.status_code in (302, 303), response.status_code
    return response


def register_shopper(client, shop: Shop, login: str | None = None):
    login = login or f"1{next(_counter) % 10**10 + 3 * 10**9:010d}"
    response = post_form(
        client, f"{shop.prefix}/register", {"login": login, "password": PASSWORD, "privacy_consent": "1"}
    )
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]
    return login


def merchant_token(client, shop: Shop, store: str | None = None) -> str:
    body = {"email": shop.email, "password": shop.password}
    if store:
        body["store"] = store
    response = client.post("/api/tokens", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["token"]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def make_shopper(client, shop: Shop, login: str | None = None) -> tuple[str, int]:
    """A shopper of ``shop`` with a token and one address; returns ``(token, address_id)``."""
    login = login or f"buyer-{uuid.uuid4().hex[:10]}@example.com"
    response = client.post(
        f"{shop.prefix}/api/customers", json={"login": login, "password": PASSWORD, "privacy_consent": True}
    )
    assert response.status_code == 201, response.get_json()
    token = response.get_json()["token"]
    address = client.post(
        f"{shop.prefix}/api/addresses",
        headers=bearer(token),
        json={
            "recipient": "李四",
            "phone": "13912345678",
            "province": "浙江省",
            "city": "杭州市",
            "district": "西湖区",
            "detail": "文三路 100 号",
        },
    )
    assert address.status_code == 201, address.get_json()
    return token, address.get_json()["id"]


@dataclass
class MerchantClient:
    """A store's merchant driving the console API (``/s/<slug>/api/console``) with a bearer
    token; ``client`` is a test client (signed in too when made with ``signed_in=True``).
    Test helpers add their own calls by subclassing it."""

    shop: Shop
    client: object
    token: str

    @classmethod
    def new_store(cls, app, *, signed_in: bool = False, **store):
        """A new store (``make_store`` keywords) and its merchant."""
        shop = make_store(app, **store)
        client = app.test_client()
        if signed_in:
            login_merchant(client, shop)
        return cls(shop, client, merchant_token(app.test_client(), shop))

    @property
    def api(self) -> str:
        return f"{self.shop.prefix}/api/console"

    @property
    def headers(self) -> dict:
        return bearer(self.token)

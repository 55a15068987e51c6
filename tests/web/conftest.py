"""An app with every bundled plugin approved, loaded and enabled in one store (one per backend):
the tests here go over every route, core and plugins alike."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from mallow.testing import (
    Shop,
    backend_params,
    bearer,
    csrf_token,
    dispose_app,
    enable_plugin,
    login_admin,
    login_merchant,
    make_admin,
    make_shopper,
    make_store,
    merchant_token,
    plugin_app,
    register_shopper,
)

PLUGINS = ["groupbuy", "flashsale", "distribution"]


@pytest.fixture(scope="session", params=backend_params())
def mall_app(request, tmp_path_factory):
    app = plugin_app(tmp_path_factory, request.param, PLUGINS)
    yield app
    dispose_app(app)


@pytest.fixture(scope="session")
def mall_shop(mall_app) -> Shop:
    shop = make_store(mall_app)
    for name in PLUGINS:
        enable_plugin(mall_app, shop, name)
    return shop


@dataclass
class Visitor:
    """A test client as one kind of visitor: signed in (session) and, for the API, a bearer
    token and the CSRF token of its session (so forms are not refused before the view runs)."""

    who: str
    client: object
    headers: dict


def visitor(app, shop: Shop, who: str) -> Visitor:
    client = app.test_client()
    headers: dict = {}
    if who == "merchant":
        login_merchant(client, shop)
        token = csrf_token(client, f"{shop.prefix}/console/products/new")
        headers = bearer(merchant_token(client, shop)) | {"X-CSRFToken": token}
    elif who == "shopper":
        register_shopper(client, shop)
        token, _address = make_shopper(app.test_client(), shop)
        headers = bearer(token) | {"X-CSRFToken": csrf_token(client, f"{shop.prefix}/account")}
    elif who == "admin":
        login_admin(client, make_admin(app)[1])
        headers = {"X-CSRFToken": csrf_token(client, "/admin/stores")}
    return Visitor(who, client, headers)

"""What every storefront request does before and after its view still shows where it is asked
for, now that the work is done only when a request needs it: the signed-in shopper in the
templates that read ``current_user`` (found when a template reads it, not before every page),
the CSRF check of a form (a ``GET`` is never checked; a ``POST`` without its token is refused,
an exempt API write is not), and the store's row as its stamp says (read once a request, at the
front door: a change shows on the next page)."""

from __future__ import annotations

import re

import pytest

from mallow.testing import bearer, make_product, make_shopper, make_store
from mallow.testing.http import csrf_token, register_shopper


@pytest.fixture
def shop(app):
    return make_store(app)


def _orders_link(page: str, shop) -> bool:
    return bool(re.search(rf'<p class="muted"><a href="{re.escape(shop.prefix)}/orders">', page))


def test_the_cart_offers_my_orders_to_a_signed_in_shopper_only(app, shop):
    visitor = app.test_client()
    anonymous = visitor.get(f"{shop.prefix}/cart")
    assert anonymous.status_code == 200
    assert not _orders_link(anonymous.get_data(as_text=True), shop)

    shopper = app.test_client()
    register_shopper(shopper, shop)
    signed_in = shopper.get(f"{shop.prefix}/cart")
    assert signed_in.status_code == 200
    assert _orders_link(signed_in.get_data(as_text=True), shop)


def test_a_form_post_without_its_csrf_token_is_refused_and_with_it_is_taken(app, shop):
    [sku] = make_product(app, shop, title="核桃", price=1200)
    client = app.test_client()
    assert client.get(f"{shop.prefix}/?anything=1").status_code == 200  # a GET carries no token to check

    refused = client.post(f"{shop.prefix}/cart/items", data={"sku_id": sku, "quantity": 1})
    assert refused.status_code == 400
    assert "/cart" not in (refused.headers.get("Location") or "")

    token = csrf_token(client, f"{shop.prefix}/login")  # the session's token, as any form of the store shows it
    taken = client.post(f"{shop.prefix}/cart/items", data={"sku_id": sku, "quantity": 1, "csrf_token": token})
    assert taken.status_code == 303
    assert "核桃" in client.get(f"{shop.prefix}/cart").get_data(as_text=True)


def test_an_api_write_with_a_bearer_token_needs_no_csrf_token(app, shop):
    [sku] = make_product(app, shop, title="山核桃", price=1500)
    client = app.test_client()
    token, _address = make_shopper(client, shop)
    answer = client.post(f"{shop.prefix}/api/cart/items", headers=bearer(token), json={"sku_id": sku, "quantity": 2})
    assert answer.status_code in (200, 201), answer.get_json()


def test_a_renamed_store_shows_its_new_name_on_the_next_page(app, shop):
    from mallow.db import db
    from mallow.tenants.context import store_context

    client = app.test_client()
    assert client.get(f"{shop.prefix}/").status_code == 200
    client.get(f"{shop.prefix}/")  # served from the store's snapshot now
    with app.app_context(), store_context(shop.store_id) as store:
        store.name = "改名后的小铺"
        db.session.commit()
    page = client.get(f"{shop.prefix}/")
    assert page.status_code == 200
    assert "改名后的小铺" in page.get_data(as_text=True)

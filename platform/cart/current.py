"""The cart of this request: the signed-in shopper's, else the guest's.

A guest's cart is found by a random token in an HttpOnly, SameSite=Lax cookie (one per store):
:func:`current_cart` makes one when asked to, and :func:`update_cookie` (run after every
storefront request, :mod:`mallow.storefront.cart`) sets it; :func:`signed_in` (called at every
sign-in: password, SMS code, WeChat) merges the guest cart into the shopper's and has the cookie
forgotten. :func:`item_count` is the count the tab bar and the buy bar show.
"""

from __future__ import annotations

import re

from flask import g, request

from mallow.accounts.guards import principal
from mallow.cart import service as carts
from mallow.db import db
from mallow.tenants.context import current_store

CART_COOKIE_DAYS = 30
TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def cookie_name() -> str:
    # the id the resolver kept, not the Store row's: after a commit that row would be read again
    return f"mallow_cart_{g.mallow_store_id}"


def guest_token() -> str | None:
    token = request.cookies.get(cookie_name())
    return token if token and TOKEN.match(token) else None


def shopper_id() -> int | None:
    shopper = principal("shopper")
    return shopper.id if shopper is not None else None


def current_cart(create: bool = False):
    """The shopper's cart, else the guest's; with ``create``, a new one when there is none (a
    guest's gets a new token, set as the cookie after the request)."""
    shopper = principal("shopper")
    if shopper is not None and guest_token():  # signed in without the sign-in page (e.g. WeChat)
        signed_in(shopper)
        db.session.commit()
    customer_id = shopper.id if shopper is not None else None
    token = None if customer_id is not None else guest_token()
    if not create:
        return carts.find(customer_id, token)
    if customer_id is None and token is None:
        token = carts.new_guest_token()
        g.mallow_new_cart_token = token
    return carts.get_or_create(customer_id, token)


def signed_in(customer) -> None:
    """At sign-in or registration: the guest cart joins the shopper's cart; the cookie goes."""
    token = guest_token()
    if token:
        carts.merge_guest_cart(customer.id, token)
        g.mallow_forget_cart_cookie = True


def update_cookie(response):
    """After a storefront request: set the new guest cart's cookie, or forget a merged one."""
    if g.get("mallow_new_cart_token"):
        response.set_cookie(
            cookie_name(),
            g.mallow_new_cart_token,
            max_age=CART_COOKIE_DAYS * 86400,
            path="/",
            httponly=True,
            samesite="Lax",
            secure=request.is_secure,
        )
    elif g.get("mallow_forget_cart_cookie"):
        response.delete_cookie(cookie_name(), path="/", httponly=True, samesite="Lax", secure=request.is_secure)
    return response


def current_shopper():
    """The signed-in shopper of this store on any storefront page (plugin pages too), or None."""
    return principal("shopper") if current_store() is not None else None


def item_count() -> int:
    """How many items (quantities added up) the shopper's or the guest's cart holds; read once
    per request."""
    if "mallow_cart_count" not in g:
        shopper = current_shopper()
        cart = carts.find(shopper.id, None) if shopper is not None else carts.find(None, guest_token())
        g.mallow_cart_count = sum(item.quantity for item in cart.items) if cart is not None else 0
    return g.mallow_cart_count


def count_badge(count: int) -> str:
    """A count as a badge shows it: nothing for 0, ``99+`` above 99."""
    return "" if count <= 0 else ("99+" if count > 99 else str(count))

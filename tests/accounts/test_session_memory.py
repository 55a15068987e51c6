"""A shopper's session is looked up once per process while the store's sessions stamp holds
(mallow.accounts.session_memory): later requests run no lookup, and a sign-out, a switched-off
shopper or a profile edit is seen by the very next request."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from mallow.testing import bearer, make_shopper, make_store, post_form, register_shopper


def _lookups(call) -> int:
    """How many statements of ``call`` read ``customer_sessions`` (any engine)."""
    seen = []

    def record(_conn, _cursor, statement, *_rest):
        if re.search(r"\bcustomer_sessions\b", statement):
            seen.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        call()
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    return len(seen)


def _nickname(app, client, shop, token) -> str | None:
    answer = client.get(f"{shop.prefix}/api/me", headers=bearer(token))
    return answer.get_json()["nickname"] if answer.status_code == 200 else None


def test_a_token_is_looked_up_once_then_served_from_memory(app):
    shop = make_store(app)
    client = app.test_client()
    token, _address = make_shopper(client, shop)
    assert client.get(f"{shop.prefix}/api/me", headers=bearer(token)).status_code == 200
    assert _lookups(lambda: client.get(f"{shop.prefix}/api/me", headers=bearer(token))) == 0
    # still the right shopper, and a wrong token is still refused
    assert client.get(f"{shop.prefix}/api/me", headers=bearer(token)).get_json()["id"] > 0
    assert client.get(f"{shop.prefix}/api/me", headers=bearer(token[:-2] + "xx")).status_code == 401


def test_a_kept_token_of_one_store_opens_nothing_in_another(app):
    first, second = make_store(app), make_store(app)
    client = app.test_client()
    token, _address = make_shopper(client, first)
    assert client.get(f"{first.prefix}/api/me", headers=bearer(token)).status_code == 200
    assert client.get(f"{first.prefix}/api/me", headers=bearer(token)).status_code == 200  # kept now
    assert client.get(f"{second.prefix}/api/me", headers=bearer(token)).status_code == 401


def test_a_switched_off_shopper_is_refused_at_the_next_request(app):
    from mallow.accounts.models import Customer
    from mallow.db import db
    from mallow.tenants.context import store_context

    shop = make_store(app)
    client = app.test_client()
    token, _address = make_shopper(client, shop)
    me = client.get(f"{shop.prefix}/api/me", headers=bearer(token)).get_json()
    assert client.get(f"{shop.prefix}/api/me", headers=bearer(token)).status_code == 200  # from memory
    with store_context(shop.store_id, app=app):
        db.session.get(Customer, me["id"]).active = False
        db.session.commit()
    assert client.get(f"{shop.prefix}/api/me", headers=bearer(token)).status_code == 401


def test_a_profile_edit_shows_at_the_next_request(app):
    from mallow.accounts.models import Customer
    from mallow.db import db
    from mallow.tenants.context import store_context

    shop = make_store(app)
    client = app.test_client()
    token, _address = make_shopper(client, shop)
    me = client.get(f"{shop.prefix}/api/me", headers=bearer(token)).get_json()
    assert _nickname(app, client, shop, token) == me["nickname"]  # kept
    with store_context(shop.store_id, app=app):
        db.session.get(Customer, me["id"]).nickname = "山核桃爱好者"
        db.session.commit()
    assert _nickname(app, client, shop, token) == "山核桃爱好者"


def test_a_copied_cookie_stops_working_after_sign_out(app):
    shop = make_store(app)
    browser = app.test_client()
    register_shopper(browser, shop)
    account = f"{shop.prefix}/account"
    assert browser.get(account).status_code == 200
    assert browser.get(account).status_code == 200  # the session from memory now
    copied = browser.get_cookie("session").value
    assert post_form(browser, f"{shop.prefix}/logout", {}, form_path=account).status_code == 303
    thief = app.test_client()
    thief.set_cookie("session", copied)
    answer = thief.get(account)
    assert answer.status_code in (302, 303) and "/login" in answer.headers["Location"]


@pytest.mark.parametrize("app", ["postgresql"], indirect=True)
def test_a_signed_in_request_runs_no_lookup_once_kept_on_postgresql(app):
    shop = make_store(app)
    client = app.test_client()
    token, _address = make_shopper(client, shop)
    assert _lookups(lambda: client.get(f"{shop.prefix}/api/me", headers=bearer(token))) == 0  # kept since sign-up
    app.extensions["mallow.session_memory"].entries.clear()  # as a process that has not met the token
    assert _lookups(lambda: client.get(f"{shop.prefix}/api/me", headers=bearer(token))) == 1
    assert _lookups(lambda: client.get(f"{shop.prefix}/api/me", headers=bearer(token))) == 0

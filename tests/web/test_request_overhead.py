"""What every dynamic request costs before and after its view, in what can be counted.

Counts are deterministic where timings are not: connections the pool hands out (on PostgreSQL
each checkout also costs the pool's checks and its reset on return, several round trips), SQL
statements, the cookie a response sets. A refused token runs no SQL and takes no connection; a
valid one costs its one statement; an API call with a bearer token leaves no session cookie.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import Pool

from mallow.testing import bearer, make_shopper, make_store
from mallow.testing.sql import listing, statements


@contextmanager
def checkouts() -> Iterator[list[object]]:
    """The connections any pool hands out inside the block."""
    seen: list[object] = []

    def count(dbapi_connection, _record, _proxy):
        seen.append(dbapi_connection)

    sa.event.listen(Pool, "checkout", count)
    try:
        yield seen
    finally:
        sa.event.remove(Pool, "checkout", count)


@pytest.fixture
def shop(app):
    return make_store(app)


def test_a_request_without_a_token_is_refused_without_sql_or_a_connection(app, shop):
    client = app.test_client()
    client.get(f"{shop.prefix}/api/me")  # the store is met once (its row, its stamp)

    with statements() as seen, checkouts() as taken:
        refused = client.get(f"{shop.prefix}/api/me")

    assert refused.status_code == 401 and refused.get_json()["error"] == "unauthenticated"
    assert refused.headers["WWW-Authenticate"] == "Bearer"
    assert seen == [], listing(seen)
    assert taken == []


def test_a_bearer_request_costs_one_statement_on_one_connection_and_sets_no_cookie(app, shop):
    client = app.test_client()
    token, _address = make_shopper(client, shop)
    app.extensions["mallow.session_memory"].entries.clear()  # a process meeting the token first

    with statements() as seen, checkouts() as taken:
        me = client.get(f"{shop.prefix}/api/me", headers=bearer(token))

    assert me.status_code == 200 and me.get_json()["login"]
    assert len(seen) == 1 and "customer_sessions" in seen[0], listing(seen)
    assert len(taken) == 1
    assert "Set-Cookie" not in me.headers


def test_a_bearer_request_the_process_has_met_costs_no_statement_and_no_connection(app, shop):
    client = app.test_client()
    token, _address = make_shopper(client, shop)
    assert client.get(f"{shop.prefix}/api/me", headers=bearer(token)).status_code == 200

    with statements() as seen, checkouts() as taken:
        me = client.get(f"{shop.prefix}/api/me", headers=bearer(token))

    assert me.status_code == 200 and me.get_json()["login"]
    assert seen == [] and taken == [], listing(seen)
    assert "Set-Cookie" not in me.headers


def test_an_unknown_token_or_one_of_another_kind_or_store_is_refused(app, shop):
    client = app.test_client()
    token, _address = make_shopper(client, shop)
    elsewhere, _address = make_shopper(client, make_store(app))
    for sent in ("shp_not-a-token", "mer_" + token.split("_", 1)[1], elsewhere):
        refused = client.get(f"{shop.prefix}/api/me", headers=bearer(sent))
        assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Bearer", sent
    assert client.get(f"{shop.prefix}/api/me", headers=bearer(token)).status_code == 200


def test_a_browser_session_still_round_trips(app, shop):
    """The cookie session without its per-request cost is the same session: what a page puts
    in it comes back on the next request, signed; a tampered cookie reads as an empty session."""
    client = app.test_client()
    serializer = app.session_interface.get_signing_serializer(app)

    def csrf_in_session() -> str:
        return serializer.loads(client.get_cookie("session").value)["csrf_token"]

    assert client.get(f"{shop.prefix}/login").status_code == 200
    first = csrf_in_session()  # the CSRF token the form needs
    assert client.get(f"{shop.prefix}/login").status_code == 200
    assert csrf_in_session() == first
    client.set_cookie("session", client.get_cookie("session").value[:-2] + "xx")
    assert client.get(f"{shop.prefix}/login").status_code == 200
    assert csrf_in_session() != first


def test_the_language_follows_the_browser_then_the_cookie_then_the_query(app, shop):
    client = app.test_client()
    english = {"Accept-Language": "en-GB,en;q=0.9"}
    refused = client.get(f"{shop.prefix}/api/me", headers=english)
    assert refused.get_json()["message"] == "Sign in or send a valid bearer token."
    for _ in range(2):  # the browser's header is parsed once per process: the same answer again
        chinese = client.get(f"{shop.prefix}/api/me", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
        assert chinese.get_json()["message"] != "Sign in or send a valid bearer token."
    assert client.get(f"{shop.prefix}/api/me?lang=en").get_json()["message"].startswith("Sign in")
    assert (
        client.get(f"{shop.prefix}/api/me", headers={"Accept-Language": "zh-CN"})
        .get_json()["message"]
        .startswith("Sign in")
    )  # the lang cookie ?lang=en set outranks the browser's header

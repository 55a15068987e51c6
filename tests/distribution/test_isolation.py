"""Enabled in store A, not in store B: B's prices, checkout, pages, API and tables show no trace
of the plugin; disabling it in A stops it at once and keeps its data."""

from __future__ import annotations

from datetime import datetime, timedelta, UTC

import sqlalchemy as sa

from mallow.testing import (
    bearer,
    disable_plugin,
    enable_plugin,
    make_product,
    make_shopper,
    make_store,
    register_shopper,
)


def _tables(app, shop) -> set[str]:
    """The tables in a store's own schema (PostgreSQL) or file (SQLite)."""
    from mallow.db import db

    with app.app_context():
        if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
            return set(sa.inspect(db.engine).get_table_names(schema=f"store_{shop.store_id}"))
        engine = app.extensions["mallow.store_engines"].engine_for(shop.store_id)
        return set(sa.inspect(engine).get_table_names(schema="store"))


def test_enabled_in_a_disabled_in_b_leaves_no_trace_in_b(mall, dist_app, client):
    # store A: a distributor and a referred buyer
    a_sku = mall.product(price=10000)
    promoter = mall.distributor()
    buyer = mall.shopper()
    mall.bind(buyer, promoter)
    a_order = mall.buy(buyer, a_sku)
    assert mall.paid_to(a_order) == {promoter.distributor_id: 1000}

    # store B: never enabled
    b = make_store(dist_app)
    [b_sku] = make_product(dist_app, b, price=10000)
    token, address = make_shopper(client, b)
    # a checkout that names a referral code changes nothing in B (not even a binding attempt)
    placed = client.post(
        f"{b.prefix}/api/orders",
        headers=bearer(token),
        json={
            "items": [{"sku_id": b_sku, "quantity": 1}],
            "address_id": address,
            "options": {"distribution": {"ref": promoter.code}},
        },
    )
    assert placed.status_code == 201, placed.get_json()
    order = placed.get_json()
    assert order["total"] == 10000 and all(adj["source"] != "distribution" for adj in order["adjustments"])
    from mallow.testing.payments import pay_with_sandbox

    pay_with_sandbox(client, b, token, order["id"])

    # no tables, no routes, no pages, no menu
    assert not {t for t in _tables(dist_app, b) if t.startswith("distribution")}
    assert {t for t in _tables(dist_app, mall.shop) if t.startswith("distribution")} >= {
        "distribution_distributors",
        "distribution_commissions",
        "distribution_ledger",
    }
    for path in (
        f"{b.prefix}/x/distribution/",
        f"{b.prefix}/x/distribution/r/{promoter.code}",
        f"{b.prefix}/api/x/distribution/me",
        f"{b.prefix}/console/x/distribution/",
        f"{b.prefix}/api/console/x/distribution/distributors",
    ):
        assert client.get(path, headers=bearer(token)).status_code == 404, path
    register_shopper(client, b)
    home = client.get(f"{b.prefix}/").get_data(as_text=True)
    assert "data-distribution-entry" not in home and "/x/distribution" not in home

    # the settlement job only visits stores that enabled the plugin
    from mallow.jobs.registry import execute

    later = (datetime.now(UTC) + timedelta(days=8)).isoformat()
    results = execute(dist_app, "distribution.settle", {"now": later})
    assert b.store_id not in results and mall.shop.store_id in results
    assert execute(dist_app, "distribution.settle_store", {"store_id": b.store_id}) is None


def test_disabling_stops_it_and_keeps_the_data(mall, dist_app, client):
    sku = mall.product(price=10000)
    promoter = mall.distributor()
    buyer = mall.shopper()
    mall.bind(buyer, promoter)
    mall.buy(buyer, sku)

    disable_plugin(dist_app, mall.shop, "distribution")
    assert client.get(f"{mall.api}/me", headers=bearer(promoter.token)).status_code == 404
    order = mall.buy(buyer, sku)  # paid while disabled: no commission
    enable_plugin(dist_app, mall.shop, "distribution")
    assert mall.paid_to(order) == {}
    mall.settle(datetime.now(UTC))  # nor later: the sweep accrues only what a failure missed
    assert mall.paid_to(order) == {}
    assert mall.balances(promoter)["pending"] == 1000  # the first order's commission is still there
    assert mall.get(f"{mall.api}/me", buyer.token)["referred_by"] == promoter.code


def test_home_page_entry_for_signed_in_shoppers(mall, dist_app, client):
    assert "data-distribution-entry" not in client.get(f"{mall.shop.prefix}/").get_data(as_text=True)
    register_shopper(client, mall.shop)
    home = client.get(f"{mall.shop.prefix}/").get_data(as_text=True)
    assert "data-distribution-entry" in home and f"{mall.shop.prefix}/x/distribution/" in home


def test_console_menu_lists_the_plugin_only_where_enabled(mall, dist_app):
    import pytest

    plugin_console_menu = pytest.importorskip("mallow.plugins.web").plugin_console_menu
    from mallow.tenants.context import store_context

    with dist_app.test_request_context():
        with store_context(mall.shop.store_id, app=dist_app):
            entries = plugin_console_menu()
    assert [e["url"] for e in entries if e["plugin"] == "distribution"] == [
        f"/s/{mall.shop.slug}/console/x/distribution/"
    ]
    other = make_store(dist_app)
    with dist_app.test_request_context():
        with store_context(other.store_id, app=dist_app):
            assert [e for e in plugin_console_menu() if e["plugin"] == "distribution"] == []

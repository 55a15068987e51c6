"""Recording events without slowing the request: the bounded buffer (one INSERT executed for a
store's rows per batch, a full buffer drops and counts), the beacon (kept pages are counted through it: 204, no
session, no query), add to cart, share links, orders placed and paid."""

from __future__ import annotations

import re
import time

import pytest
import sqlalchemy as sa

from mallow.testing import bearer, make_product, make_shopper, make_store
from mallow.testing.sql import statements


def events(app, shop):
    from mallow.analytics.buffer import buffer_of
    from mallow.analytics.models import KINDS, SOURCES, AnalyticsEvent
    from mallow.db import db
    from mallow.tenants.context import store_context

    buffer_of(app).flush()
    with store_context(shop.store_id, app=app):
        rows = db.session.execute(sa.select(AnalyticsEvent).order_by(AnalyticsEvent.id)).scalars()
        return [(KINDS[e.kind], e.visitor, e.product_id, e.sku_id, SOURCES[e.source], e.ref) for e in rows]


@pytest.fixture
def shop(app):
    shop = make_store(app)
    [sku] = make_product(app, shop, title="临安山核桃仁", price=3900, stock=50)
    shop.sku = sku
    from mallow.catalog.models import Sku
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        shop.product = db.session.get(Sku, sku).product_id
    return shop


def test_a_batch_is_one_insert_per_store(app):
    """One INSERT executed for all of a store's rows (the driver's executemany), whatever their
    number: 1,200 rows of one store (more than SQLite takes parameters in one statement) and 7
    of another, every row written as it was queued."""
    from mallow.analytics.buffer import EventBuffer
    from mallow.analytics.models import PAGE_VIEW
    from mallow.analytics.recording import row

    first, second = make_store(app), make_store(app)
    buffer = EventBuffer(app, flush_seconds=0)
    for i in range(1200):
        buffer.add(first.store_id, row(PAGE_VIEW, f"visitor-a{i:04}"))
    for i in range(7):
        buffer.add(second.store_id, row(PAGE_VIEW, f"visitor-b{i:04}"))
    with statements() as seen:
        assert buffer.flush() == 1207
    inserts = [s for s in seen if s.upper().startswith("INSERT")]
    assert len(inserts) == 2, inserts
    assert all("analytics_events" in s for s in inserts)
    assert [e[1] for e in events(app, first)] == [f"visitor-a{i:04}" for i in range(1200)]
    assert [e[1] for e in events(app, second)] == [f"visitor-b{i:04}" for i in range(7)]


def test_a_full_buffer_drops_and_counts_without_waiting(app):
    from mallow.analytics.buffer import EventBuffer
    from mallow.analytics.models import PAGE_VIEW
    from mallow.analytics.recording import row

    shop = make_store(app)
    buffer = EventBuffer(app, capacity=3, flush_seconds=0)
    added = [buffer.add(shop.store_id, row(PAGE_VIEW, f"visitor-{i:04}")) for i in range(5)]
    assert added == [True, True, True, False, False]
    assert (len(buffer), buffer.dropped) == (3, 2)
    assert buffer.flush() == 3 and len(buffer) == 0
    assert buffer.add(shop.store_id, row(PAGE_VIEW, "visitor-next")) is True


def test_kept_pages_carry_the_beacon_and_the_beacon_counts_their_views(app, shop):
    path = f"{shop.prefix}/products/{shop.product}"
    for _ in range(2):
        assert app.test_client().get(path).status_code == 200
    visitor = app.test_client()
    page = visitor.get(path)
    assert page.headers["X-Mallow-Cache"] == "hit"  # the front door answered: no Flask, no view recorded there
    beacon = re.search(r'data-mallow-beacon="([^"]+)"', page.get_data(as_text=True)).group(1)
    assert beacon == f"{shop.prefix}/a/b"
    visitor.set_cookie("mallow_v", "0123456789abcdef01234567")
    with statements() as seen:
        answer = visitor.post(f"{beacon}?p={path}")
    assert answer.status_code == 204 and answer.data == b""
    assert "Set-Cookie" not in answer.headers  # no session written
    assert [s for s in seen if "analytics_events" in s] == []  # buffered, not written in the request
    visitor.get(f"{beacon}?p={shop.prefix}/?utm_source=wxgroup")  # the image fallback (GET)
    assert events(app, shop) == [
        ("page_view", "0123456789abcdef01234567", None, None, "direct", ""),
        ("product_view", "0123456789abcdef01234567", shop.product, None, "direct", ""),
        ("page_view", "0123456789abcdef01234567", None, None, "campaign", "wxgroup"),
    ]


def test_a_beacon_without_a_path_is_a_field_error(app, shop):
    answer = app.test_client().get(f"{shop.prefix}/a/b")
    assert answer.status_code == 400 and "p" in answer.get_json()["errors"]


def test_a_share_link_visit_is_recorded_and_remembered_for_later_events(app, shop):
    code = "ABCDEFGH"
    visitor = app.test_client()
    visitor.set_cookie("mallow_v", "visitor-share-0001")
    answer = visitor.get(f"{shop.prefix}/share/r/{code}/product/{shop.product}")
    assert answer.status_code == 303
    assert f"mallow_src=s:{code}" in answer.headers["Set-Cookie"]
    visitor.get(f"{shop.prefix}/a/b?p={shop.prefix}/products/{shop.product}")
    recorded = events(app, shop)
    assert recorded[0] == ("share", "visitor-share-0001", shop.product, None, "share", code)
    assert recorded[1] == ("page_view", "visitor-share-0001", None, None, "share", code)


def test_add_to_cart_and_an_order_placed_are_recorded_after_the_commit(app, shop):
    client = app.test_client()
    token, address = make_shopper(client, shop)
    client.set_cookie("mallow_v", "visitor-buyer-0001")
    added = client.post(
        f"{shop.prefix}/api/cart/items", headers=bearer(token), json={"sku_id": shop.sku, "quantity": 1}
    )
    assert added.status_code in (200, 201), added.get_json()
    placed = client.post(
        f"{shop.prefix}/api/orders",
        headers=bearer(token),
        json={"items": [{"sku_id": shop.sku, "quantity": 2}], "address_id": address},
    )
    assert placed.status_code == 201, placed.get_json()
    kinds = [(kind, visitor, sku) for kind, visitor, _p, sku, _s, _r in events(app, shop)]
    assert kinds == [("add_to_cart", "visitor-buyer-0001", shop.sku), ("order_placed", "visitor-buyer-0001", None)]


def test_recording_a_view_touches_no_database_and_no_redis(app, shop, monkeypatch):
    """What a beacon view costs the request: two rows appended to the process's buffer (a page
    view and, on a product page, a product view), no statement and no Redis command; the
    buffer's thread writes them later."""
    from mallow.analytics.buffer import EventBuffer
    from mallow.analytics.recording import record_view
    from redis import Redis

    commands: list = []
    real = Redis.execute_command
    monkeypatch.setattr(Redis, "execute_command", lambda self, *a, **k: commands.append(a) or real(self, *a, **k))
    app.extensions["mallow.analytics.buffer"], kept = (
        EventBuffer(app, flush_seconds=0),
        app.extensions["mallow.analytics.buffer"],
    )
    try:
        cookies = {"mallow_v": "0123456789abcdef01234567"}
        with statements() as seen:
            for _ in range(50):
                assert record_view(app, shop.store_id, f"{shop.prefix}/products/{shop.product}", cookies)
        buffered = len(app.extensions["mallow.analytics.buffer"])
    finally:
        app.extensions["mallow.analytics.buffer"] = kept
    assert seen == [] and commands == []
    assert buffered == 100


def test_the_thread_writes_the_buffer_every_few_seconds(app):
    from mallow.analytics.buffer import EventBuffer
    from mallow.analytics.models import PAGE_VIEW
    from mallow.analytics.recording import row

    shop = make_store(app)
    buffer = EventBuffer(app, flush_seconds=0.05)
    try:
        buffer.add(shop.store_id, row(PAGE_VIEW, "visitor-thread-01"))
        deadline = time.monotonic() + 10
        while buffer.written == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        buffer.close()
    assert buffer.written == 1 and len(buffer) == 0
    assert [e[1] for e in events(app, shop)] == ["visitor-thread-01"]

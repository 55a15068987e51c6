"""The queue (排队中) for shoppers in the browser: with admission on (Redis), the sale page's buy
button admits the attempt through the front door's own script (the shopper from the cookie
session instead of a token) and answers a waiting page that polls the ticket; after the drain the
ticket page sends the shopper to the cashier of their order. Only the ticket's own shopper reads
it; the script's refusals show on the sale page as the synchronous path words them; a refusal the
drain met is worded on the ticket page (an unpaid order with a link to it); without Redis the
page places the order synchronously, as before."""

from __future__ import annotations

import re
import uuid
from types import SimpleNamespace

import pytest

from mallow.jobs.registry import execute
from mallow.testing import HAVE_REDIS, REDIS_URL, JobRecorder, backend_params, dispose_app, plugin_app, post_form

from .conftest import OPEN_LIMITS, create_sale, enabled_store, in_store, make_shoppers, product, sale_item
from .test_admission import _orders
from .test_early_answers import counted


@pytest.fixture(scope="module", params=backend_params())
def web_app(request, tmp_path_factory):
    if not HAVE_REDIS:
        pytest.skip("Redis is needed")
    app = plugin_app(
        tmp_path_factory,
        request.param,
        ["flashsale"],
        REDIS_URL=REDIS_URL,
        FLASHSALE_REDIS_URL=REDIS_URL,
    )
    yield app
    dispose_app(app)


@pytest.fixture
def door(web_app, monkeypatch):
    """Own key prefixes (deleted afterwards, never FLUSHDB) and a job recorder (the test drains)."""
    import redis

    prefix = f"mallow-test:{uuid.uuid4().hex[:10]}"
    monkeypatch.setitem(web_app.config, "FLASHSALE_REDIS_PREFIX", f"{prefix}:fs")
    monkeypatch.setitem(web_app.config, "SESSION_MIRROR_PREFIX", f"{prefix}:m")
    jobs = JobRecorder(only="flashsale.")  # the drain; not the notifications of the store's approval
    monkeypatch.setitem(web_app.extensions, "mallow.jobs", jobs)
    with web_app.app_context():
        from mallow_flashsale import flags

        flags.reset()
    client = redis.Redis.from_url(REDIS_URL)
    yield SimpleNamespace(app=web_app, jobs=jobs, redis=client, prefix=prefix)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def signed_in(app, shop, count: int = 1) -> list[SimpleNamespace]:
    """``count`` shoppers with an address, each signed in in a browser (a test client holding a
    session cookie issued as the sign-in page issues it)."""
    from mallow.accounts import sessions
    from mallow.accounts.models import Customer
    from mallow.db import db

    people = []
    for token, address, customer_id in make_shoppers(app, shop, count):

        def issue(customer_id=customer_id):
            secret = sessions.issue(db.session.get(Customer, customer_id), "cookie")
            db.session.commit()
            return secret

        secret = in_store(app, shop, issue)
        value = app.session_interface.get_signing_serializer(app).dumps(
            {sessions.session_key("shopper", shop.store_id): secret, "_permanent": True}
        )
        client = app.test_client()
        client.set_cookie(app.config["SESSION_COOKIE_NAME"], value)
        people.append(SimpleNamespace(client=client, address=address, id=customer_id, token=token))
    return people


def sale_page(shopper, shop, sale_id):
    return f"{shop.prefix}/x/flashsale/{sale_id}"


def tap_buy(shopper, shop, sale_id, sku, *, attempt: str | None = None, address=None, **extra):
    """The sale page's form, as the browser sends it (its CSRF token, the page's attempt key)."""
    page = sale_page(shopper, shop, sale_id)
    html = shopper.client.get(page).get_data(as_text=True)
    if attempt is None:
        attempt = re.search(r'name="attempt" value="([0-9a-f]+)"', html).group(1)
    data = {"sku_id": str(sku), "address_id": str(address or shopper.address), "attempt": attempt, **extra}
    return post_form(shopper.client, f"{page}/buy", data, form_path=page)


def ticket_of(response) -> str:
    return re.search(r'data-fs-poll="[^"]*/tickets/([0-9a-f]{32})/state"', response.get_data(as_text=True)).group(1)


def drain(app, shop):
    return execute(app, "flashsale.drain", {"store_id": shop.store_id})


def a_sale(app, units, *, per_shopper=1, shoppers=2):
    shop = enabled_store(app, OPEN_LIMITS)
    sku = product(app, shop, stock=1000, title="临安山核桃")
    sale = create_sale(app, shop, [{"sku_id": sku, "sale_price": 990, "quota": units}], per_shopper=per_shopper)
    return shop, sku, sale["id"], signed_in(app, shop, shoppers)


def test_a_browser_shopper_waits_in_the_queue_and_lands_on_the_cashier(door):
    app = door.app
    shop, sku, sale_id, (shopper, _other) = a_sale(app, 3)
    waiting = tap_buy(shopper, shop, sale_id, sku)
    assert waiting.status_code == 202, waiting.get_data(as_text=True)[:800]
    html = waiting.get_data(as_text=True)
    assert 'id="fs-queued"' in html and "临安山核桃" in html and "fs-spinner" in html
    assert waiting.headers["Cache-Control"] == "no-store"
    ticket = ticket_of(waiting)
    ticket_url = f"{shop.prefix}/x/flashsale/tickets/{ticket}"
    # without script the page reloads its ticket page; with it, static/queue.js polls the state
    assert f'<noscript><meta http-equiv="refresh" content="3;url={ticket_url}"></noscript>' in html
    assert re.search(r'<script src="[^"]*/x/flashsale/static/queue\.js\?v=\w+" defer></script>', html)
    assert door.jobs.queued == [("flashsale.drain", {"store_id": shop.store_id})]
    assert _orders(app, shop, sale_id) == []  # nothing placed inside the request

    # while queued: the ticket page is the waiting page again, the state says so
    again = shopper.client.get(ticket_url)
    assert again.status_code == 200 and 'id="fs-queued"' in again.get_data(as_text=True)
    assert shopper.client.get(f"{ticket_url}/state").get_json() == {"status": "queued"}

    assert drain(app, shop) == 1
    ((customer_id, order_id),) = _orders(app, shop, sale_id)
    assert customer_id == shopper.id
    cashier = f"{shop.prefix}/orders/{order_id}/pay"
    landed = shopper.client.get(ticket_url)
    assert landed.status_code == 303 and landed.headers["Location"].endswith(cashier)
    assert shopper.client.get(f"{ticket_url}/state").get_json() == {"status": "ordered", "url": cashier}
    assert sale_item(app, shop, sale_id, sku)["remaining"] == 2
    # the cashier the shopper lands on is their order's
    assert shopper.client.get(cashier).status_code == 200


def test_a_double_tap_is_one_ticket_and_one_order(door):
    app = door.app
    shop, sku, sale_id, (shopper, _other) = a_sale(app, 3, per_shopper=3)
    attempt = uuid.uuid4().hex
    first = ticket_of(tap_buy(shopper, shop, sale_id, sku, attempt=attempt))
    second = tap_buy(shopper, shop, sale_id, sku, attempt=attempt)
    assert second.status_code == 202 and ticket_of(second) == first
    assert drain(app, shop) == 1 and len(_orders(app, shop, sale_id)) == 1


def test_only_the_tickets_own_shopper_reads_it(door):
    app = door.app
    shop, sku, sale_id, (shopper, other) = a_sale(app, 3)
    ticket = ticket_of(tap_buy(shopper, shop, sale_id, sku))
    ticket_url = f"{shop.prefix}/x/flashsale/tickets/{ticket}"
    visitor = app.test_client()
    for client in (other.client, visitor):
        assert client.get(ticket_url).status_code == 404
        refused = client.get(f"{ticket_url}/state")
        assert refused.status_code == 404 and refused.get_json()["error"] == "not_found"
    drain(app, shop)
    assert other.client.get(ticket_url).status_code == 404  # ordered: still only theirs
    assert visitor.get(f"{ticket_url}/state").status_code == 404
    assert shopper.client.get(f"{ticket_url}/state").get_json()["status"] == "ordered"
    # another store's shopper with the same ticket id: 404 (the ticket names its store)
    shop2, _sku2, _sale2, (stranger,) = a_sale(app, 1, shoppers=1)
    assert stranger.client.get(f"{shop2.prefix}/x/flashsale/tickets/{ticket}/state").status_code == 404
    assert shopper.client.get(f"{shop.prefix}/x/flashsale/tickets/not-a-ticket/state").status_code == 404


def test_polling_costs_no_sql_and_one_redis_round_trip(door):
    app = door.app
    shop, sku, sale_id, (shopper, _other) = a_sale(app, 3)
    ticket = ticket_of(tap_buy(shopper, shop, sale_id, sku))
    state_url = f"{shop.prefix}/x/flashsale/tickets/{ticket}/state"
    assert shopper.client.get(state_url).status_code == 200  # the process meets the session once
    with counted() as counts:
        assert shopper.client.get(state_url).get_json() == {"status": "queued"}
    assert counts["sql"] == 0 and counts["redis"] == 1


def test_an_admitted_attempt_places_nothing_in_the_request(door):
    """The buy button's request: no order, no stock, no write in the database; one admission script."""
    app = door.app
    shop, sku, sale_id, people = a_sale(app, 5, shoppers=3)
    tap_buy(people[0], shop, sale_id, sku)  # the sale, its settings and the item's card read once
    page = sale_page(people[1], shop, sale_id)
    html = people[1].client.get(page).get_data(as_text=True)
    attempt = re.search(r'name="attempt" value="([0-9a-f]+)"', html).group(1)
    from mallow.testing.http import csrf_token

    form = {"sku_id": str(sku), "address_id": str(people[1].address), "attempt": attempt}
    form["csrf_token"] = csrf_token(people[1].client, page)
    statements = []
    import sqlalchemy as sa

    def seen(_conn, _cursor, statement, *_args):
        statements.append(statement)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", seen)
    try:
        with counted() as counts:
            answer = people[1].client.post(f"{page}/buy", data=form)
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", seen)
    assert answer.status_code == 202
    writes = [s for s in statements if s.lstrip().split()[0].upper() in ("INSERT", "UPDATE", "DELETE")]
    assert writes == []
    assert counts["redis"] == 1  # the admission script; the drain job was queued by the first
    # the only reads are the page frame's: its theme and the tab bar's cart count (SQLite also
    # counts its BEGIN): no order, no stock
    reads = [s for s in statements if not s.lstrip().upper().startswith("BEGIN")]
    assert len(reads) == 2 and "builder_state" in reads[0] and "cart_items" in reads[1], statements


def test_refusals_the_script_decides_show_on_the_sale_page_as_before(door, monkeypatch):
    from mallow_flashsale import admission, flags

    app = door.app
    shop, sku, sale_id, (first, second, third) = a_sale(app, 2, shoppers=3)
    assert tap_buy(first, shop, sale_id, sku).status_code == 202
    drain(app, shop)

    def synchronously(shopper, **form):
        with monkeypatch.context() as patched:
            patched.setattr(admission, "redis_on", lambda _app: (None, None))
            with app.app_context():
                flags.reset()
            return tap_buy(shopper, shop, sale_id, sku, **form)

    def error(response) -> str:
        return re.search(r'id="fs-error">([^<]+)<', response.get_data(as_text=True)).group(1)

    # their own unpaid order (a fresh page: a new attempt key)
    queued = tap_buy(first, shop, sale_id, sku, attempt="")
    before = synchronously(first, attempt="")
    assert queued.status_code == before.status_code == 409
    assert error(queued) == error(before) == "你在本场秒杀中还有一笔待付款订单，请先付款或取消。"
    ((_first, unpaid),) = _orders(app, shop, sale_id)
    for page in (queued, before):  # 立即付款: the unpaid order's cashier
        assert f'href="{shop.prefix}/orders/{unpaid}/pay" id="fs-unpaid"' in page.get_data(as_text=True)
    # sold out: the script says so (and the flag remembers it); the second's order is not made
    # yet, so the page still offers the button
    with app.app_context():
        flags.reset()
    assert tap_buy(second, shop, sale_id, sku).status_code == 202
    queued = tap_buy(third, shop, sale_id, sku)
    before = synchronously(third)
    assert queued.status_code == before.status_code == 409
    assert error(queued) == error(before) == "已售罄"
    assert 'id="fs-queued"' not in queued.get_data(as_text=True)
    # one drain per crowd: the first's, then the second's (the queue had emptied); none for refusals
    assert door.jobs.queued == [("flashsale.drain", {"store_id": shop.store_id})] * 2


def test_the_shoppers_limit_from_the_script_is_worded_as_before(door, monkeypatch):
    from mallow_flashsale import admission, flags

    app = door.app
    shop, sku, sale_id, (shopper, _other) = a_sale(app, 5, per_shopper=1)
    assert tap_buy(shopper, shop, sale_id, sku).status_code == 202
    drain(app, shop)
    # the unpaid marker goes (as if paid): the shopper's limit decides
    door.redis.hdel(f"{door.prefix}:fs:{{{shop.store_id}:{sale_id}}}:pend", str(shopper.id))
    queued = tap_buy(shopper, shop, sale_id, sku)
    with monkeypatch.context() as patched:
        patched.setattr(admission, "redis_on", lambda _app: (None, None))
        with app.app_context():
            flags.reset()
        before = tap_buy(shopper, shop, sale_id, sku, attempt="")
    assert queued.status_code == 409 and 'id="fs-error"' in queued.get_data(as_text=True)
    assert "本场秒杀每人最多购买 1 件。" in queued.get_data(as_text=True)
    # the synchronous path finds the unpaid order in the database first: its own words
    assert before.status_code == 409 and 'id="fs-error"' in before.get_data(as_text=True)


def test_a_refusal_the_drain_met_is_worded_on_the_ticket_page_with_a_link_to_the_unpaid_order(door):
    app = door.app
    shop, sku, sale_id, (shopper, _other) = a_sale(app, 5, per_shopper=3)
    assert tap_buy(shopper, shop, sale_id, sku).status_code == 202
    drain(app, shop)
    # the gate forgot the unpaid order (flushed): the script admits, the database refuses
    door.redis.hdel(f"{door.prefix}:fs:{{{shop.store_id}:{sale_id}}}:pend", str(shopper.id))
    ticket = ticket_of(tap_buy(shopper, shop, sale_id, sku))
    drain(app, shop)
    state = shopper.client.get(f"{shop.prefix}/x/flashsale/tickets/{ticket}/state").get_json()
    assert state == {"status": "failed", "url": f"{shop.prefix}/x/flashsale/tickets/{ticket}"}
    page = shopper.client.get(state["url"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="fs-refused"' in html and 'id="fs-queued"' not in html
    assert "你在本场秒杀中还有一笔待付款订单，请先付款或取消。" in html
    ((_customer, unpaid),) = _orders(app, shop, sale_id)
    assert f'href="{shop.prefix}/orders/{unpaid}/pay" id="fs-unpaid"' in html  # 立即付款: their unpaid order
    assert "http-equiv" not in html  # a refused ticket does not reload itself
    assert len(_orders(app, shop, sale_id)) == 1
    assert sale_item(app, shop, sale_id, sku)["remaining"] == 4  # the refused units went back


def test_without_redis_the_page_places_the_order_as_before(fs_app):
    shop = enabled_store(fs_app, OPEN_LIMITS)
    sku = product(fs_app, shop)
    sale = create_sale(fs_app, shop, [{"sku_id": sku, "sale_price": 100, "quota": 2}])
    (shopper,) = signed_in(fs_app, shop)
    placed = tap_buy(shopper, shop, sale["id"], sku)
    assert placed.status_code == 201 and 'id="fs-placed"' in placed.get_data(as_text=True)
    assert 'id="fs-queued"' not in placed.get_data(as_text=True)
    assert len(_orders(fs_app, shop, sale["id"])) == 1


def test_with_redis_for_the_gate_only_the_page_places_the_order_as_before(fs_redis_app, redis_prefix):
    """The door admits only where the shopper mirror and the gate share one Redis; the gate alone
    (no REDIS_URL) keeps the synchronous path."""
    shop = enabled_store(fs_redis_app, OPEN_LIMITS)
    sku = product(fs_redis_app, shop)
    sale = create_sale(fs_redis_app, shop, [{"sku_id": sku, "sale_price": 100, "quota": 2}])
    (shopper,) = signed_in(fs_redis_app, shop)
    placed = tap_buy(shopper, shop, sale["id"], sku)
    assert placed.status_code == 201 and 'id="fs-placed"' in placed.get_data(as_text=True)

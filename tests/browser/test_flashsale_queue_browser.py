"""The flash sale's queue (排队中) in real headless Chromium on a 375 px phone: with Redis, a signed-in
shopper taps the sale page's buy button, sees the waiting page (排队中…, the item, a spinner, 请勿关闭
页面) while their attempt waits in the store's queue, and lands on their order's cashier once the
drain (run here by the test while the page polls) made the order. Without JavaScript the page
reloads its ticket page by itself and arrives at the same cashier.

Screenshots: ``docs/screenshots/journeys/flashsale-queue-<step>-default.png``."""

from __future__ import annotations

import re
import sys
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from mallow.testing import serving  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))  # demo_store.py, journey_kit.py (pytest's importlib mode)
from demo_store import JOURNEYS, PHONE_HEIGHT, PHONE_WIDTH, chromium_or_skip, small_png  # noqa: E402
from journey_kit import launch, sideways, translated, visible_text  # noqa: E402

from mallow.testing import (  # noqa: E402
    HAVE_POSTGRES,
    HAVE_REDIS,
    REDIS_URL,
    JobRecorder,
    dispose_app,
    enable_plugin,
    make_product,
    make_store,
    merchant_token,
    plugin_app,
)

OPEN_LIMITS = {"ip_attempts_per_minute": 1_000_000, "shopper_attempts_per_minute": 600}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The app with the flash sale and Redis admission on, served on 127.0.0.1 in a thread."""
    chromium_or_skip()
    if not HAVE_REDIS:
        pytest.skip("Redis is needed for the queue")

    prefix = f"mallow-test:{uuid.uuid4().hex[:10]}"
    app = plugin_app(
        tmp_path_factory,
        "postgresql" if HAVE_POSTGRES else "sqlite",
        ["flashsale"],
        REDIS_URL=REDIS_URL,
        FLASHSALE_REDIS_URL=REDIS_URL,
        FLASHSALE_REDIS_PREFIX=f"{prefix}:fs",
        SESSION_MIRROR_PREFIX=f"{prefix}:m",
    )
    app.extensions["mallow.jobs"] = JobRecorder()
    try:
        with serving(app) as base:
            yield SimpleNamespace(app=app, base=base)
    finally:
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
        dispose_app(app)


def a_live_sale(app):
    """A store with a live sale of one item, and a shopper with an address: ``(shop, sale id, cookie)``."""
    from datetime import datetime, timedelta, UTC

    from mallow.accounts import customers, sessions
    from mallow.db import db
    from mallow.orders import addresses
    from mallow.tenants.context import store_context
    from mallow.testing import bearer

    shop = make_store(app)
    enable_plugin(app, shop, "flashsale", OPEN_LIMITS)
    (sku,) = make_product(app, shop, title="临安手剥山核桃 250g", price=5990, stock=500)
    client = app.test_client()
    now = datetime.now(UTC)
    made = client.post(
        f"{shop.prefix}/api/console/x/flashsale/sales",
        headers=bearer(merchant_token(client, shop)),
        json={
            "title": "山核桃整点秒杀",
            "starts_at": (now - timedelta(minutes=1)).isoformat(),
            "ends_at": (now + timedelta(hours=1)).isoformat(),
            "preheat_at": None,
            "per_order_limit": 1,
            "per_shopper_limit": 1,
            "per_day_limit": 0,
            "published": True,
            "items": [{"sku_id": sku, "sale_price": 2990, "quota": 50}],
        },
    )
    assert made.status_code == 201, made.get_json()
    with store_context(shop.store_id, app=app):
        customer = customers.register(
            {"login": f"q-{uuid.uuid4().hex[:10]}@example.com", "password": "pass-123-q", "privacy_consent": True}
        )
        addresses.create(
            customer.id,
            {
                "recipient": "周小禾",
                "phone": "13900001111",
                "province": "浙江省",
                "city": "杭州市",
                "district": "临安区",
                "detail": "锦北街道农林大路 88 号",
                "is_default": True,
            },
        )
        secret = sessions.issue(customer, "cookie")
        customer_id = customer.id
        db.session.commit()
    value = app.session_interface.get_signing_serializer(app).dumps(
        {sessions.session_key("shopper", shop.store_id): secret, "_permanent": True}
    )
    return shop, made.get_json()["id"], value, customer_id


def phone(browser, base: str, cookie: str, app, *, script: bool = True):
    context = browser.new_context(
        viewport={"width": PHONE_WIDTH, "height": PHONE_HEIGHT},
        device_scale_factor=1,
        has_touch=True,
        locale="zh-CN",
        java_script_enabled=script,
    )
    context.set_default_timeout(20_000)
    context.add_cookies(
        [
            {"name": app.config["SESSION_COOKIE_NAME"], "value": cookie, "url": base},
            {"name": "lang", "value": "zh_CN", "url": base},
        ]
    )
    return context


def check_phone_page(page, problems: list[str]) -> str:
    width, culprits = sideways(page)
    assert width <= PHONE_WIDTH, f"{width} px wide at {PHONE_WIDTH} px ({page.url}): {culprits}"
    assert not problems, problems
    return visible_text(page)


def drain(app, shop) -> int:
    from mallow.jobs.registry import execute

    return execute(app, "flashsale.drain", {"store_id": shop.store_id})


def order_of(app, shop, sale_id, customer_id) -> int:
    import sqlalchemy as sa

    from mallow.db import db
    from mallow.tenants.context import store_context
    from mallow_flashsale.models import Purchase

    with store_context(shop.store_id, app=app):
        return db.session.execute(
            sa.select(Purchase.order_id).where(Purchase.sale_id == sale_id, Purchase.customer_id == customer_id)
        ).scalar_one()


def test_a_shopper_taps_buy_waits_in_the_queue_and_lands_on_the_cashier(served):
    app, base = served.app, served.base
    shop, sale_id, cookie, customer_id = a_live_sale(app)
    texts = SimpleNamespace(app=app)
    queued_text = translated(texts, "In the queue…", plugin="flashsale")
    stay_text = translated(texts, "Please do not close this page.", plugin="flashsale")
    with launch() as browser:
        context = phone(browser, base, cookie, app)
        page = context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
        page.goto(f"{base}{shop.prefix}/x/flashsale/{sale_id}", wait_until="load")
        page.locator("#fs-buy-now").tap()
        page.wait_for_selector("#fs-queued")
        text = check_phone_page(page, problems)
        assert queued_text in text and stay_text in text and "临安手剥山核桃 250g" in text
        # the spinner shows with the queued view (it may paint a moment later)
        page.wait_for_selector(".fs-spinner", state="visible", timeout=5000)
        small_png(JOURNEYS / "flashsale-queue-waiting-default.png", page.screenshot())
        # the page polls while the order is made behind the door (the drain, as the worker runs it)
        page.wait_for_timeout(1500)
        assert "/x/flashsale/" in page.url  # still waiting: nothing was drained yet
        assert drain(app, shop) == 1
        order_id = order_of(app, shop, sale_id, customer_id)
        page.wait_for_url(re.compile(rf"/orders/{order_id}/pay$"), timeout=15_000)
        page.wait_for_load_state("load")
        check_phone_page(page, problems)
        small_png(JOURNEYS / "flashsale-queue-cashier-default.png", page.screenshot())
        # back on the sale page, a second tap: the script refuses (their unpaid order), in the
        # synchronous path's words, on the sale page itself
        page.goto(f"{base}{shop.prefix}/x/flashsale/{sale_id}", wait_until="load")
        page.locator("#fs-buy-now").tap()
        page.wait_for_selector("#fs-error")
        problems[:] = [p for p in problems if "status of 409" not in p]  # the refusal's own status
        text = check_phone_page(page, problems)
        pending = "You have an unpaid order in this flash sale: pay or cancel it first."
        assert translated(texts, pending, plugin="flashsale") in text
        assert page.locator("#fs-unpaid").get_attribute("href").endswith(f"/orders/{order_id}/pay")
        small_png(JOURNEYS / "flashsale-queue-refused-default.png", page.screenshot())
        assert drain(app, shop) == 0  # nothing was queued for it
        context.close()


def test_without_javascript_the_waiting_page_reloads_to_the_cashier(served):
    app, base = served.app, served.base
    shop, sale_id, cookie, customer_id = a_live_sale(app)
    with launch() as browser:
        context = phone(browser, base, cookie, app, script=False)
        page = context.new_page()
        page.goto(f"{base}{shop.prefix}/x/flashsale/{sale_id}", wait_until="load")
        page.locator("#fs-buy-now").tap()
        page.wait_for_selector("#fs-queued")
        assert page.locator("noscript").count() == 1  # its refresh: the ticket page in 3 s
        assert drain(app, shop) == 1
        order_id = order_of(app, shop, sale_id, customer_id)
        page.wait_for_url(re.compile(rf"/orders/{order_id}/pay$"), timeout=15_000)  # the refresh, then 303
        context.close()


def test_an_anonymous_visitor_gets_the_kept_sale_page_and_its_clock_ticks(served):
    """The crowd's page is kept by the front door for anonymous visitors; its clock counts to the
    sale's absolute deadline, so a kept page's countdown is as right as a fresh one's."""
    import urllib.request

    app, base = served.app, served.base
    shop, sale_id, _cookie, _customer_id = a_live_sale(app)
    url = f"{base}{shop.prefix}/x/flashsale/{sale_id}"
    with urllib.request.urlopen(url) as first:
        assert first.headers.get("X-Mallow-Cache") is None
    with launch() as browser:
        context = browser.new_context(
            viewport={"width": PHONE_WIDTH, "height": PHONE_HEIGHT}, device_scale_factor=1, locale="zh-CN"
        )
        page = context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        answer = page.goto(url, wait_until="load")
        assert answer.headers.get("x-mallow-cache") == "hit"
        clock = page.locator(".fs-countdown .fs-clock")
        before = clock.inner_text()
        page.wait_for_timeout(2200)
        after = clock.inner_text()
        assert before != after and re.fullmatch(r"(00:)?(59|58):\d\d", after), (before, after)
        check_phone_page(page, problems)
        small_png(JOURNEYS / "flashsale-sale-kept-default.png", page.screenshot())
        context.close()

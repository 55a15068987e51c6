"""Membership and points in real headless Chromium (Debian's), in Chinese: the merchant turns the
programme on in the console (营销 → 会员); a shopper holding points (granted through the service)
opens 我的 → 会员中心 at 375×812 and sees the balance, goes to checkout, switches points on and sees
the total drop, pays in the sandbox cashier, and the order's receipt keeps the 积分抵扣 line.

Every shopper page fails the test on a console error, an unexpected HTTP error, a sideways scroll
or a raw key (tests/browser/journey_kit.py); screenshots go to ``docs/screenshots/membership-*.png``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

BROWSER_KIT = Path(__file__).resolve().parents[1] / "browser"
sys.path.insert(0, str(BROWSER_KIT))  # journey_kit.py, demo_store.py (pytest's importlib mode)
from journey_kit import Journey, demo_server, launch, new_shopper  # noqa: E402
from demo_store import small_png  # noqa: E402

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
POINTS = 5000


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    yield from demo_server(tmp_path_factory)


@pytest.fixture(scope="module")
def browser(demo):
    with launch() as browser:
        yield browser


def _shot(page, name: str, full_page: bool = False) -> None:
    small_png(SHOTS / f"membership-{name}.png", page.screenshot(full_page=full_page))


def _merchant_turns_the_programme_on(demo, browser) -> None:
    from mallow.demo import MERCHANT_EMAIL, PASSWORD

    context = browser.new_context(viewport={"width": 1024, "height": 900}, locale="zh-CN")
    context.set_default_timeout(20_000)
    context.add_cookies([demo.language_cookie("zh_CN")])
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "response",
        lambda r: (
            problems.append(f"HTTP {r.status} for {r.url}") if r.status >= 400 and r.url.startswith(demo.base) else None
        ),
    )
    try:
        page.goto(f"{demo.base}/merchant/login")
        page.fill("input[name=email]", MERCHANT_EMAIL)
        page.fill("input[name=password]", PASSWORD)
        page.locator("form button[type=submit]").first.click()
        page.wait_for_load_state("load")
        page.goto(f"{demo.store}/console/")
        page.locator("#nav-membership").click()
        page.wait_for_url(re.compile(r"/console/membership$"))
        assert page.locator("#f-enabled").is_checked() is False
        page.locator("#f-enabled").check()
        page.fill("#f-points_per_yuan", "100")
        page.fill("#f-redeem_cap_percent", "50")
        page.fill("#f-earn_per_yuan", "1")
        page.fill("#f-validity_days", "365")
        page.locator("#save-program").click()
        page.wait_for_url(re.compile(r"/console/membership$"))
        assert page.locator("#f-enabled").is_checked() and page.locator("#program-state.badge-active").count() == 1
        _shot(page, "console", full_page=True)
        assert not problems, problems
    finally:
        context.close()


def _grant(demo, login: str, points: int) -> None:
    import sqlalchemy as sa

    from mallow.accounts import customers
    from mallow.accounts.models import Customer
    from mallow.db import db
    from mallow.membership import service
    from mallow.security import crypto
    from mallow.tenants.context import store_context

    with store_context(demo.ids["store"], app=demo.app):
        digest = crypto.digest(customers.normalise_login(login))
        customer_id = db.session.execute(sa.select(Customer.id).where(Customer.login_digest == digest)).scalar_one()
        service.grant(customer_id, points, "reward", "新会员礼")
        db.session.commit()


def test_a_shopper_pays_part_of_an_order_with_points(demo, browser):
    _merchant_turns_the_programme_on(demo, browser)
    with Journey(demo, browser, "membership") as journey:
        shopper = new_shopper(demo, journey)
        _grant(demo, shopper.login, POINTS)

        page = journey.goto("/account")
        card = page.locator("#member-card")
        assert card.locator("#card-points").get_attribute("data-points") == str(POINTS)
        journey.check("account", screenshot=False)
        _shot(page, "account", full_page=True)
        card.locator("#to-member-centre").tap()
        page.wait_for_url(re.compile(r"/account/member$"))
        assert page.locator("#points-balance").inner_text() == str(POINTS)
        journey.check("centre", screenshot=False)
        _shot(page, "centre", full_page=True)
        page.locator("#to-ledger").tap()
        page.wait_for_url(re.compile(r"/account/points$"))
        assert "新会员礼" in page.locator("#ledger").inner_text()
        journey.check("ledger", screenshot=False)
        _shot(page, "ledger")

        page = journey.goto(f"/products/{demo.ids['product_id']}")
        page.locator("#buy-bar .pd-buy").tap()
        page.locator("#sku-sheet .pd-buy").tap()  # 立即购买 → checkout
        page.wait_for_url(re.compile(r"/checkout"))
        row = page.locator("#points-row")
        assert row.get_attribute("data-balance") == str(POINTS)
        usable = int(row.get_attribute("data-max-points"))
        assert usable > 0 and page.locator("#points-switch").get_attribute("aria-checked") == "false"
        assert page.locator('#receipt tr[data-stage="points"]').count() == 0
        before = int(page.locator("#receipt").get_attribute("data-total"))
        journey.check("checkout", screenshot=False)
        with page.expect_navigation():
            page.locator("#points-switch").tap()  # priced again with the points
        assert page.locator("#points-switch").get_attribute("aria-checked") == "true"
        line = page.locator('#receipt tr[data-stage="points"]')
        saving = -int(line.locator("[data-amount]").get_attribute("data-amount"))
        assert saving == usable  # 100 points = ¥1: a point is a fen
        assert int(page.locator("#receipt").get_attribute("data-total")) == before - saving
        assert str(usable) in line.inner_text()
        journey.check("checkout-points", screenshot=False)
        _shot(page, "checkout", full_page=True)
        page.locator("#place-order").tap()

        page.wait_for_url(re.compile(r"/orders/\d+/pay$"))
        order_id = int(re.search(r"/orders/(\d+)/pay$", page.url).group(1))
        page.locator("#confirm-pay").tap()
        page.wait_for_url(re.compile(r"/pay/sandbox/"))
        page.locator("#pay").tap()
        page.wait_for_url(re.compile(rf"/orders/{order_id}/pay/result$"))
        page.locator("#view-order").tap()
        page.wait_for_url(re.compile(rf"/orders/{order_id}$"))
        kept = page.locator('#receipt tr[data-stage="points"]')
        assert kept.count() == 1 and kept.locator("[data-amount]").get_attribute("data-amount") == str(-saving)
        journey.check("order", screenshot=False)
        _shot(page, "order", full_page=True)

        page = journey.goto("/account/member")
        assert page.locator("#points-balance").inner_text() == str(POINTS - usable)

"""The demo store behind a real WSGI server, for the storefront browser tests
(``test_overflow_browser.py``, ``test_navigation_browser.py``).

What ``mallow demo`` seeds (an open store with three categories, a dozen products with photos and
specs, the three bundled plugins on with a live group buy and flash sale, a designed home page and
a landing page, the demo shopper as a distributor), plus what a shopper's pages need: an address,
a paid order, an order waiting in the sandbox cashier, a group the shopper opened. The browser
signs in as the demo shopper by cookie (a browser session issued like the sign-in page's), so the
tests do not depend on the sign-in form.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest

from mallow.testing import serving  # noqa: E402
from PIL import Image

from mallow.testing import IN_CI, MISSING_SERVERS, bearer, build_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE_WIDTH, PHONE_HEIGHT = 375, 812
JOURNEYS = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "journeys"
#: Playwright's cookie for the page's language (mallow reads the ``lang`` cookie)
LANGUAGES = ("zh_CN", "en")
THEMES = ("default", "promo")


def chromium_or_skip():
    """Playwright's sync API, or a loud skip (a failure under CI) without Chromium."""
    problem = None
    if not os.access(CHROMIUM, os.X_OK):
        problem = f"{CHROMIUM} is missing (apt-get install chromium fonts-noto-cjk)"
    else:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            problem = "Playwright's Python package is missing (pip install -e '.[test]')"
    if problem:
        if IN_CI:
            pytest.fail(f"CI must run the browser tests: {problem}", pytrace=False)
        MISSING_SERVERS.setdefault("Chromium (browser tests)", problem)
        pytest.skip(f"!!! BROWSER TEST SKIPPED: {problem}")
    return sync_playwright


def small_png(path: Path, raw: bytes) -> None:
    """Save a screenshot as a small palette PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(io.BytesIO(raw)) as image:
        image.convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(path, "PNG", optimize=True)


@dataclass
class DemoStore:
    app: object
    base: str  # http://127.0.0.1:<port>
    prefix: str = "/s/demo"
    ids: dict = field(default_factory=dict)
    urls: dict = field(default_factory=dict)  # endpoint → a full path (routes that need a query)
    merchant_token: str = ""
    shopper_token: str = ""

    @property
    def store(self) -> str:
        return self.base + self.prefix

    def client(self):
        return self.app.test_client()

    def set_theme(self, name: str) -> None:
        response = self.client().put(
            f"{self.prefix}/api/console/theme",
            headers=bearer(self.merchant_token),
            json={"theme": name, "settings": {}},
        )
        assert response.status_code == 200, response.get_json()

    def use_theme(self, name: str) -> None:
        """The store in theme ``name``. ``promo`` also publishes the product-detail and category
        templates (their default drafts), so those pages are drawn through the theme and its
        render cache; ``default`` takes them down again (the fixed pages)."""
        self.set_theme(name)
        client, headers = self.client(), bearer(self.merchant_token)
        for kind in ("product", "category"):
            assert client.get(f"{self.prefix}/api/console/pages/{kind}", headers=headers).status_code == 200
            action = "publish" if name != "default" else "unpublish"
            response = client.post(f"{self.prefix}/api/console/pages/{kind}/{action}", headers=headers)
            assert response.status_code in (200, 201, 409), (kind, action, response.get_json())

    def shopper_cookie(self) -> dict:
        """A browser session cookie of the demo shopper (as the sign-in page would set)."""
        from mallow.accounts import customers, sessions
        from mallow.db import db
        from mallow.demo import PASSWORD, SHOPPER_LOGIN
        from mallow.tenants.context import store_context

        with store_context(self.ids["store"], app=self.app):
            secret = sessions.issue(customers.authenticate(SHOPPER_LOGIN, PASSWORD), "cookie")
            db.session.commit()
        value = self.app.session_interface.get_signing_serializer(self.app).dumps(
            {sessions.session_key("shopper", self.ids["store"]): secret, "_permanent": True}
        )
        return {"name": self.app.config["SESSION_COOKIE_NAME"], "value": value, "url": self.base}

    def language_cookie(self, language: str) -> dict:
        return {"name": "lang", "value": language, "url": self.base}


def _created(response, status=201):
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:400])
    return response.get_json()


def seed(app) -> DemoStore:
    """The demo store and the shopper's orders, group and address (ids in ``DemoStore.ids``)."""
    import sqlalchemy as sa
    from mallow.catalog.models import Product
    from mallow.db import db
    from mallow.demo import MERCHANT_EMAIL, PASSWORD, SHOPPER_LOGIN, seed as seed_demo
    from mallow.demo_showcase import LANDING_SLUG, seed_showcase
    from mallow_groupbuy.demo import CAMPAIGN_TITLE as GROUPBUY_TITLE
    from mallow.testing.payments import pay_with_sandbox
    from mallow.tenants.context import store_context
    from mallow.tenants.models import Store

    with app.app_context():
        info = seed_demo()
        info.update(seed_showcase(app))
        assert not info.get("plugins_missing"), info
        store_id = db.session.execute(sa.select(Store.id).filter_by(slug="demo")).scalar_one()
    demo = DemoStore(app=app, base="")
    client = app.test_client()
    prefix = demo.prefix
    demo.merchant_token = _created(client.post("/api/tokens", json={"email": MERCHANT_EMAIL, "password": PASSWORD}))[
        "token"
    ]
    demo.shopper_token = _created(
        client.post(f"{prefix}/api/tokens", json={"login": SHOPPER_LOGIN, "password": PASSWORD})
    )["token"]
    shopper = bearer(demo.shopper_token)
    address = _created(
        client.post(
            f"{prefix}/api/addresses",
            headers=shopper,
            json={
                "recipient": "林小满",
                "phone": "13800000000",
                "province": "浙江省",
                "city": "杭州市",
                "district": "临安区",
                "detail": "锦城街道衣锦街 100 号",
            },
        )
    )["id"]

    with store_context(store_id, app=app):
        products = {p.title: p for p in db.session.execute(sa.select(Product)).scalars()}
        picked = products["纸皮山核桃"]  # two spec dimensions, photos, a description
        sku = next(s.id for s in picked.skus if s.stock > 20)
        campaign_product = products["临安山核桃仁"]
        campaign_sku = next(s.id for s in campaign_product.skus if s.stock > 20)
        category_id = picked.category_id
        media_path = sorted(picked.images, key=lambda i: i.sort)[0].path
        from mallow_distribution.models import Distributor
        from mallow_flashsale.models import Sale
        from mallow_groupbuy.models import Campaign
        from mallow.media.models import MediaAsset

        campaign_id = db.session.execute(sa.select(Campaign.id).where(Campaign.title == GROUPBUY_TITLE)).scalar_one()
        sale_id = db.session.execute(sa.select(Sale.id)).scalars().first()
        code = db.session.execute(sa.select(Distributor.code)).scalars().first()
        asset = db.session.execute(sa.select(MediaAsset)).scalars().first()

    def order(body: dict) -> dict:
        return _created(client.post(f"{prefix}/api/orders", headers=shopper, json={"address_id": address, **body}))

    paid = order({"items": [{"sku_id": sku, "quantity": 1}]})
    pay_with_sandbox(client, SimpleNamespace(prefix=prefix), demo.shopper_token, paid["id"])
    waiting = order({"items": [{"sku_id": sku, "quantity": 2}]})
    started = _created(
        client.post(f"{prefix}/api/orders/{waiting['id']}/pay", headers=shopper, json={"provider": "sandbox"}), 200
    )
    grouped = order(
        {
            "items": [{"sku_id": campaign_sku, "quantity": 1}],
            "options": {"groupbuy": {"campaign_id": campaign_id, "group_id": None}},
        }
    )
    pay_with_sandbox(client, SimpleNamespace(prefix=prefix), demo.shopper_token, grouped["id"])
    timeline = _created(client.get(f"{prefix}/api/orders/{grouped['id']}", headers=shopper), 200)["timeline"]
    group_id = next(e["detail"]["group_id"] for e in timeline if e["kind"] in ("groupbuy_opened", "groupbuy_joined"))

    cashier = started["pay"]["url"]
    demo.ids = {
        "store": store_id,
        "product_id": picked.id,
        "category_id": category_id,
        "order_id": paid["id"],
        "waiting_order_id": waiting["id"],
        "grouped_order_id": grouped["id"],
        "address_id": address,
        "campaign_id": campaign_id,
        "sale_id": sale_id,
        "group_id": group_id,
        "code": code,
        "slug": LANDING_SLUG,
        "media_name": media_path.split(f"stores/{store_id}/", 1)[1],
        "library_name": Path(asset.path).name if asset is not None else None,
    }
    demo.urls = {"payments_pages.sandbox_cashier": cashier[cashier.index(prefix) :] if prefix in cashier else cashier}
    return demo


def serve(tmp_path_factory):
    """Build the app, seed it, serve it on 127.0.0.1 in a thread: yields the :class:`DemoStore`."""
    app = build_app(tmp_path_factory, "browser-demo")
    demo = seed(app)
    try:
        with serving(app) as demo.base:
            yield demo
    finally:
        with app.app_context():
            from mallow.db import db

            app.extensions["mallow.store_engines"].dispose()
            db.engine.dispose()

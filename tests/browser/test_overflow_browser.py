"""Every storefront page fits a 375 px phone: no sideways scroll, in both themes and both languages.

The test walks the app's URL map: every rule under the store prefix (``/s/<store_slug>/…``,
core and the bundled plugins' routes alike) that answers GET, except the console and the JSON
API. Path parameters are filled from the seeded demo store (:mod:`demo_store`: a product with
specs and photos, its category, a paid order, an order waiting in the sandbox cashier, a group
the shopper opened, the live flash sale and group buy, the distributor's code, the landing page…).
A new route is walked without editing the test; a new *parameter name* fails it until
:data:`FILL` (or :func:`_value`) says where its value comes from.

Each address is first fetched with the browser's cookies and no redirects: an answer that is not
HTML (images, stylesheets, scripts, downloads) is skipped by its content type, a redirect off this
site is skipped, a redirect within it is followed. The page is then opened in headless Chromium
(Debian's) at 375×812 with a touch screen, signed in as the demo shopper, and fails when
``document.documentElement.scrollWidth`` is more than the 375 px viewport — for every
theme (the store's page-builder theme: ``default`` with the fixed product and category pages,
``promo`` with the product-detail and category templates published) and language (``zh_CN``, ``en``).
The failure lists every offending page with its width and the widest elements that stick out
(outermost first: the culprits, not their children).

Phone emulation (``is_mobile``) is off on purpose: a mobile viewport widens itself to fit an
overflowing page (``innerWidth`` becomes 552 on a 552 px page), which hides what this test
measures; the layout viewport of a 375 px window does not.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # demo_store.py, beside this file (pytest's importlib mode)
from demo_store import CHROMIUM, CHROMIUM_ARGS, LANGUAGES, PHONE_HEIGHT, PHONE_WIDTH, THEMES, chromium_or_skip, serve  # noqa: E402
from journey_kit import sideways  # noqa: E402

pytestmark = pytest.mark.browser

#: path parameters: name → key of DemoStore.ids (endpoint-specific ones: see _value)
FILL = {
    "product_id": "product_id",
    "category_id": "category_id",
    "order_id": "order_id",
    "slug": "slug",
    "sale_id": "sale_id",
    "campaign_id": "campaign_id",
    "group_id": "group_id",
    "ref": "group_id",  # a shared thing of a plugin (/share/…/x/<kind>/<ref>): the demo's group
    "code": "code",
    "address_id": "address_id",
    "theme": None,
    "name": None,
    "filename": None,
}
#: areas that are not the storefront (they have their own tests)
# the console, the API, and event streams (a page's live updates, such as the chat's: no page to measure)
NOT_STOREFRONT = re.compile(r"^/s/<store_slug>/(?:(?:console|api)(?:/|$)|.*/stream$)")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    chromium_or_skip()
    yield from serve(tmp_path_factory)


def _static_file(app, endpoint: str) -> str | None:
    """A file of the static folder of ``endpoint``'s blueprint (plugins' ``…static``)."""
    blueprint = app.blueprints.get(endpoint.rsplit(".", 1)[0])
    folder = Path(blueprint.static_folder) if blueprint is not None and blueprint.static_folder else None
    files = sorted(p for p in folder.rglob("*") if p.is_file()) if folder and folder.is_dir() else []
    return files[0].relative_to(folder).as_posix() if files else None


def _value(demo, endpoint: str, name: str):
    if name == "theme":
        return "default"
    if name == "kind":  # what a plugin shares (mallow_share_target): the demo's group-buy group
        return "groupbuy_group"
    if name == "ticket":  # a flash-sale queue ticket nobody holds: its 404 must fit too (the waiting
        return "0" * 32  # page itself is measured by test_flashsale_queue_browser.py)
    if name == "notification_id":  # a message the demo shopper does not have: its 404 must fit too
        return "999999"
    if name == "filename":
        return "theme.css" if endpoint == "pages.theme_asset" else _static_file(demo.app, endpoint)
    if name == "name":
        return demo.ids["library_name"] if endpoint == "pages.library" else demo.ids["media_name"]
    key = FILL.get(name)
    return demo.ids.get(key) if key else None


def storefront_pages(demo) -> tuple[list[tuple[str, str]], list[str]]:
    """``([(endpoint, path)], [problems])`` for every GET rule of the storefront."""
    adapter = demo.app.url_map.bind("127.0.0.1")
    pages, problems = [], []
    for rule in sorted(demo.app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith("/s/<store_slug>") or "GET" not in rule.methods or NOT_STOREFRONT.match(rule.rule):
            continue
        if rule.endpoint in demo.urls:
            pages.append((rule.endpoint, demo.urls[rule.endpoint]))
            continue
        values = {"store_slug": "demo"}
        for name in rule.arguments - {"store_slug"}:
            value = _value(demo, rule.endpoint, name)
            if value is None:
                problems.append(f"{rule.rule} ({rule.endpoint}): no value for <{name}>: add one to FILL in {__file__}")
                break
            values[name] = value
        else:
            pages.append((rule.endpoint, adapter.build(rule.endpoint, values)))
    return pages, problems


def test_every_storefront_page_fits_a_phone_in_both_themes_and_languages(demo):
    sync_playwright = chromium_or_skip()
    pages, problems = storefront_pages(demo)
    assert len(pages) >= 20, pages  # the core pages and the plugins' are all there
    offenders, skipped, visited = [], {}, set()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            for theme in THEMES:
                demo.use_theme(theme)
                for language in LANGUAGES:
                    context = browser.new_context(
                        viewport={"width": PHONE_WIDTH, "height": PHONE_HEIGHT},
                        device_scale_factor=1,
                        has_touch=True,
                        locale="zh-CN" if language == "zh_CN" else "en-US",
                    )
                    context.set_default_timeout(20_000)
                    context.add_cookies([demo.shopper_cookie(), demo.language_cookie(language)])
                    page = context.new_page()
                    for endpoint, path in pages:
                        url = demo.base + path
                        probe = context.request.get(url, max_redirects=0)
                        if 300 <= probe.status < 400:
                            target = urljoin(url, probe.headers.get("location", ""))
                            if urlsplit(target).netloc != urlsplit(demo.base).netloc:
                                skipped[endpoint] = f"redirects off the site ({urlsplit(target).netloc})"
                                continue
                            url = target
                            probe = context.request.get(url)
                        content_type = probe.headers.get("content-type", "")
                        if not content_type.startswith("text/html"):
                            skipped[endpoint] = content_type.split(";")[0]
                            continue
                        if probe.status >= 500:
                            problems.append(f"{path}: HTTP {probe.status}")
                        page.goto(url, wait_until="load")
                        visited.add(endpoint)
                        width, culprits = sideways(page)
                        if width > PHONE_WIDTH:
                            where = urlsplit(page.url)
                            offenders.append(
                                f"[{theme}, {language}] {where.path}{'?' + where.query if where.query else ''}"
                                f" ({endpoint}) is {width} px wide: {culprits}"
                            )
                    context.close()
        finally:
            browser.close()
            demo.use_theme("default")
    print(
        f"\nvisited {len(visited)} storefront pages × {len(THEMES)} themes × {len(LANGUAGES)} languages; "
        f"skipped: {skipped}"
    )
    message = []
    if problems:
        message.append("Pages that could not be walked:\n  " + "\n  ".join(problems))
    if offenders:
        message.append(f"{len(offenders)} pages scroll sideways at {PHONE_WIDTH} px:\n  " + "\n  ".join(offenders))
    assert not message, "\n".join(message)

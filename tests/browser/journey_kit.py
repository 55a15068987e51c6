"""Shared helpers for the storefront's browser journeys (real headless Chromium, Debian's, driven
by Playwright's Python package): a shopper walks the demo store on a 375×812 touch screen and every
page on the way is checked the same way.

* :func:`demo_server` -- the seeded demo store behind a real WSGI server (:mod:`demo_store`), as a
  module fixture body: ``yield from demo_server(tmp_path_factory)``.
* :func:`launch` -- Chromium (or a loud skip; a failure under CI).
* :class:`Journey` -- one shopper's browser context in one theme and language. It records, from the
  start, every console error, uncaught page error and HTTP answer ≥ 400 (except those the journey
  says it expects, :meth:`Journey.expect`); :meth:`Journey.check` then fails on any of them, on a
  horizontal scroll (``scrollWidth`` > 375) or a raw key in the page's text (``groupbuy_opened``,
  ``provider:sandbox``, ``shopper:1``: :data:`RAW_KEY`), and saves a screenshot as
  ``docs/screenshots/journeys/<journey>-<step>-<theme>.png``.
* :func:`new_shopper` -- a shopper made through the store API (a token, an address) and signed in
  in the journey's browser by cookie; :func:`sign_up_by_sms` -- sign up on the page with an SMS
  code (read from the logging SMS provider); :func:`sign_up` -- with the password form.

Usage::

    @pytest.fixture(scope="module")
    def demo(tmp_path_factory):
        yield from demo_server(tmp_path_factory)

    def test_something(demo):
        with launch() as browser, Journey(demo, browser, "buy", theme="promo") as journey:
            journey.goto(f"/products/{demo.ids['product_id']}")
            journey.check("product")
"""

from __future__ import annotations

import re
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).parent))  # demo_store.py, beside this file (pytest's importlib mode)
from demo_store import (
    CHROMIUM,
    CHROMIUM_ARGS,
    JOURNEYS,
    PHONE_HEIGHT,
    PHONE_WIDTH,
    THEMES,  # noqa: E402,F401
    chromium_or_skip,
    serve,
    small_png,
)

#: what a raw key looks like in text people read
RAW_KEY = re.compile(r"\b[a-z]+_[a-z_]+\b|\b(?:provider|shopper|staff|plugin|admin|payer):\S*")
PASSWORD = "journey-pass-123"


#: the page's width and, when it is wider than ``limit``, the outermost elements that stick out
#: (not those clipped by a scrolling box, nor fixed ones)
MEASURE = """(limit) => {
  const root = document.documentElement;
  const width = Math.max(root.scrollWidth, document.body ? document.body.scrollWidth : 0);
  if (width <= limit) { return {width, culprits: []}; }
  const sticksOut = (el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.right > limit + 1; };
  const clipped = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== 'visible' && !sticksOut(p)) { return true; }
    }
    return false;
  };
  const describe = (el) => {
    let name = el.tagName.toLowerCase();
    if (el.id) { name += '#' + el.id; }
    if (typeof el.className === 'string' && el.className.trim()) { name += '.' + el.className.trim().split(/\\s+/).join('.'); }
    const parent = el.parentElement;
    return (parent && parent !== document.body ? describe.short(parent) + ' > ' : '') + name;
  };
  describe.short = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (typeof el.className === 'string' && el.className.trim() ? '.' + el.className.trim().split(/\\s+/)[0] : '');
  const culprits = [];
  for (const el of document.body.querySelectorAll('*')) {
    if (!sticksOut(el) || getComputedStyle(el).position === 'fixed' || clipped(el)) { continue; }
    const parent = el.parentElement;
    if (parent && parent !== document.body && sticksOut(parent) && !clipped(parent)) { continue; }
    const r = el.getBoundingClientRect();
    culprits.push({element: describe(el), right: Math.round(r.right), width: Math.round(r.width),
                   text: (el.innerText || el.value || '').trim().replace(/\\s+/g, ' ').slice(0, 40)});
  }
  culprits.sort((a, b) => b.right - a.right);
  return {width, culprits: culprits.slice(0, 4)};
}"""


def pick_region(page, province: str = "浙江省", city: str = "杭州市", district: str | None = "临安区") -> None:
    """Choose 省 → 市 → 区 in an address form's cascading picker (the address book's, the
    checkout's) by their names, waiting for each level's options to arrive; ``district`` None
    stops at the city."""
    page.locator("#f-province_code").select_option(label=province)
    page.wait_for_selector(f'#f-city_code:not([disabled]) option:text-is("{city}")', state="attached")
    page.locator("#f-city_code").select_option(label=city)
    if district is not None:
        page.wait_for_selector(f'#f-district_code:not([disabled]) option:text-is("{district}")', state="attached")
        page.locator("#f-district_code").select_option(label=district)


def sideways(page, limit: int = PHONE_WIDTH) -> tuple[int, str]:
    """The width of the page (once it has loaded: measured before its style sheets are in, a page
    is laid out unstyled, wider than it becomes) and, when wider than the phone, the elements that
    stick out, in words."""
    page.wait_for_load_state("load")
    found = page.evaluate(MEASURE, limit)
    culprits = "; ".join(
        f"{c['element']} (right {c['right']} px, width {c['width']} px{', ' + repr(c['text']) if c['text'] else ''})"
        for c in found["culprits"]
    )
    return found["width"], culprits or "no element found"


def demo_server(tmp_path_factory):
    """The demo store served on 127.0.0.1 (skips without Chromium): yields a ``DemoStore``."""
    chromium_or_skip()
    yield from serve(tmp_path_factory)


@contextmanager
def launch():
    """Headless Chromium (Debian's), closed on the way out."""
    sync_playwright = chromium_or_skip()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def translated(demo, msgid: str, language: str = "zh_CN", *, plugin: str | None = None, **values) -> str:
    """``msgid`` as the app shows it in ``language`` (the catalogue's translation, or the English
    source while a new message waits for its translation); ``plugin`` (e.g. ``"groupbuy"``) reads
    that plugin's own catalogue instead of core's."""
    import importlib

    from flask_babel import force_locale, gettext

    if plugin is not None:
        gettext = importlib.import_module(f"mallow_{plugin}.i18n").gettext
    with demo.app.test_request_context("/"), force_locale(language):
        return gettext(msgid, **values)


def visible_text(page) -> str:
    """The text a person reads on the page (``innerText``: no attributes, no hidden elements)."""
    return page.evaluate("() => document.body ? document.body.innerText : ''")


def raw_keys(text: str) -> list[str]:
    return sorted(set(RAW_KEY.findall(text)))


class Journey:
    """One shopper's walk in one browser context (theme, language), checked at every step."""

    def __init__(
        self,
        demo,
        browser,
        name: str,
        *,
        theme: str = "default",
        language: str = "zh_CN",
        user_agent: str | None = None,
    ):
        self.demo, self.name, self.theme, self.language = demo, name, theme, language
        options = {
            "viewport": {"width": PHONE_WIDTH, "height": PHONE_HEIGHT},
            "device_scale_factor": 1,
            "has_touch": True,
            "locale": "zh-CN" if language == "zh_CN" else "en-US",
        }
        if user_agent:
            options["user_agent"] = user_agent
        # is_mobile stays off: a mobile viewport widens itself to fit an overflowing page and hides it
        self.context = browser.new_context(**options)
        self.context.set_default_timeout(20_000)
        self.context.add_cookies([demo.language_cookie(language)])
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.expected: list[tuple[int, re.Pattern]] = []
        self.shots: list[Path] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.on("response", self._response)

    # -- recording -------------------------------------------------------------------------------
    def _console(self, message) -> None:
        if message.type == "error":
            self.problems.append(f"console error on {self.page.url}: {message.text}")

    def _response(self, response) -> None:
        if response.status < 400 or not response.url.startswith(self.demo.base):
            return
        path = response.url[len(self.demo.base) :]
        if any(status == response.status and pattern.search(path) for status, pattern in self.expected):
            return
        self.problems.append(f"HTTP {response.status} for {path}")

    @contextmanager
    def expect(self, status: int, path_pattern: str):
        """Inside this block an answer ``status`` for a path matching ``path_pattern`` is expected."""
        entry = (status, re.compile(path_pattern))
        self.expected.append(entry)
        try:
            yield
        finally:
            self.expected.remove(entry)

    # -- walking ---------------------------------------------------------------------------------
    def url(self, path: str) -> str:
        if path.startswith("http"):
            return path
        return self.demo.store + path if not path.startswith("/s/") else self.demo.base + path

    def goto(self, path: str):
        self.page.goto(self.url(path), wait_until="load")
        return self.page

    def check(self, step: str, screenshot: bool = True, full_page: bool = False) -> str:
        """Fail on anything recorded so far, a sideways scroll or a raw key; save a screenshot.
        Returns the page's visible text."""
        page = self.page
        width, culprits = sideways(page)
        where = f"[{self.name} {self.theme} {self.language}] {step} ({page.url})"
        if width > PHONE_WIDTH:
            self.problems.append(f"{where}: {width} px wide at {PHONE_WIDTH} px: {culprits}")
        text = visible_text(page)
        found = raw_keys(text)
        if found:
            self.problems.append(f"{where}: raw keys in the page: {found}")
        if screenshot:
            self.screenshot(step, full_page=full_page)
        assert not self.problems, "\n".join(self.problems)
        return text

    def screenshot(self, step: str, full_page: bool = False) -> Path:
        path = JOURNEYS / f"{self.name}-{step}-{self.theme}.png"
        small_png(path, self.page.screenshot(full_page=full_page))
        self.shots.append(path)
        return path

    def close(self) -> None:
        self.context.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --- shoppers ----------------------------------------------------------------------------------------


def new_shopper(demo, journey: Journey | None = None, *, address: bool = True) -> SimpleNamespace:
    """A new shopper of the demo store (store API: account, token, an address), signed in in
    ``journey``'s browser by a session cookie issued like the sign-in page's."""
    from mallow.testing import bearer

    client = demo.client()
    login = f"journey-{uuid.uuid4().hex[:10]}@example.com"
    made = client.post(
        f"{demo.prefix}/api/customers", json={"login": login, "password": PASSWORD, "privacy_consent": True}
    )
    assert made.status_code == 201, made.get_json()
    token = made.get_json()["token"]
    address_id = None
    if address:
        created = client.post(
            f"{demo.prefix}/api/addresses",
            headers=bearer(token),
            json={
                "recipient": "周小禾",
                "phone": "13900001111",
                "province": "浙江省",
                "city": "杭州市",
                "district": "临安区",
                "detail": "锦北街道农林大路 88 号",
                "is_default": True,
            },
        )
        assert created.status_code == 201, created.get_json()
        address_id = created.get_json()["id"]
    shopper = SimpleNamespace(login=login, token=token, address_id=address_id)
    if journey is not None:
        journey.context.add_cookies([session_cookie(demo, login)])
    return shopper


def session_cookie(demo, login: str, password: str = PASSWORD) -> dict:
    """A browser session cookie of shopper ``login`` (as the sign-in page would set)."""
    from mallow.accounts import customers, sessions
    from mallow.db import db
    from mallow.tenants.context import store_context

    app = demo.app
    with store_context(demo.ids["store"], app=app):
        secret = sessions.issue(customers.authenticate(login, password), "cookie")
        db.session.commit()
    value = app.session_interface.get_signing_serializer(app).dumps(
        {sessions.session_key("shopper", demo.ids["store"]): secret, "_permanent": True}
    )
    return {"name": app.config["SESSION_COOKIE_NAME"], "value": value, "url": demo.base}


def new_phone() -> str:
    """A mobile number no shopper of the demo store has yet (11 digits, starting 1)."""
    return "139" + f"{uuid.uuid4().int % 10**8:08d}"


def sign_up_by_sms(journey: Journey, phone: str | None = None, nickname: str | None = None) -> str:
    """On the sign-up (or sign-in) page: 获取验证码, read the code from the logging SMS provider (as
    the demo does: it never reaches the page), enter it and sign up. Returns the phone number."""
    from mallow.accounts import sms

    page, phone = journey.page, phone or new_phone()
    page.locator("#f-phone").fill(phone)
    page.locator("#send-code").click()
    page.wait_for_selector("#sms-sent")
    code = sms.provider(journey.demo.app).last_code(phone, journey.demo.ids["store"])
    assert code, f"no SMS code was sent to {phone}"
    page.locator("#f-code").fill(code)
    if nickname and page.locator("#f-sms-nickname").count():
        page.locator("#f-sms-nickname").fill(nickname)
    page.locator("#f-consent-sms").check()  # a new number becomes an account: the privacy notice first
    page.locator("#sms-login").click()
    return phone


def sign_up(journey: Journey, login: str, password: str = PASSWORD) -> None:
    """On the sign-up page: create an account with the password form (the SMS form is the other way)."""
    page = journey.page
    form = page.locator('form[action$="/register"]:has(input[name="password"])')
    details = page.locator("#password-register details")
    if details.count() and details.first.get_attribute("open") is None:  # folded away: unfold it
        page.locator("#password-register summary").click()
    form.locator('input[name="login"]').fill(login)
    form.locator('input[name="password"]').fill(password)
    form.locator('input[name="privacy_consent"]').check()
    form.locator('button[type="submit"]').click()

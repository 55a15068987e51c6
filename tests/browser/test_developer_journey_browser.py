"""A plugin developer's and the platform reviewer's journeys in real headless Chromium (Debian's),
in Chinese, on a 375×812 touch screen and at a desktop width (developers and admins work at desks
too): the developer signs up at ``/dev/signup``, uploads a wheel built in the test through the
upload form, and reads its release page (审核中, its files); the platform admin signs in, opens the
release's review page (files, hashes, the source of ``__init__.py`` with its Chinese readable) and
approves it; after the next graceful reload a store turns it on and the developer sees 已通过 and
the store count; version 2 with a changed file is uploaded and the review page shows what changed
since version 1. The admin also reads the faults page (a plugin failed in a store on the way) and
a merchant sets a money setting in yuan on the console's settings page.

Every page fails the test on a console error, an HTTP answer ≥ 400, a sideways scroll, a raw key in
its text outside code (:mod:`journey_kit`); screenshots go to
``docs/screenshots/journeys/developer-<step>.png`` and ``admin-plugin-<step>.png`` (``-desktop``
for the desktop width).
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from mallow.testing import serving  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))  # journey_kit.py, beside this file (pytest's importlib mode)
from demo_store import JOURNEYS, PHONE_WIDTH, chromium_or_skip, small_png  # noqa: E402
from journey_kit import Journey, launch, raw_keys, sideways, translated  # noqa: E402

pytestmark = pytest.mark.browser

DESK_WIDTH, DESK_HEIGHT = 1280, 900
PASSWORD = "journey-pass-123"
#: the platform's default circuit breaker (the test kit's is out of reach), as the faults page tells it
BREAKER = {"MALLOW_PLUGIN_BREAKER_FAULTS": 5}

#: a plugin of the platform already running in a store: money settings, and a slot that breaks
OFFER = "manjian"
OFFER_CODE = """
from mallow.sdk import hookimpl


@hookimpl
def mallow_template_slot(slot, context):
    if slot == "home.top":
        raise RuntimeError("满减横幅坏了")
    return None
"""
OFFER_SETTINGS = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "threshold": {
            "type": "integer",
            "format": "money",
            "minimum": 100,
            "default": 20000,
            "title": {"zh_CN": "满多少", "en": "Threshold"},
        },
        "reduction": {
            "type": "integer",
            "format": "money",
            "minimum": 1,
            "default": 2000,
            "title": {"zh_CN": "减多少", "en": "Reduction"},
        },
    },
}

#: the developer's plugin, version 1 and 2 (2 changes __init__.py and adds a file)
UPLOADED = '''
"""满减插件：订单满额立减。"""
from mallow.sdk import Adjustment, hookimpl

LABEL = "{label}"


@hookimpl
def mallow_order_adjustments(context, subtotal):
    # 满 200 元减 {amount} 分：标签里的中文要在审核页上读得出来
    if subtotal >= 20000:
        return [Adjustment("order", "{name}", "mj", LABEL, -{amount})]
    return None
'''


def _publishing_kit():
    """tests/developers/conftest.py: the wheel builder of the publishing tests and
    ``forget_plugin_environment`` (loaded by path: every test folder has a ``conftest``)."""
    path = Path(__file__).parents[1] / "developers" / "conftest.py"
    spec = importlib.util.spec_from_file_location("developers_publishing_kit", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


kit = _publishing_kit()


def uploaded_code(name: str, version: int) -> str:
    return UPLOADED.format(name=name, label=f"满200减{10 * version}", amount=1000 * version)


class ConsoleWalk(Journey):
    """A :class:`Journey` of a developer or an admin at ``width``: the sideways-scroll check is
    against that width, code (``<code>``, ``<pre>``) is not taken for raw keys (identifiers are
    what a developer reads there), and screenshots are ``<name>-<step>[-desktop].png``."""

    def __init__(self, served, browser, name: str, width: int):
        super().__init__(served, browser, name)
        self.width = width
        if width != PHONE_WIDTH:
            self.page.set_viewport_size({"width": width, "height": DESK_HEIGHT})
        self.page.route("**/favicon.ico", lambda route: route.fulfill(status=204))  # Mallow has none

    def _console(self, message) -> None:
        """Chromium logs a deliberate 4xx page (a refused form) as a console error: not a problem
        inside :meth:`expect` for that status (the answer itself is checked there)."""
        status = re.search(r"status of (\d{3})", message.text)
        if status and any(int(status.group(1)) == expected for expected, _path in self.expected):
            return
        super()._console(message)

    def check(self, step: str, screenshot: bool = True, full_page: bool = True) -> str:
        page = self.page
        where = f"[{self.name} {self.width}px] {step} ({page.url})"
        width, culprits = sideways(page, self.width)
        if width > self.width:
            self.problems.append(f"{where}: {width} px wide at {self.width} px: {culprits}")
        text = page.evaluate("() => document.body.innerText")
        prose = text
        for code in page.evaluate("() => [...document.querySelectorAll('code, pre')].map(e => e.innerText)"):
            prose = prose.replace(code, " ")
        found = raw_keys(prose)
        if found:
            self.problems.append(f"{where}: raw keys in the page: {found}")
        if screenshot:
            page.evaluate("() => window.scrollTo(0, 0)")  # the sticky bar on top of a full-page picture
            suffix = "" if self.width == PHONE_WIDTH else "-desktop"
            path = JOURNEYS / f"{self.name}-{step}{suffix}.png"
            small_png(path, page.screenshot(full_page=full_page))
            self.shots.append(path)
        assert not self.problems, "\n".join(self.problems)
        return text

    def submit(self, form_selector: str = "main form"):
        self.page.locator(f'{form_selector} button[type="submit"]').first.click()
        self.page.wait_for_load_state("load")
        return self.page


def too_small_buttons(page) -> list[str]:
    """Buttons and button-like links in the page's content under 40 px tall (hard to tap)."""
    return page.evaluate(
        """() => [...document.querySelectorAll('main button, main a.button')]
            .filter(e => e.offsetParent !== null && !e.classList.contains('link'))
            .filter(e => e.getBoundingClientRect().height < 40)
            .map(e => e.innerText.trim())"""
    )


class SwappableApp:
    """The WSGI app behind the server, replaced by the restarted one at a graceful reload."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from mallow.testing import PASSWORD as ADMIN_PASSWORD
    from mallow.testing import dispose_app, enable_plugin, make_admin, make_store, plugin_app
    from mallow.testing.builders import build_plugin

    chromium_or_skip()
    with build_plugin(tmp_path_factory) as plugins:
        folder = plugins.add(
            OFFER,
            OFFER_CODE,
            version="1.0.0",
            title={"zh_CN": "满额立减", "en": "Spend and save"},
            settings_schema=OFFER_SETTINGS,
            hooks=["mallow_template_slot"],
            permissions=["storefront"],
        )
        manifest = json.loads((folder / "plugin.json").read_text(encoding="utf-8"))
        manifest.update(
            author="山核桃工作室", description={"zh_CN": "订单满额立减，门槛和减额按元填写。", "en": "Spend and save."}
        )
        (folder / "plugin.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
        app = plugin_app(tmp_path_factory, "sqlite", [OFFER], **BREAKER)
        _admin_id, admin_email = make_admin(app)
        shop = make_store(app)
        enable_plugin(app, shop, OFFER)
        # the plugin fails in the store's home page: the fault is recorded, the page still answers
        assert app.test_client().get(f"{shop.prefix}/").status_code == 200
        wsgi = SwappableApp(app)
        started = [app]
        try:
            with serving(wsgi) as base:
                served = SimpleNamespace(
                    wsgi=wsgi,
                    shop=shop,
                    admin_email=admin_email,
                    admin_password=ADMIN_PASSWORD,
                    base=base,
                    store=base,  # Journey.url: paths are the platform's
                    language_cookie=lambda language: {"name": "lang", "value": language, "url": base},
                    started=started,
                )
                served.app = app
                yield served
        finally:
            kit.forget_plugin_environment(started[0])
            for later in started[1:]:
                dispose_app(later, drop_database=False)
            dispose_app(started[0])


def graceful_reload(served):
    """What the next start of Mallow sees: a new app on the same database and folders (approved
    uploads in the plugin environment are imported), served from now on."""
    from mallow.testing import restart_app

    app = restart_app(served.app, **BREAKER)
    served.started.append(app)
    served.app = served.wsgi.app = app
    return app


def sign_in(journey: ConsoleWalk, path: str, email: str, password: str) -> None:
    page = journey.goto(path)
    page.locator("#f-email").fill(email)
    page.locator("#f-password").fill(password)
    journey.submit()


def upload(journey: ConsoleWalk, filename: str, data: bytes):
    page = journey.goto("/dev/upload")
    page.locator("#f-file").set_input_files({"name": filename, "mimeType": "application/zip", "buffer": data})
    return journey.submit()


@pytest.mark.parametrize("width", [PHONE_WIDTH, DESK_WIDTH], ids=["phone", "desktop"])
def test_a_developer_publishes_and_the_platform_reviews_in_the_browser(served, width):
    name = f"mj{uuid.uuid4().hex[:8]}"
    email = f"dev-{uuid.uuid4().hex[:8]}@example.com"
    zh = lambda msgid, **values: translated(served, msgid, **values)  # noqa: E731
    with launch() as chromium:
        developer = ConsoleWalk(served, chromium, "developer", width)
        admin = ConsoleWalk(served, chromium, "admin-plugin", width)

        # the developer signs up
        page = developer.goto("/dev/signup")
        text = developer.check("signup")
        assert zh("Developer sign-up") in text
        page.locator("#f-email").fill(email)
        page.locator("#f-password").fill(PASSWORD)
        page.locator("#f-name").fill("山核桃工作室")
        developer.submit()
        assert page.url.rstrip("/").endswith("/dev")
        text = developer.check("home-empty")
        assert zh("My plugins") in text
        assert not too_small_buttons(page)

        # uploads version 1 through the form and reads its release page
        page = developer.goto("/dev/upload")
        developer.check("upload")
        upload(developer, *kit.wheel_bytes(name, "1.0.0", uploaded_code(name, 1), permissions=["pricing"]))
        assert "/dev/releases/" in page.url
        first_url = page.url
        first_id = int(first_url.rstrip("/").rsplit("/", 1)[1])
        text = developer.check("release-submitted")
        assert zh("Under review") in text
        assert f"mallow_{name}/__init__.py" in text and f"mallow_{name}/plugin.json" in text

        # the platform admin signs in, finds it in the list and reads the review page
        sign_in(admin, "/admin/login", served.admin_email, served.admin_password)
        page = admin.goto("/admin/plugins")
        text = admin.check("list")
        assert zh("Plugin review") in text and name in text
        page.locator(f'a[href$="/admin/plugins/{first_id}"]').first.click()
        page.wait_for_load_state("load")
        page.locator("#files details.source summary", has_text="__init__.py").first.click()
        source = page.locator("#files details.source[open] pre").first
        assert "满减插件：订单满额立减。" in source.inner_text()
        assert "\\u" not in source.inner_text()
        text = admin.check("review")
        assert f"mallow_{name}/__init__.py" in text and "sha256=" in text
        assert zh("No earlier version of this plugin was approved: read every file.") in text
        assert not too_small_buttons(page)
        page.locator('#decide input[name="reason"]').first.fill("代码已审阅")
        admin.submit("#decide form:has(button.approve)")
        assert page.locator("#release").get_attribute("data-status") == "approved"
        admin.check("approved")

        # at the next graceful reload it runs; a store turns it on
        from mallow.testing import enable_plugin

        app = graceful_reload(served)
        assert app.extensions["mallow.loaded_plugins"][name].version == "1.0.0"
        enable_plugin(app, served.shop, name)

        # the developer sees 已通过 and the store count
        page = developer.goto("/dev/")
        text = developer.check("home-approved")
        assert zh("Approved") in text
        assert page.locator(f'[data-plugin="{name}"] [data-stores]').get_attribute("data-stores") == "1"
        assert served.shop.slug not in text
        page = developer.goto(first_url)
        assert zh("Approved") in developer.check("release-approved")

        # version 2 changes __init__.py and adds a file
        upload(
            developer,
            *kit.wheel_bytes(
                name, "2.0.0", uploaded_code(name, 2), permissions=["pricing"], files={"rules.py": "上限 = 2\n"}
            ),
        )
        second_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
        text = developer.check("release-v2")
        assert zh("Changes since approved version %(version)s", version="1.0.0") in text
        assert f"mallow_{name}/rules.py" in text

        # an API token for `mallow plugin publish`, shown once and wrapped inside the page
        page = developer.goto("/dev/tokens")
        developer.submit()
        assert page.locator("[data-token]").inner_text().strip()
        developer.check("tokens")
        # signed out and in again: back on my plugins
        page.locator("header form button").filter(has_text=zh("Sign out")).click()
        page.wait_for_load_state("load")
        assert "/dev/login" in page.url
        developer.check("login")
        sign_in(developer, page.url, email, PASSWORD)
        assert page.url.rstrip("/").endswith("/dev") and name in developer.check("home-v2")

        # the reviewer sees what changed since version 1, line by line
        page = admin.goto(f"/admin/plugins/{second_id}")
        since = page.locator("#since-approved")
        assert zh("Compared with %(version)s.", version="1.0.0") in since.inner_text()
        diff = since.locator("details.diff", has_text="__init__.py").first.inner_text()
        assert "满200减20" in diff and "满200减10" in diff
        assert f"mallow_{name}/rules.py" in since.inner_text()
        admin.check("review-v2")

        # the faults page: the store's plugin that failed on its home page
        page = admin.goto("/admin/plugins/faults")
        text = admin.check("faults")
        assert zh("Plugin faults") in text
        assert "满额立减" in page.locator(f"#faults-{OFFER}").inner_text()
        assert zh("Raised an error") in page.locator(f"#faults-{OFFER}").inner_text()

        # the merchant types money in yuan on the plugin's settings page
        merchant = ConsoleWalk(served, chromium, "merchant-plugin", width)
        sign_in(merchant, "/merchant/login", served.shop.email, served.shop.password)
        page = merchant.goto(f"{served.shop.prefix}/console/plugins/{OFFER}")
        merchant.check("settings")
        assert re.fullmatch(r"\d+\.\d\d", page.locator("#f-s_threshold").input_value())  # yuan, not fen
        # a price with three decimals is refused next to its field, the page stays usable
        page.locator("#f-s_threshold").fill("12.345")
        with merchant.expect(422, r"/console/plugins/"):
            merchant.submit("#plugin-settings form")
            assert page.locator("#e-s_threshold").inner_text().strip()
            merchant.check("settings-error")
        threshold, reduction = ("150", "15.5") if width == PHONE_WIDTH else ("300", "30")
        page.locator("#f-s_threshold").fill(threshold)
        page.locator("#f-s_reduction").fill(reduction)
        merchant.submit("#plugin-settings form")
        assert page.locator("#f-s_threshold").input_value() == f"{float(threshold):.2f}"
        assert page.locator("#f-s_reduction").input_value() == f"{float(reduction):.2f}"
        assert zh("Settings saved.") in merchant.check("settings-saved")
        assert not too_small_buttons(page)
        for journey in (developer, admin, merchant):
            journey.close()

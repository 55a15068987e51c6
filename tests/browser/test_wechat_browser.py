"""Inside WeChat, in real headless Chromium (Debian's) at 375×812 with WeChat's user agent, in both
themes, the demo store with an official account (AppID/AppSecret) and the fake WeChat on 127.0.0.1:

* ``wechat-login``: a guest opens 我的, lands on 登录 and taps 微信一键登录 without ticking the
  consent box: WeChat (snsapi_base) sends the browser straight back with a code, but no account
  is made and 注册 says why; ticked, the tap signs the shopper in on ``next`` (我的) with a new
  account called 微信用户xxxx;
* ``wechat-share``: the product page loads WeChat's JS-SDK (routed to a local stand-in that
  records the calls), asks the store for its signed config, calls ``wx.config`` with a signature
  that checks out against the jsapi_ticket the store was given, and hands WeChat the page's share
  data; a second page load asks WeChat for no new access_token; outside WeChat the page loads
  nothing of WeChat's and asks nothing.

Every page fails the test on a console error, an unexpected HTTP error, a sideways scroll or a raw
key (:mod:`journey_kit`)."""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # journey_kit.py, beside this file (pytest's importlib mode)
from journey_kit import THEMES, Journey, translated  # noqa: E402

pytestmark = pytest.mark.browser

APPID, SECRET = "wx9demowechat00001", "0123456789abcdef0123456789abcdef"
WECHAT_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN"
)
JSSDK = re.compile(r"^https://res\.wx\.qq\.com/")
#: stands in for jweixin-1.6.0.js: records wx.config and the share data, then "ready"
WX_STAND_IN = """window.__wx = {config: null, appMessage: null, timeline: null};
window.wx = (function () {
  var waiting = [], ready = false;
  return {
    config: function (c) { window.__wx.config = c; setTimeout(function () { ready = true; waiting.forEach(function (f) { f(); }); }, 0); },
    ready: function (f) { if (ready) { f(); } else { waiting.push(f); } },
    error: function () {},
    updateAppMessageShareData: function (d) { window.__wx.appMessage = d; },
    updateTimelineShareData: function (d) { window.__wx.timeline = d; }
  };
}());"""


@pytest.fixture(scope="module")
def wechat(demo):
    """The demo store with an official account, and the fake WeChat (web authorisation, token, ticket)."""
    from mallow.testing.payments import configure_wechatpay, wechat_oauth_server
    from mallow.testing.wechatpay import generate_rsa_key, make_fake_merchant

    merchant = make_fake_merchant(appid=APPID, merchant_key=generate_rsa_key(), platform_key=generate_rsa_key())
    configure_wechatpay(demo.app, SimpleNamespace(store_id=demo.ids["store"]), merchant, oauth_appsecret=SECRET)
    with wechat_oauth_server(demo.app, APPID, SECRET, timeout=5) as server:
        yield server


def _inside_wechat(journey: Journey) -> list[str]:
    """WeChat's JS-SDK answered by the stand-in; returns the list the WeChat requests are logged in."""
    requested: list[str] = []
    journey.context.route(
        JSSDK,
        lambda route: (
            requested.append(route.request.url),
            route.fulfill(status=200, content_type="application/javascript", body=WX_STAND_IN),
        ),
    )
    return requested


@pytest.mark.parametrize("theme", THEMES, indirect=True)
def test_a_guest_signs_in_with_one_tap_on_wechat_and_lands_on_next(demo, browser, theme, wechat):
    wechat.openid_for_next = f"o-browser-guest-{theme}"
    with Journey(demo, browser, "wechat-login", theme=theme, user_agent=WECHAT_UA) as journey:
        _inside_wechat(journey)
        page = journey.goto("/account")
        page.wait_for_url(re.compile(r"/login\?next="))
        button = page.locator("#wechat-login")
        assert button.inner_text().strip() == translated(demo, "One-tap WeChat sign-in")
        box = button.bounding_box()
        assert box["height"] >= 44 and box["width"] >= 280  # prominent: the page's first, widest button
        consent = page.locator("#f-consent-wechat")
        assert not consent.is_checked()  # a known shopper need not tick it
        journey.check("login")
        button.tap()  # a new WeChat without the box ticked: no account, 注册 says why
        page.wait_for_url(re.compile(r"/register\?next=.*consent=wechat"))
        error = page.locator('#wechat-login-form [data-field="privacy_consent"]')
        assert error.inner_text().strip() == translated(
            demo, "Read and agree to the store's privacy notice to create an account."
        )
        journey.check("consent")
        page.locator("#f-consent-wechat").check()
        page.locator("#wechat-login").tap()
        page.wait_for_url(re.compile(rf"{re.escape(demo.prefix)}/account(#.*)?$"))
        nickname = page.locator("#nickname").inner_text()
        assert re.fullmatch(r"(WeChat user |微信用户)\d{4}", nickname)
        assert page.locator("#entry-wechat").count() == 0  # this account's WeChat is linked already
        journey.check("account")
    assert wechat.token_requests[-1].secret_ok


@pytest.mark.parametrize("theme", THEMES, indirect=True)
def test_the_product_page_inside_wechat_signs_wx_config_and_sets_the_share_data(demo, browser, theme, wechat):
    from mallow.payments.wechat_jssdk import app_cache

    path = f"/products/{demo.ids['product_id']}"
    with Journey(demo, browser, "wechat-share", theme=theme, user_agent=WECHAT_UA) as journey:
        requested = _inside_wechat(journey)
        page = journey.goto(path + "?from=singlemessage#top")
        page.wait_for_function("() => window.__wx && window.__wx.appMessage && window.__wx.timeline")
        shared = page.evaluate("() => window.__wx")
        share_data = page.evaluate("() => JSON.parse(document.getElementById('share-data').textContent)")
        journey.check("product")
        page.reload()
        page.wait_for_function("() => window.__wx && window.__wx.appMessage")
        journey.check("product-again", screenshot=False)
    config = shared["config"]
    ticket = app_cache(demo.app).get(f"{demo.ids['store']}:{APPID}:jsapi_ticket")
    signed_url = f"{demo.store}{path}?from=singlemessage"  # location.href without its fragment
    assert config["appId"] == APPID
    assert config["jsApiList"] == ["updateAppMessageShareData", "updateTimelineShareData"]
    assert (
        config["signature"]
        == hashlib.sha1(
            f"jsapi_ticket={ticket}&noncestr={config['nonceStr']}&timestamp={config['timestamp']}&url={signed_url}".encode()
        ).hexdigest()
    )
    assert shared["appMessage"] == {k: share_data[k] for k in ("title", "desc", "link", "imgUrl")}
    assert shared["timeline"]["title"] == share_data["title"] and shared["timeline"]["link"] == share_data["link"]
    assert requested and all(url == "https://res.wx.qq.com/open/js/jweixin-1.6.0.js" for url in requested)
    assert wechat.api_calls("token") == 1  # two page loads (and both themes): one access_token

    with Journey(demo, browser, "wechat-share-outside", theme=theme) as journey:
        seen: list[str] = []
        journey.page.on("request", lambda request: seen.append(request.url))
        journey.goto(path)
        journey.page.wait_for_load_state("networkidle")
        journey.check("product-outside", screenshot=False)
    assert not [url for url in seen if "res.wx.qq.com" in url or "wechat" in url], seen

"""No open redirects: every redirect to a target that came with the request (``next``, ``back``,
the target kept through WeChat's authorisation) goes through ``safe_target``. Hostile targets —
a tab or newline the browser drops, backslashes, ``//host``, schemes, percent-encoded slashes,
Unicode spaces — all land on the page's own default; a plain path of this site still works."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from mallow.testing import PASSWORD, csrf_token, make_admin, make_product, post_form, register_shopper
from mallow.web.redirects import safe_target

from .conftest import visitor

HOSTILE = [
    "/\t/evil.example",
    "/%09/evil.example",
    "/\tevil",
    "//evil",
    "///evil",
    "\\\\evil",
    "/\\evil",
    "\\/evil",
    "https://evil",
    "HTTPS://evil",
    "http:evil",
    "javascript:alert(1)",
    " //evil",
    "\t//evil",
    "/%2F%2Fevil",
    "/%2f/evil",
    "%2F%2Fevil",
    "/%252F%252Fevil",
    "/%5Cevil",
    "/\r\n",
    "/\r\nSet-Cookie: x=1",
    "/%0d%0aSet-Cookie:x",
    "/\u3000/evil",
    "/%E3%80%80/evil",
    "/\u200b/evil",
    "/\uff0fevil",
    "/\uff3cevil",
    "evil.example",
    "",
    "/\x00",
]
#: query strings exactly as an attacker's link would carry them (the issue's examples)
RAW_QUERIES = [
    "next=/%09/evil.example",
    "next=/%0d%0aSet-Cookie:x",
    "next=%2F%2Fevil",
    "next=/%5C/evil",
    "next=%E3%80%80//evil",
    "next=/%2509/evil",
]


def _stays_here(location: str) -> bool:
    """What a browser would make of ``Location``: tabs and newlines dropped, leading spaces and
    controls stripped, ``\\`` read as ``/`` — it must still be a path of this site."""
    seen = re.sub(r"[\t\n\r]", "", location).lstrip("".join(map(chr, range(0x21)))).replace("\\", "/")
    parts = urlsplit(seen)
    return seen.startswith("/") and not seen.startswith("//") and not parts.scheme and not parts.netloc


@pytest.mark.parametrize("target", HOSTILE)
def test_safe_target_refuses_every_way_off_the_site(target):
    assert safe_target(target, "/fallback") == "/fallback"


@pytest.mark.parametrize(
    "target",
    [
        "/",
        "/s/demo/orders?tab=1",
        "/s/demo/p/新年",
        "/s/demo/search?q=%E6%A0%B8%E6%A1%83",
        "/admin/qualifications?status=approved#top",
        "/s/demo/console/products?page=2",
    ],
)
def test_safe_target_keeps_paths_of_this_site(target):
    assert safe_target(target, "/fallback") == target


def test_safe_target_takes_only_text():
    for value in (None, 12, b"/x", ["/x"]):
        assert safe_target(value, "/fallback") == "/fallback"
    assert safe_target("/" + "a" * 5000, "/fallback") == "/fallback"


# --- every place that redirects to a target from the request -------------------------------------


@pytest.fixture
def open_logins(mall_app, monkeypatch):
    """Many logins of one account in a row (the per-account limit is not what is tested here)."""
    monkeypatch.setitem(mall_app.config, "LOGIN_RATE_LIMIT", "100000 per minute")


def _landing(response, default: str) -> str:
    assert response.status_code in (301, 302, 303, 307, 308), response.status_code
    location = response.headers["Location"]
    assert _stays_here(location), location
    assert location == default or urlsplit(location).path == urlsplit(default).path, (location, default)
    return location


def _logins(mall_app, mall_shop):
    """``(login page, form, where a good login lands)`` for the admin, merchant and shopper."""
    admin_email = make_admin(mall_app)[1]
    shopper_client = mall_app.test_client()
    login = register_shopper(shopper_client, mall_shop)
    return [
        ("/admin/login", {"email": admin_email, "password": PASSWORD}, "/admin/qualifications"),
        ("/merchant/login", {"email": mall_shop.email, "password": PASSWORD}, "/merchant/"),
        (f"{mall_shop.prefix}/login", {"login": login, "password": PASSWORD}, f"{mall_shop.prefix}/account"),
    ]


def test_login_pages_never_send_anyone_off_the_site(mall_app, mall_shop, open_logins):
    for page, form, default in _logins(mall_app, mall_shop):
        for target in HOSTILE:
            client = mall_app.test_client()
            response = post_form(client, page, form | {"next": target}, form_path=page)
            _landing(response, default)
        for query in RAW_QUERIES:  # the target in the login page's own address, as the form carries it
            client = mall_app.test_client()
            token = csrf_token(client, f"{page}?{query}")
            response = client.post(f"{page}?{query}", data=form | {"csrf_token": token})
            _landing(response, default)
        client = mall_app.test_client()
        good = f"{mall_shop.prefix}/orders?tab=1"
        assert post_form(client, page, form | {"next": good}).headers["Location"] == good


def test_the_language_switch_never_sends_anyone_off_the_site(mall_app):
    client = mall_app.test_client()
    for target in HOSTILE:
        response = client.get("/lang/en", query_string={"next": target})
        _landing(response, "/")
    for query in RAW_QUERIES:
        _landing(client.get(f"/lang/zh_CN?{query}"), "/")
    response = client.get("/lang/en", query_string={"next": "/s/demo/orders?tab=1"})
    assert response.headers["Location"] == "/s/demo/orders?tab=1"
    assert "lang=en" in response.headers["Set-Cookie"]


def test_the_catalogue_back_field_stays_in_the_console(mall_app, mall_shop):
    merchant = visitor(mall_app, mall_shop, "merchant")
    [sku] = make_product(mall_app, mall_shop, title="回到列表")
    from mallow.catalog.models import Sku
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(mall_shop.store_id, app=mall_app):
        product_id = db.session.get(Sku, sku).product_id
    url = f"{mall_shop.prefix}/console/products/{product_id}/status"
    listing = f"{mall_shop.prefix}/console/products"
    for target in HOSTILE + [f"{mall_shop.prefix}/orders", "/admin/"]:  # and a path outside the console
        response = merchant.client.post(url, data={"status": "off_shelf", "back": target}, headers=merchant.headers)
        _landing(response, listing)
    back = f"{mall_shop.prefix}/console/products?status=off_shelf&page=1"
    response = merchant.client.post(url, data={"status": "on_shelf", "back": back}, headers=merchant.headers)
    assert response.headers["Location"] == back


def test_the_distribution_referral_link_stays_in_the_store(mall_app, mall_shop):
    client = mall_app.test_client()
    home = f"{mall_shop.prefix}/"
    for target in HOSTILE:
        _landing(client.get(f"{mall_shop.prefix}/x/distribution/r/NOSUCHCODE", query_string={"next": target}), home)
    for query in RAW_QUERIES:
        _landing(client.get(f"{mall_shop.prefix}/x/distribution/r/NOSUCHCODE?{query}"), home)
    response = client.get(
        f"{mall_shop.prefix}/x/distribution/r/NOSUCHCODE", query_string={"next": "/s/demo/orders?tab=1"}
    )
    assert response.headers["Location"] == "/s/demo/orders?tab=1"


def test_the_wechat_authorisation_returns_only_to_this_site(mall_app, mall_shop):
    from mallow.testing.payments import configure_wechatpay, wechat_oauth_server
    from mallow.payments.wechatpay import UrllibTransport
    from mallow.testing.wechatpay import generate_rsa_key, make_fake_merchant

    appid, secret = "wx1234567890abcdef", "0123456789abcdef0123456789abcdef"
    merchant = make_fake_merchant(appid=appid, merchant_key=generate_rsa_key(), platform_key=generate_rsa_key())
    configure_wechatpay(mall_app, mall_shop, merchant, oauth_appsecret=secret)
    browser = mall_app.test_client()
    register_shopper(browser, mall_shop)
    account = f"{mall_shop.prefix}/account"

    def round_trip(query: str):
        to_wechat = browser.get(f"{mall_shop.prefix}/wechat/authorize?{query}")
        assert to_wechat.status_code == 302, to_wechat.status_code
        assert parse_qs(urlsplit(to_wechat.headers["Location"]).query)["state"]  # WeChat's own address, by design
        status, headers, _body = UrllibTransport(timeout=5).request(
            "GET", to_wechat.headers["Location"].split("#", 1)[0], {}, b""
        )
        assert status == 302, status
        return browser.get(headers["location"])

    with wechat_oauth_server(mall_app, appid, secret) as wechat:
        for number, target in enumerate(HOSTILE):
            wechat.openid_for_next = f"o-redirect-test-{number:04d}"
            _landing(round_trip(urlencode({"next": target})), account)
        for number, query in enumerate(RAW_QUERIES):
            wechat.openid_for_next = f"o-redirect-raw-{number:04d}"
            _landing(round_trip(query), account)
        # A target kept in the session before this check existed is checked again on the way out.
        wechat.openid_for_next = "o-redirect-kept-0001"
        to_wechat = browser.get(f"{mall_shop.prefix}/wechat/authorize")
        with browser.session_transaction() as session:
            key = f"mallow.wechat_oauth.{mall_shop.store_id}"
            session[key] = session[key] | {"next": "/\t/evil.example"}
        status, headers, _body = UrllibTransport(timeout=5).request(
            "GET", to_wechat.headers["Location"].split("#", 1)[0], {}, b""
        )
        _landing(browser.get(headers["location"]), account)
        wechat.openid_for_next = "o-redirect-good-0001"
        assert (
            round_trip(urlencode({"next": f"{mall_shop.prefix}/orders?tab=1"})).headers["Location"]
            == f"{mall_shop.prefix}/orders?tab=1"
        )


def test_the_language_link_after_a_form_post_leads_back_to_the_form_page(mall_app):
    """A page drawn by a POST (a refused form) links its language switch to the page the form
    was on, never to the POST-only address (405) nor to another site's Referer."""
    from mallow.web.redirects import here

    with mall_app.test_request_context("/s/demo/flashsale/3?x=1"):
        assert here() == "/s/demo/flashsale/3?x=1"
    with mall_app.test_request_context(
        "/s/demo/flashsale/3/buy", method="POST", headers={"Referer": "http://localhost/s/demo/flashsale/3?from=home"}
    ):
        assert here() == "/s/demo/flashsale/3?from=home"
    for referer in ("https://evil.example/s/demo/", "http://localhost//evil.example", ""):
        with mall_app.test_request_context("/s/demo/flashsale/3/buy", method="POST", headers={"Referer": referer}):
            assert here() == "/"

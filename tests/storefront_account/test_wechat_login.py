"""微信一键登录 for a guest inside WeChat (``/wechat/login`` → WeChat → ``/wechat/login/callback``),
with the real OAuth client against the fake WeChat on 127.0.0.1: the first sign-in makes one
account for the openid, the next ones sign into it; ``next`` is honoured; the guest's cart comes
along; the hostile cases (replayed, missing or foreign state, a code for another store, no
official account, WeChat down, a closed account) are refused without signing anybody in; an
openid known in store A signs nobody of A into store B. A new account needs the consent box
beside the button ticked (kept through WeChat's round trip); a known shopper is never asked."""

from __future__ import annotations

import itertools
import random
import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import sqlalchemy as sa

from mallow.testing.payments import configure_wechatpay, wechat_oauth_server
from mallow.payments.wechatpay import UrllibTransport
from mallow.testing.wechatpay import generate_rsa_key, make_fake_merchant
from mallow.testing import PASSWORD, make_product, make_store, post_form, register_shopper

APPID, SECRET = "wx7guestlogin00001", "0123456789abcdef0123456789abcdef"
OTHER_APPID = "wx7guestlogin00002"
WECHAT_UA = {
    "User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI"
}
_ips = itertools.count(random.randrange(1, 2**20))


@pytest.fixture(scope="module")
def merchants():
    """Two official accounts (AppIDs): most stores here share the first."""
    return [
        make_fake_merchant(appid=appid, merchant_key=generate_rsa_key(), platform_key=generate_rsa_key())
        for appid in (APPID, OTHER_APPID)
    ]


def _shop(app, merchant=None):
    shop = make_store(app)
    if merchant is not None:
        configure_wechatpay(app, shop, merchant, oauth_appsecret=SECRET)
    return shop


def _browser(app):
    """A phone inside WeChat, from an address of its own (the per-IP limits are the session app's)."""
    client = app.test_client()
    n = next(_ips)
    client.environ_base.update(
        {"REMOTE_ADDR": f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}", "HTTP_USER_AGENT": WECHAT_UA["User-Agent"]}
    )
    return client


def _to_wechat(browser, shop, next_path: str | None = None, consent: bool = True) -> str:
    """Tap 微信一键登录 (the button's form: ``next`` and the consent box, ticked unless ``consent``
    is False) and let WeChat answer (snsapi_base: straight back with a code): the callback URL."""
    params = {"next": next_path} if next_path else {}
    if consent:
        params["privacy_consent"] = "1"
    query = "?" + urlencode(params) if params else ""
    to_wechat = browser.get(f"{shop.prefix}/wechat/login{query}")
    assert to_wechat.status_code == 302, to_wechat.status_code
    location = to_wechat.headers["Location"]
    assert "scope=snsapi_base" in location and location.endswith("#wechat_redirect")
    status, headers, _body = UrllibTransport(timeout=5).request("GET", location.split("#", 1)[0], {}, b"")
    assert status == 302, status
    assert urlsplit(headers["location"]).path == f"{shop.prefix}/wechat/login/callback"
    return headers["location"]


def _with(url: str, **params) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | params
    return parts._replace(query=urlencode(query)).geturl()


def _customers(app, shop) -> list[dict]:
    from mallow.accounts.models import Customer
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        return [
            {"id": c.id, "openid": c.wechat_openid, "nickname": c.nickname, "password": c.password_hash}
            for c in db.session.execute(sa.select(Customer).order_by(Customer.id)).scalars()
        ]


def _me(browser, shop) -> str | None:
    """The nickname on 我的, or None when the browser is not signed in."""
    page = browser.get(f"{shop.prefix}/account")
    if page.status_code != 200:
        return None
    found = re.search(r'<strong id="nickname">([^<]*)</strong>', page.get_data(as_text=True))
    return found.group(1) if found else None


def _sign_out(browser, shop):
    assert post_form(browser, f"{shop.prefix}/logout", {}, form_path=f"{shop.prefix}/account").status_code == 303


def test_the_first_wechat_sign_in_makes_one_account_and_the_next_signs_into_it(app, merchants):
    shop = _shop(app, merchants[0])
    browser = _browser(app)
    login_page = browser.get(f"{shop.prefix}/login?next={shop.prefix}/cart").get_data(as_text=True)
    assert f'<form method="get" action="{shop.prefix}/wechat/login" id="wechat-login-form"' in login_page
    assert f'name="next" value="{shop.prefix}/cart"' in login_page and 'id="f-consent-wechat"' in login_page
    assert 'id="wechat-login"' in browser.get(f"{shop.prefix}/register").get_data(as_text=True)
    with wechat_oauth_server(app, APPID, SECRET) as wechat:
        wechat.openid_for_next = "o-guest-first-0001"
        back = browser.get(_to_wechat(browser, shop, f"{shop.prefix}/cart?from=wechat"))
        assert back.status_code == 303 and back.headers["Location"] == f"{shop.prefix}/cart?from=wechat"
        [made] = _customers(app, shop)
        assert made["openid"] == "o-guest-first-0001" and made["password"] is None
        assert re.fullmatch(r"(WeChat user |微信用户)\d{4}", made["nickname"])
        assert _me(browser, shop) == made["nickname"]
        account = browser.get(f"{shop.prefix}/account").get_data(as_text=True)
        assert 'id="entry-wechat"' not in account  # linked already: no "link my WeChat"
        _sign_out(browser, shop)
        assert _me(browser, shop) is None

        again = browser.get(_to_wechat(browser, shop))
        assert again.status_code == 303 and again.headers["Location"] == f"{shop.prefix}/account"
        assert [c["id"] for c in _customers(app, shop)] == [made["id"]]
        assert _me(browser, shop) == made["nickname"]
        assert len(wechat.token_requests) == 2


def test_the_guest_cart_comes_along_and_a_signed_in_shopper_skips_wechat(app, merchants):
    shop = _shop(app, merchants[0])
    [sku] = make_product(app, shop, title="山核桃", price=2990)
    browser = _browser(app)
    from mallow.catalog.models import Sku
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        product_id = db.session.get(Sku, sku).product_id
    added = post_form(
        browser,
        f"{shop.prefix}/cart/items",
        {"sku_id": sku, "quantity": 2},
        form_path=f"{shop.prefix}/products/{product_id}",
    )
    assert added.status_code == 303
    with wechat_oauth_server(app, APPID, SECRET) as wechat:
        wechat.openid_for_next = "o-guest-cart-00001"
        assert browser.get(_to_wechat(browser, shop, f"{shop.prefix}/cart")).status_code == 303
        cart = browser.get(f"{shop.prefix}/cart").get_data(as_text=True)
        assert "山核桃" in cart and "¥59.80" in cart
        signed_in = browser.get(f"{shop.prefix}/wechat/login?next={shop.prefix}/orders")
        assert signed_in.status_code == 303 and signed_in.headers["Location"] == f"{shop.prefix}/orders"
        assert len(wechat.token_requests) == 1


@pytest.mark.parametrize(
    "target", ["https://evil.example.com/", "//evil.example.com/x", "/\\evil.example.com", "javascript:alert(1)"]
)
def test_next_leads_only_to_this_site(app, merchants, target):
    shop = _shop(app, merchants[0])
    browser = _browser(app)
    with wechat_oauth_server(app, APPID, SECRET):
        back = browser.get(_to_wechat(browser, shop, target))
        assert back.status_code == 303 and back.headers["Location"] == f"{shop.prefix}/account"


def test_replayed_missing_foreign_and_forged_states_sign_nobody_in(app, merchants):
    shop = _shop(app, merchants[0])
    browser, stranger = _browser(app), _browser(app)
    with wechat_oauth_server(app, APPID, SECRET) as wechat:
        callback = _to_wechat(browser, shop)
        assert browser.get(_with(callback, state="forged")).status_code == 400
        callback = _to_wechat(browser, shop)
        assert browser.get(_with(callback, state="")).status_code == 400
        assert browser.get(f"{shop.prefix}/wechat/login/callback?code=abc").status_code == 400  # no state at all
        callback = _to_wechat(browser, shop)
        assert stranger.get(callback).status_code == 400  # the victim's callback in the attacker's browser
        assert wechat.token_requests == []
        # a state handed out to link a signed-in shopper's WeChat is no good for signing in
        linker = _browser(app)
        register_shopper(linker, shop)
        to_link = linker.get(f"{shop.prefix}/wechat/authorize")
        status, headers, _body = UrllibTransport(timeout=5).request(
            "GET", to_link.headers["Location"].split("#", 1)[0], {}, b""
        )
        link_callback = headers["location"]
        login_callback = link_callback.replace("/wechat/callback?", "/wechat/login/callback?")
        _sign_out(linker, shop)
        assert linker.get(login_callback).status_code == 400
        # the real one works, once; replayed it is refused
        callback = _to_wechat(browser, shop)
        assert browser.get(callback).status_code == 303
        _sign_out(browser, shop)
        assert browser.get(callback).status_code == 400
        assert _me(browser, shop) is None
        assert len(wechat.token_requests) == 1
    assert len(_customers(app, shop)) == 2  # the linker (by password) and one WeChat account


def test_a_code_for_another_store_or_official_account_signs_nobody_in(app, merchants):
    shop, other_account_shop, same_account_shop = (
        _shop(app, merchants[0]),
        _shop(app, merchants[1]),
        _shop(app, merchants[0]),
    )
    browser = _browser(app)
    with wechat_oauth_server(app, APPID, SECRET) as wechat:
        wechat.add_account(OTHER_APPID, SECRET)
        # store A's callback (its state, its code) taken to store B: B's session holds no state
        callback = _to_wechat(browser, shop)
        elsewhere = callback.replace(f"/s/{shop.slug}/", f"/s/{same_account_shop.slug}/")
        assert browser.get(elsewhere).status_code == 400
        # B's own state with a code WeChat issued to another official account: WeChat refuses it
        callback = _to_wechat(browser, other_account_shop)
        foreign_code = wechat.issue_code(APPID, "o-someone-else-0001")
        refused = browser.get(_with(callback, code=foreign_code))
        assert refused.status_code == 400 and 'id="wechat-retry"' in refused.get_data(as_text=True)
    assert _customers(app, other_account_shop) == [] and _customers(app, same_account_shop) == []


def test_an_openid_known_in_store_a_signs_nobody_of_a_into_store_b(app, merchants):
    store_a, store_b = _shop(app, merchants[0]), _shop(app, merchants[0])  # one official account, two stores
    browser = _browser(app)
    with wechat_oauth_server(app, APPID, SECRET) as wechat:
        wechat.openid_for_next = "o-two-stores-00001"
        assert browser.get(_to_wechat(browser, store_a)).status_code == 303
        [in_a] = _customers(app, store_a)
        assert _me(browser, store_b) is None  # signed into A only
        assert browser.get(_to_wechat(browser, store_b)).status_code == 303
        [in_b] = _customers(app, store_b)
    assert in_b["openid"] == in_a["openid"] == "o-two-stores-00001"
    assert len(_customers(app, store_a)) == 1  # B's sign-in made B's own account, nothing in A


def test_a_store_without_an_official_account_has_no_wechat_sign_in(app):
    shop = _shop(app)
    browser = _browser(app)
    assert 'id="wechat-login"' not in browser.get(f"{shop.prefix}/login").get_data(as_text=True)
    assert browser.get(f"{shop.prefix}/wechat/login").status_code == 404
    assert browser.get(f"{shop.prefix}/wechat/login/callback?code=abc&state=x").status_code == 404


def test_outside_wechat_the_button_is_never_shown(app, merchants):
    shop = _shop(app, merchants[0])
    phone = app.test_client()
    for page in ("login", "register"):
        assert 'id="wechat-login"' not in phone.get(f"{shop.prefix}/{page}").get_data(as_text=True)


@pytest.mark.parametrize("fault, status", [("errcode", 502), ("html", 502), ("timeout", 502), ("used_code", 400)])
def test_wechat_down_is_a_page_with_a_way_to_try_again(app, merchants, fault, status):
    shop = _shop(app, merchants[0])
    browser = _browser(app)
    with wechat_oauth_server(app, APPID, SECRET, timeout=0.5 if fault == "timeout" else 5.0) as wechat:
        callback = _to_wechat(browser, shop, f"{shop.prefix}/cart")
        if fault == "errcode":
            wechat.fail_next(-1, "system error")
        elif fault == "html":
            wechat.answer_next(502, b"<html>502 Bad Gateway</html>")
        elif fault == "timeout":
            wechat.hold_next()
        else:
            wechat.fail_next(40163, "code been used")
        answer = browser.get(callback)
        assert answer.status_code == status
        page = answer.get_data(as_text=True)
        assert 'id="wechat-retry"' in page and f'/wechat/login?next={shop.prefix}/cart"' in page
        assert _me(browser, shop) is None and _customers(app, shop) == []
        assert browser.get(_to_wechat(browser, shop)).status_code == 303  # trying again works


def test_a_closed_account_is_refused(app, merchants):
    from mallow.accounts.models import Customer
    from mallow.db import db
    from mallow.tenants.context import store_context

    shop = _shop(app, merchants[0])
    browser = _browser(app)
    with wechat_oauth_server(app, APPID, SECRET) as wechat:
        wechat.openid_for_next = "o-closed-account-01"
        assert browser.get(_to_wechat(browser, shop)).status_code == 303
        _sign_out(browser, shop)
        with store_context(shop.store_id, app=app):
            db.session.execute(sa.update(Customer).values(active=False))
            db.session.commit()
        refused = browser.get(_to_wechat(browser, shop))
        assert refused.status_code == 403 and 'id="wechat-closed"' in refused.get_data(as_text=True)
        assert _me(browser, shop) is None and len(_customers(app, shop)) == 1


def test_a_wechat_account_and_a_phone_account_stay_separate(app, merchants):
    """The WeChat account signs in by SMS later with a phone another account holds: that is the
    other account (no merging), and the WeChat account is unchanged."""
    shop = _shop(app, merchants[0])
    phone_owner = _browser(app)
    login = register_shopper(phone_owner, shop)
    browser = _browser(app)
    with wechat_oauth_server(app, APPID, SECRET) as wechat:
        wechat.openid_for_next = "o-separate-000001"
        browser.get(_to_wechat(browser, shop))
    wechat_nickname = _me(browser, shop)
    _sign_out(browser, shop)
    assert post_form(browser, f"{shop.prefix}/login", {"login": login, "password": PASSWORD}).status_code == 303
    assert _me(browser, shop) != wechat_nickname
    [by_phone, by_wechat] = _customers(app, shop)
    assert by_phone["openid"] is None and by_wechat["openid"] == "o-separate-000001"


def test_the_callback_is_rate_limited_per_address(app, merchants, monkeypatch):
    shop = _shop(app, merchants[0])
    browser = _browser(app)
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT_IP", "3 per minute")
    answers = [browser.get(f"{shop.prefix}/wechat/login/callback?code=x&state=y").status_code for _ in range(5)]
    assert answers[:3] == [400, 400, 400] and answers[3:] == [429, 429]


def _consents(app, shop) -> list[tuple[int, str]]:
    from mallow.db import db
    from mallow.privacy.models import PrivacyConsent
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        rows = db.session.execute(sa.select(PrivacyConsent).order_by(PrivacyConsent.id)).scalars()
        return [(c.customer_id, c.channel) for c in rows]


def test_a_new_account_needs_the_consent_box_ticked_and_a_known_shopper_is_not_asked(app, merchants):
    shop = _shop(app, merchants[0])
    browser = _browser(app)
    with wechat_oauth_server(app, APPID, SECRET) as wechat:
        # not ticked: WeChat answers, but no account is made; 注册 says why, next kept
        wechat.openid_for_next = "o-consent-000001"
        back = browser.get(_to_wechat(browser, shop, f"{shop.prefix}/cart", consent=False))
        assert back.status_code == 303
        assert back.headers["Location"] == f"{shop.prefix}/register?next={shop.prefix}/cart&consent=wechat"
        assert _customers(app, shop) == [] and _me(browser, shop) is None
        page = browser.get(back.headers["Location"]).get_data(as_text=True)
        assert 'data-field="privacy_consent"' in page.split('id="wechat-login-form"')[1].split("</form>")[0]
        assert 'id="f-consent-wechat" name="privacy_consent" value="1" aria-invalid="true"' in page
        # ticked: the account is made and the consent recorded with the way it was given
        wechat.openid_for_next = "o-consent-000001"
        made = browser.get(_to_wechat(browser, shop, f"{shop.prefix}/cart"))
        assert made.status_code == 303 and made.headers["Location"] == f"{shop.prefix}/cart"
        [customer] = _customers(app, shop)
        assert _consents(app, shop) == [(customer["id"], "wechat")]
        _sign_out(browser, shop)
        # the same WeChat again, box not ticked: signed in, not asked, nothing recorded again
        wechat.openid_for_next = "o-consent-000001"
        again = browser.get(_to_wechat(browser, shop, consent=False))
        assert again.status_code == 303 and again.headers["Location"] == f"{shop.prefix}/account"
        assert _me(browser, shop) == customer["nickname"]
        assert len(_customers(app, shop)) == 1 and len(_consents(app, shop)) == 1


def test_only_a_page_with_the_button_lets_a_form_lead_to_wechat(app, merchants):
    """The button is a form (its consent box goes along), and the CSP's form-action applies to the
    form's redirect to WeChat: the sign-in page inside WeChat names WeChat's authorisation there."""
    shop = _shop(app, merchants[0])
    with wechat_oauth_server(app, APPID, SECRET):
        base = urlsplit(app.config["WECHAT_OAUTH_AUTHORIZE_URL"])
        inside = _browser(app).get(f"{shop.prefix}/login")
        policy = inside.headers["Content-Security-Policy"]
        assert f"form-action 'self' {base.scheme}://{base.netloc}" in policy
        outside = app.test_client().get(f"{shop.prefix}/login")
        assert "form-action 'self';" in outside.headers["Content-Security-Policy"] + ";"
        assert base.netloc not in outside.headers["Content-Security-Policy"]

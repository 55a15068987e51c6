"""WeChat web authorisation with the real HTTP client, against a fake WeChat on 127.0.0.1: the
code → openid exchange, WeChat's error answers, timeouts, and the ``state`` that stops a forged
callback (CSRF for OAuth)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit, urlencode

import pytest
import sqlalchemy as sa

from mallow.testing.payments import configure_wechatpay, through_wechat, wechat_oauth_server
from mallow.payments.wechat_oauth import OAuthError, WeChatOAuthClient
from mallow.testing.wechat_oauth import FakeWeChatOAuthServer
from mallow.testing.wechatpay import make_fake_merchant
from mallow.testing import make_store, register_shopper

APPID, SECRET = "wx1234567890abcdef", "0123456789abcdef0123456789abcdef"


@pytest.fixture
def wechat():
    with FakeWeChatOAuthServer() as server:
        server.add_account(APPID, SECRET)
        yield server


def _client(server, secret=SECRET, timeout=5.0) -> WeChatOAuthClient:
    return WeChatOAuthClient(
        APPID, secret, authorize_url=server.authorize_url, token_url=server.token_url, timeout=timeout
    )


def _refusal(client, code) -> OAuthError:
    with pytest.raises(OAuthError) as caught:
        client.exchange_code(code)
    return caught.value


# --- the client on its own -------------------------------------------------------------------------


def test_the_real_client_exchanges_a_code_for_the_openid(wechat):
    client = _client(wechat)
    url = client.authorize_url("https://shop.example.com/s/shop/wechat/callback?x=1", "st-ate_1")
    assert url.startswith(wechat.authorize_url + "?appid=" + APPID + "&redirect_uri=https%3A%2F%2Fshop.example.com")
    assert url.endswith("&response_type=code&scope=snsapi_base&state=st-ate_1#wechat_redirect")
    code = wechat.issue_code(APPID, "o-real-client-0001")
    assert client.exchange_code(code) == "o-real-client-0001"
    [request] = wechat.token_requests
    assert request.appid == APPID and request.code == code and request.secret_ok
    assert SECRET not in repr(client)


def test_wechat_refusals_are_clear_errors(wechat):
    client = _client(wechat)
    invalid = _refusal(client, "no-such-code")
    assert invalid.code == "40029" and invalid.spent_code
    code = wechat.issue_code(APPID)
    client.exchange_code(code)
    used = _refusal(client, code)
    assert used.code == "40163" and used.spent_code
    wrong_secret = _refusal(_client(wechat, secret="f" * 32), wechat.issue_code(APPID))
    assert wrong_secret.code == "40125" and not wrong_secret.spent_code
    other_app = _refusal(client, wechat.issue_code("wxanotherofficial01"))
    assert other_app.code == "40029"
    wechat.fail_next(-1, "system error")
    busy = _refusal(client, wechat.issue_code(APPID))
    assert busy.code == "-1" and not busy.spent_code


def test_broken_answers_and_silence_are_clear_errors(wechat):
    client = _client(wechat)
    wechat.answer_next(502, b"<html>Bad Gateway</html>")
    assert _refusal(client, wechat.issue_code(APPID)).code == "bad_response"
    wechat.answer_next(200, b'{"openid": "<script>alert(1)</script>"}', "application/json")
    assert _refusal(client, wechat.issue_code(APPID)).code == "bad_openid"
    wechat.answer_next(200, b'["not", "an", "object"]', "application/json")
    assert _refusal(client, wechat.issue_code(APPID)).code == "bad_response"
    wechat.hold_next()  # no answer: the client's timeout ends the wait (a short one, for this alone)
    assert _refusal(_client(wechat, timeout=0.5), wechat.issue_code(APPID)).code == "transport"
    wechat.drop_next()
    assert _refusal(client, wechat.issue_code(APPID)).code == "transport"
    assert client.exchange_code(wechat.issue_code(APPID, "o-after-the-storm")) == "o-after-the-storm"


def test_malformed_codes_are_refused_before_anything_is_sent(wechat):
    client = _client(wechat)
    for code in ("", "../../etc", "a" * 129, "码", None):
        assert _refusal(client, code).code == "bad_code"
    assert wechat.token_requests == []


def test_the_client_only_talks_https_except_to_a_local_server():
    with pytest.raises(ValueError):
        WeChatOAuthClient(APPID, SECRET, token_url="http://api.weixin.qq.com/sns/oauth2/access_token")
    assert WeChatOAuthClient(APPID, SECRET).token_url == "https://api.weixin.qq.com/sns/oauth2/access_token"


# --- the storefront's authorise and callback -------------------------------------------------------


@pytest.fixture(scope="module")
def oauth_merchant(rsa_keys):
    return make_fake_merchant(appid=APPID, merchant_key=rsa_keys[0], platform_key=rsa_keys[1])


def _shop(app, merchant):
    shop = make_store(app)
    configure_wechatpay(app, shop, merchant, oauth_appsecret=SECRET)
    return shop


def _linked(app, shop) -> list[str]:
    from mallow.accounts.models import Customer
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        return list(
            db.session.execute(sa.select(Customer.wechat_openid).where(Customer.wechat_openid.is_not(None))).scalars()
        )


def _with(url: str, **params) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | params
    return parts._replace(query=urlencode(query)).geturl()


def test_the_callback_links_the_openid_through_the_real_client(app, oauth_merchant):
    shop = _shop(app, oauth_merchant)
    browser = app.test_client()
    register_shopper(browser, shop)
    with wechat_oauth_server(app, APPID, SECRET) as wechat:
        wechat.openid_for_next = "o-linked-shopper-01"
        callback = through_wechat(browser, shop)
        assert urlsplit(callback).path == f"/s/{shop.slug}/wechat/callback"
        back = browser.get(callback)
        assert back.status_code == 303
        [request] = wechat.token_requests
        assert request.secret_ok and request.code == parse_qs(urlsplit(callback).query)["code"][0]
    assert _linked(app, shop) == ["o-linked-shopper-01"]


def test_the_state_must_be_this_browsers_and_is_good_once(app, oauth_merchant):
    shop, other_shop = _shop(app, oauth_merchant), _shop(app, oauth_merchant)
    browser, stranger = app.test_client(), app.test_client()
    login = register_shopper(browser, shop)
    register_shopper(stranger, shop)
    with wechat_oauth_server(app, APPID, SECRET) as wechat:
        callback = through_wechat(browser, shop)
        # A forged, missing or non-ASCII state, or the victim's callback in another browser: refused,
        # and the code is never exchanged.
        assert browser.get(_with(callback, state="forged")).status_code == 400
        callback = through_wechat(browser, shop)
        assert browser.get(_with(callback, state="")).status_code == 400
        callback = through_wechat(browser, shop)
        assert browser.get(_with(callback, state="状态")).status_code == 400
        callback = through_wechat(browser, shop)
        assert stranger.get(callback).status_code == 400
        assert wechat.token_requests == []
        # The real one works, once.
        assert browser.get(callback).status_code == 303
        assert browser.get(callback).status_code == 400
        assert len(wechat.token_requests) == 1
        # A state handed out by one store is no good at another.
        register_shopper(browser, other_shop, login=login)
        callback = through_wechat(browser, shop)
        elsewhere = callback.replace(f"/s/{shop.slug}/", f"/s/{other_shop.slug}/")
        assert browser.get(elsewhere).status_code == 400
    assert len(_linked(app, shop)) == 1 and _linked(app, other_shop) == []


@pytest.mark.parametrize(
    "fault, status",
    [("invalid_code", 400), ("used_code", 400), ("errcode", 502), ("html", 502), ("timeout", 502), ("dropped", 502)],
)
def test_wechat_failures_at_the_callback_are_a_clear_refusal(app, oauth_merchant, fault, status):
    shop = _shop(app, oauth_merchant)
    browser = app.test_client()
    register_shopper(browser, shop)
    with wechat_oauth_server(app, APPID, SECRET, timeout=0.5 if fault == "timeout" else 5.0) as wechat:
        callback = through_wechat(browser, shop)
        if fault == "invalid_code":
            callback = _with(callback, code="expired-or-made-up")
        elif fault == "used_code":  # someone who saw the URL was quicker: WeChat has used the code
            code = parse_qs(urlsplit(callback).query)["code"][0]
            assert _client(wechat).exchange_code(code)
        elif fault == "errcode":
            wechat.fail_next(-1, "system error")
        elif fault == "html":
            wechat.answer_next(502, b"<html>502 Bad Gateway</html>")
        elif fault == "timeout":
            wechat.hold_next()
        elif fault == "dropped":
            wechat.drop_next()
        answer = browser.get(callback)
        assert answer.status_code == status
        assert 'id="wechat-link"' in answer.get_data(as_text=True)
        assert _linked(app, shop) == []
        # Starting again works.
        assert browser.get(through_wechat(browser, shop)).status_code == 303
    assert len(_linked(app, shop)) == 1

"""The WeChat JS-SDK signer (mallow.payments.wechat_jssdk) with the real HTTP client against the
fake WeChat on 127.0.0.1: WeChat's own signature example, the page URL signed without its
fragment, access_token and jsapi_ticket cached per store until shortly before they expire (in
this process, or shared through Redis), WeChat's refusals; and the storefront's side: the
``/wechat/js-config`` endpoint (this store's pages only), the script and CSP inside WeChat only."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from mallow.payments import wechat_jssdk
from mallow.testing.payments import configure_wechatpay, wechat_oauth_server
from mallow.payments.wechat_jssdk import JsSdkError, MemoryCache, RedisCache, WeChatJsSdk, signature
from mallow.testing.wechat_oauth import FakeWeChatOAuthServer
from mallow.testing.wechatpay import make_fake_merchant
from mallow.testing import make_product, make_store

APPID, SECRET = "wx5jssdk0000000001", "0123456789abcdef0123456789abcdef"
WECHAT_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN"
)
INSIDE = {"User-Agent": WECHAT_UA}


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def wechat():
    with FakeWeChatOAuthServer() as server:
        server.add_account(APPID, SECRET)
        yield server


def _signer(server, cache=None, clock=None, secret=SECRET, store_id=1) -> WeChatJsSdk:
    clock = clock or Clock()
    return WeChatJsSdk(
        store_id,
        APPID,
        secret,
        cache if cache is not None else MemoryCache(clock),
        clock=clock,
        api_base_url=server.api_base_url,
        timeout=5.0,
    )


# --- the signature ---------------------------------------------------------------------------------


def test_wechats_own_example_signs_to_the_documented_value():
    ticket = "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg"
    assert (
        signature(ticket, "Wm3WZYTPz0wzccnW", 1414587457, "http://mp.weixin.qq.com?params=value")
        == "0f9de62fce790f9a083d5c99e95740ceb90c27ed"
    )


def test_the_fragment_is_not_signed():
    base = signature("ticket", "nonce", 1, "https://shop.example.com/s/shop/products/1?x=1")
    assert signature("ticket", "nonce", 1, "https://shop.example.com/s/shop/products/1?x=1#gallery") == base
    assert signature("ticket", "nonce", 1, "https://shop.example.com/s/shop/products/2?x=1") != base


# --- credentials: fetched once, cached until shortly before they expire ------------------------------


def test_a_config_is_signed_with_the_ticket_the_account_was_given(wechat):
    signer = _signer(wechat)
    config = signer.config_for("https://shop.example.com/s/shop/products/7#top")
    ticket = signer.jsapi_ticket()
    assert config["appId"] == APPID and config["jsApiList"] == ["updateAppMessageShareData", "updateTimelineShareData"]
    assert config["signature"] == signature(
        ticket, config["nonceStr"], config["timestamp"], "https://shop.example.com/s/shop/products/7"
    )
    assert SECRET not in repr(signer)


def test_credentials_are_reused_until_shortly_before_they_expire(wechat):
    clock = Clock()
    cache = MemoryCache(clock)
    signer = _signer(wechat, cache, clock)
    first = signer.config_for("https://shop.example.com/s/shop/")
    second = _signer(wechat, cache, clock).config_for("https://shop.example.com/s/shop/products/1")
    assert wechat.api_calls("token") == 1 and wechat.api_calls("ticket") == 1
    assert first["nonceStr"] != second["nonceStr"]
    clock.now += 7200 - wechat_jssdk.EXPIRY_MARGIN - 1  # still good
    signer.config_for("https://shop.example.com/s/shop/")
    assert wechat.api_calls("token") == 1
    clock.now += 2  # the margin before WeChat's expiry: fetched again
    signer.config_for("https://shop.example.com/s/shop/")
    assert wechat.api_calls("token") == 2 and wechat.api_calls("ticket") == 2


def test_each_store_has_its_own_credentials(wechat):
    cache = MemoryCache()
    _signer(wechat, cache, store_id=1).config_for("https://a.example.com/")
    _signer(wechat, cache, store_id=2).config_for("https://b.example.com/")
    assert wechat.api_calls("token") == 2


def test_a_revoked_access_token_is_replaced_once(wechat):
    signer = _signer(wechat)
    signer.access_token()
    wechat.revoke_access_tokens()  # e.g. the AppSecret was reset: the cached token is refused (40001)
    signer.config_for("https://shop.example.com/")
    assert wechat.api_calls("token") == 2 and wechat.api_calls("ticket") == 1


@pytest.mark.parametrize("errcode", [40125, 40164, -1, 45009])
def test_wechat_refusing_the_token_gives_no_config_and_caches_nothing(wechat, errcode):
    signer = _signer(wechat)
    wechat.fail_next_api(errcode, "refused")
    with pytest.raises(JsSdkError) as refused:
        signer.config_for("https://shop.example.com/")
    assert refused.value.code == str(errcode)
    assert signer.config_for("https://shop.example.com/")["signature"]  # WeChat answers again: fetched anew


def test_a_refused_ticket_and_a_wrong_secret_give_no_config(wechat):
    signer = _signer(wechat)
    signer.access_token()
    wechat.fail_next_api(-1, "system error")
    with pytest.raises(JsSdkError):
        signer.jsapi_ticket()
    with pytest.raises(JsSdkError) as wrong:
        _signer(wechat, secret="f" * 32, store_id=9).config_for("https://shop.example.com/")
    assert wrong.value.code == "40125"


def test_silence_and_garbage_are_clear_errors():
    with FakeWeChatOAuthServer() as server:
        url = server.api_base_url
    silent = WeChatJsSdk(1, APPID, SECRET, MemoryCache(), api_base_url=url, timeout=0.5)  # nobody listens
    with pytest.raises(JsSdkError) as caught:
        silent.access_token()
    assert caught.value.code == "transport"
    with pytest.raises(ValueError):
        WeChatJsSdk(1, APPID, SECRET, MemoryCache(), api_base_url="http://api.weixin.qq.com")


def test_redis_shares_the_credentials_between_processes_encrypted(app, wechat, redis_url):
    prefix = f"test:jssdk:{uuid.uuid4().hex}:"
    with app.app_context():
        one, two = RedisCache(redis_url, prefix), RedisCache(redis_url, prefix)  # two processes' caches
        token = _signer(wechat, one).access_token()
        assert _signer(wechat, two).access_token() == token
        assert wechat.api_calls("token") == 1
        stored = one.redis.get(prefix + f"1:{APPID}:access_token")
        assert stored and token.encode() not in stored
        assert 0 < one.redis.ttl(prefix + f"1:{APPID}:access_token") <= 7200 - wechat_jssdk.EXPIRY_MARGIN
        one.redis.delete(*one.redis.keys(prefix + "*"))


def test_redis_not_answering_falls_back_to_this_process(app, wechat):
    with app.app_context():
        cache = RedisCache("redis://127.0.0.1:1/0")  # nothing listens there
        signer = _signer(wechat, cache)
        assert signer.access_token() == signer.access_token()
    assert wechat.api_calls("token") == 1


# --- the storefront: /wechat/js-config, the script and the CSP -------------------------------------


@pytest.fixture(scope="module")
def jssdk_merchant(rsa_keys):
    return make_fake_merchant(appid=APPID, merchant_key=rsa_keys[0], platform_key=rsa_keys[1])


def _shop(app, merchant=None):
    shop = make_store(app)
    if merchant is not None:
        configure_wechatpay(app, shop, merchant, oauth_appsecret=SECRET)
    return shop


def _config(client, shop, url, **headers):
    return client.get(
        f"{shop.prefix}/wechat/js-config", query_string={"url": url} if url is not None else {}, headers=headers
    )


def test_a_product_page_inside_wechat_gets_a_signed_config_and_wechat_is_asked_once(app, jssdk_merchant):
    shop = _shop(app, jssdk_merchant)
    make_product(app, shop, title="山核桃")
    client = app.test_client()
    with wechat_oauth_server(app, APPID, SECRET) as wechat:
        for _load in range(2):  # two page loads, as wechat-share.js does them
            page = client.get(f"{shop.prefix}/", headers=INSIDE)
            assert page.status_code == 200 and "wechat-share.js" in page.get_data(as_text=True)
            url = f"http://localhost{shop.prefix}/?from=timeline#top"
            answer = _config(client, shop, url, **INSIDE)
            assert answer.status_code == 200, answer.get_json()
            config = answer.get_json()
            assert answer.headers["Cache-Control"] == "no-store"
            assert config["appId"] == APPID and "updateAppMessageShareData" in config["jsApiList"]
        assert wechat.api_calls("token") == 1 and wechat.api_calls("ticket") == 1
        with app.test_request_context(f"{shop.prefix}/"):
            from mallow.payments.wechat_jssdk import app_cache

            ticket = app_cache(app).get(f"{shop.store_id}:{APPID}:jsapi_ticket")
    assert (
        config["signature"]
        == hashlib.sha1(
            f"jsapi_ticket={ticket}&noncestr={config['nonceStr']}&timestamp={config['timestamp']}"
            f"&url=http://localhost{shop.prefix}/?from=timeline".encode()
        ).hexdigest()
    )


def test_only_this_stores_pages_on_this_host_are_signed(app, jssdk_merchant):
    shop, other = _shop(app, jssdk_merchant), _shop(app, jssdk_merchant)
    client = app.test_client()
    with wechat_oauth_server(app, APPID, SECRET) as wechat:
        for url in (
            None,
            "",
            "javascript:alert(1)",
            "//localhost/s/x",
            "https://evil.example.com" + shop.prefix + "/",
            f"http://localhost{other.prefix}/",
            f"http://localhost{shop.prefix}evil/",
            f"http://user@localhost{shop.prefix}/",
            "http://localhost/admin",
            "ftp://localhost" + shop.prefix,
            f"http://localhost{shop.prefix}/\n",
            f"http://localhost{shop.prefix}/" + "a" * 1100,
            f"http://localhost{shop.prefix}/商品",
        ):
            answer = _config(client, shop, url)
            assert answer.status_code == 400, url
            assert answer.get_json()["fields"]["url"]["code"] == "not_this_store"
        assert wechat.api_requests == []  # nothing asked of WeChat for a refused URL
        assert _config(client, shop, f"http://LOCALHOST{shop.prefix}").status_code == 200
        # on the store's own host every path is the store's
        sub = {"Host": f"{shop.slug}.{app.config['MALLOW_STORE_DOMAIN']}"}
        on_host = client.get("/wechat/js-config", query_string={"url": f"http://{sub['Host']}/products/1"}, headers=sub)
        assert on_host.status_code == 200, on_host.get_json()
        elsewhere = client.get(
            "/wechat/js-config", query_string={"url": f"http://localhost{shop.prefix}/"}, headers=sub
        )
        assert elsewhere.status_code == 400


def test_a_store_without_an_official_account_has_no_config_and_no_script(app):
    shop = _shop(app)
    client = app.test_client()
    answer = _config(client, shop, f"http://localhost{shop.prefix}/", Accept="application/json")
    assert answer.status_code == 404 and answer.get_json()["error"] == "not_found"
    page = client.get(f"{shop.prefix}/", headers=INSIDE)
    assert "wechat-share.js" not in page.get_data(as_text=True)
    assert "res.wx.qq.com" not in page.headers["Content-Security-Policy"]


def test_wechat_refusing_gives_502_and_the_page_still_works(app, jssdk_merchant):
    shop = _shop(app, jssdk_merchant)
    make_product(app, shop, title="核桃仁")
    client = app.test_client()
    with wechat_oauth_server(app, APPID, SECRET) as wechat:
        wechat.fail_next_api(40164, "invalid ip, not in whitelist")
        answer = _config(client, shop, f"http://localhost{shop.prefix}/")
        assert answer.status_code == 502 and answer.get_json()["error"] == "wechat_unavailable"
        assert client.get(f"{shop.prefix}/", headers=INSIDE).status_code == 200
        assert _config(client, shop, f"http://localhost{shop.prefix}/").status_code == 200  # WeChat is back


def test_the_script_and_the_csp_exception_are_inside_wechat_only(app, jssdk_merchant):
    shop = _shop(app, jssdk_merchant)
    client = app.test_client()
    outside = client.get(f"{shop.prefix}/")
    assert "wechat-share.js" not in outside.get_data(as_text=True)
    assert "res.wx.qq.com" not in outside.headers["Content-Security-Policy"]
    inside = client.get(f"{shop.prefix}/", headers=INSIDE)
    html = inside.get_data(as_text=True)
    assert (
        'src="/static/storefront/wechat-share.js?v=' in html and f'data-config="{shop.prefix}/wechat/js-config"' in html
    )
    policy = inside.headers["Content-Security-Policy"]
    assert "script-src 'self' https://res.wx.qq.com;" in policy and policy.count("res.wx.qq.com") == 1
    # the console and platform pages never load WeChat's script, even inside WeChat
    assert "res.wx.qq.com" not in client.get("/", headers=INSIDE).headers.get("Content-Security-Policy", "")

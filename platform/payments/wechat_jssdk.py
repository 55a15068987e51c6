"""The WeChat JS-SDK signer: what a storefront page inside WeChat needs for ``wx.config``.

WeChat's share menu uses a page's own title, description and picture only when the page has
called ``wx.config`` with a signature made on the server (the official account's AppSecret never
reaches a browser) and then ``updateAppMessageShareData`` / ``updateTimelineShareData``. The
signature needs two short-lived credentials of the store's official account:

* its ``access_token`` (``GET /cgi-bin/token?grant_type=client_credential&appid&secret``), and
* its ``jsapi_ticket`` (``GET /cgi-bin/ticket/getticket?access_token&type=jsapi``),

each valid for ``expires_in`` seconds (7200) and limited per day by WeChat, so both are cached
per store until :data:`EXPIRY_MARGIN` seconds before they expire: in Redis when ``REDIS_URL`` is
set (every process shares them; values are encrypted with the app's key, since Redis is not
trusted), else in the process (:class:`MemoryCache`). The signature is
``sha1("jsapi_ticket=…&noncestr=…&timestamp=…&url=…")`` over the page URL without its
``#fragment`` (:func:`signature`).

:func:`for_store` builds the signer from the store's AppID/AppSecret (the same as web
authorisation, :func:`mallow.payments.wechat.oauth_credentials`). The app config may point it
elsewhere (tests run :class:`~mallow.testing.wechat_oauth.FakeWeChatOAuthServer`):
``WECHAT_API_BASE_URL`` (default ``https://api.weixin.qq.com``); the transport and timeout are
web authorisation's (``WECHAT_OAUTH_TRANSPORT``, ``WECHAT_OAUTH_TIMEOUT``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
import time
from urllib.parse import urlencode

from flask import current_app

from mallow.payments import wechat
from mallow.payments.wechatpay import TransportError, UrllibTransport
from mallow.payments.wechatpay.transport import check_base_url
from mallow.security import crypto

API_BASE_URL = "https://api.weixin.qq.com"
TOKEN_PATH = "/cgi-bin/token"
TICKET_PATH = "/cgi-bin/ticket/getticket"
JS_API_LIST = ("updateAppMessageShareData", "updateTimelineShareData")
#: a cached credential is dropped this many seconds before WeChat says it expires
EXPIRY_MARGIN = 300
MIN_TTL = 60
#: WeChat's answers meaning "this access_token is no good (any more)": fetch a new one, once
STALE_TOKEN_ERRORS = {"40001", "40014", "42001"}
CACHE_EXTENSION = "mallow.wechat_jssdk.cache"
log = logging.getLogger("mallow.payments")


class JsSdkError(Exception):
    """WeChat did not hand out a credential (``code``: its ``errcode`` or ours)."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


class JsSdkUnavailable(LookupError):
    """The store has no official account AppID/AppSecret configured."""


def signature(jsapi_ticket: str, noncestr: str, timestamp: int | str, url: str) -> str:
    """WeChat's JS-SDK signature for the page at ``url`` (its ``#fragment`` is not signed)."""
    page = url.split("#", 1)[0]
    plain = f"jsapi_ticket={jsapi_ticket}&noncestr={noncestr}&timestamp={timestamp}&url={page}"
    return hashlib.sha1(plain.encode()).hexdigest()


# --- caches: (store, appid, kind) → value until a deadline ---------------------------------------


class MemoryCache:
    """Credentials kept in this process (without Redis, or while Redis does not answer)."""

    def __init__(self, clock=time.time) -> None:
        self.clock = clock
        self._values: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        with self._lock:
            found = self._values.get(key)
            if found is not None and found[1] <= self.clock():
                del self._values[key]
                found = None
        return found[0] if found else None

    def set(self, key: str, value: str, ttl: int) -> None:
        with self._lock:
            self._values[key] = (value, self.clock() + ttl)

    def delete(self, key: str) -> None:
        with self._lock:
            self._values.pop(key, None)


class RedisCache:
    """Credentials shared by every process through Redis, encrypted (AES-GCM, the app's key).
    When Redis does not answer, this process keeps them itself until it does."""

    def __init__(self, redis_url: str, prefix: str = "mallow:wechat-jssdk:") -> None:
        from redis import Redis

        self.redis = Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=1)
        self.prefix = prefix
        self.fallback = MemoryCache()

    def get(self, key: str) -> str | None:
        try:
            sealed = self.redis.get(self.prefix + key)
        except Exception:  # noqa: BLE001 -- Redis away: this process's own copy
            log.warning("JS-SDK cache: Redis did not answer; using this process's cache")
            return self.fallback.get(key)
        if sealed is None:
            return None
        try:
            return crypto.decrypt(sealed.decode())
        except Exception:  # noqa: BLE001 -- not ours (written by someone else, or another key): fetch again
            return None

    def set(self, key: str, value: str, ttl: int) -> None:
        try:
            self.redis.set(self.prefix + key, crypto.encrypt(value), ex=ttl)
        except Exception:  # noqa: BLE001
            log.warning("JS-SDK cache: Redis did not answer; keeping the credential in this process")
            self.fallback.set(key, value, ttl)

    def delete(self, key: str) -> None:
        self.fallback.delete(key)
        try:
            self.redis.delete(self.prefix + key)
        except Exception:  # noqa: BLE001
            log.warning("JS-SDK cache: Redis did not answer; the stale credential stays there until it expires")


def app_cache(app):
    """The app's credential cache (one per app): Redis with ``REDIS_URL``, else this process's."""
    cache = app.extensions.get(CACHE_EXTENSION)
    if cache is None:
        url = app.config.get("REDIS_URL")
        cache = app.extensions[CACHE_EXTENSION] = RedisCache(url) if url else MemoryCache()
    return cache


# --- the signer ---------------------------------------------------------------------------------


class WeChatJsSdk:
    """``wx.config`` for the pages of one store's official account."""

    def __init__(
        self,
        store_id: int,
        appid: str,
        appsecret: str,
        cache,
        transport=None,
        *,
        api_base_url: str = API_BASE_URL,
        timeout: float = 5.0,
        clock=time.time,
    ) -> None:
        self.store_id, self.appid, self._appsecret = store_id, appid, appsecret
        self.cache, self.clock = cache, clock
        self.transport = transport if transport is not None else UrllibTransport(timeout=timeout)
        self.api_base_url = check_base_url(api_base_url)

    def __repr__(self) -> str:  # the AppSecret stays out of logs and tracebacks
        return f"WeChatJsSdk(store_id={self.store_id!r}, appid={self.appid!r})"

    def config_for(self, url: str) -> dict:
        """What ``wx.config`` takes for the page at ``url``; raises :class:`JsSdkError`."""
        timestamp, nonce = int(self.clock()), secrets.token_urlsafe(12)
        return {
            "appId": self.appid,
            "timestamp": timestamp,
            "nonceStr": nonce,
            "signature": signature(self.jsapi_ticket(), nonce, timestamp, url),
            "jsApiList": list(JS_API_LIST),
        }

    def jsapi_ticket(self) -> str:
        try:
            return self._cached("jsapi_ticket", lambda: self._ticket(self.access_token()))
        except JsSdkError as error:
            if error.code not in STALE_TOKEN_ERRORS:
                raise
        self.cache.delete(self._key("access_token"))  # revoked or expired early: once more, with a new one
        return self._cached("jsapi_ticket", lambda: self._ticket(self.access_token()))

    def access_token(self) -> str:
        return self._cached("access_token", self._token)

    def _key(self, kind: str) -> str:
        return f"{self.store_id}:{self.appid}:{kind}"

    def _cached(self, kind: str, fetch) -> str:
        key = self._key(kind)
        value = self.cache.get(key)
        if value is None:
            value, expires_in = fetch()
            self.cache.set(key, value, max(MIN_TTL, expires_in - EXPIRY_MARGIN))
        return value

    def _token(self) -> tuple[str, int]:
        data = self._get(
            TOKEN_PATH, {"grant_type": "client_credential", "appid": self.appid, "secret": self._appsecret}
        )
        return _credential(data, "access_token")

    def _ticket(self, access_token: str) -> tuple[str, int]:
        return _credential(self._get(TICKET_PATH, {"access_token": access_token, "type": "jsapi"}), "ticket")

    def _get(self, path: str, query: dict) -> dict:
        try:
            status, _headers, body = self.transport.request(
                "GET", f"{self.api_base_url}{path}?{urlencode(query)}", {"Accept": "application/json"}, b""
            )
        except TransportError as exc:
            raise JsSdkError("transport", "WeChat did not answer") from exc
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise JsSdkError("bad_response", f"HTTP {status}: the answer is not JSON") from exc
        if not isinstance(data, dict) or status != 200:
            raise JsSdkError("bad_response", f"HTTP {status}")
        if data.get("errcode"):
            raise JsSdkError(str(data.get("errcode")), str(data.get("errmsg") or "error")[:120])
        return data


def _credential(data: dict, name: str) -> tuple[str, int]:
    value, expires_in = data.get(name), data.get("expires_in")
    if not isinstance(value, str) or not value or len(value) > 512 or not value.isascii():
        raise JsSdkError("bad_response", f"the answer has no valid {name}")
    if not isinstance(expires_in, int) or isinstance(expires_in, bool) or expires_in <= 0:
        expires_in = 7200
    return value, expires_in


def for_store(store) -> WeChatJsSdk:
    """The signer of ``store``'s official account; :class:`JsSdkUnavailable` if none."""
    credentials = wechat.oauth_credentials()
    if credentials is None:
        raise JsSdkUnavailable(store.slug)
    appid, appsecret = credentials
    config = current_app.config
    return WeChatJsSdk(
        store.id,
        appid,
        appsecret,
        app_cache(current_app),
        transport=config.get("WECHAT_OAUTH_TRANSPORT"),
        api_base_url=config.get("WECHAT_API_BASE_URL") or API_BASE_URL,
        timeout=float(config.get("WECHAT_OAUTH_TIMEOUT") or 5.0),
    )

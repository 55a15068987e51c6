"""WeChat web authorisation (网页授权): an OAuth ``code`` becomes the shopper's ``openid``.

JSAPI payments need the payer's openid for the store's official account. Inside WeChat, the
storefront sends the shopper to :meth:`WeChatOAuth.authorize_url` (``snsapi_base``: silent, no
consent page); WeChat redirects back to the callback with ``code`` and ``state``; the server
exchanges the code (with the official account's AppSecret, which never reaches a browser) for the
openid and stores it on the signed-in customer (:mod:`mallow.payments.views`).

Two implementations of the interface:

* :class:`WeChatOAuthClient` -- the real one (``open.weixin.qq.com`` / ``api.weixin.qq.com``),
  over an injectable HTTP transport.
* :class:`FakeWeChatOAuth` -- a local stand-in (tests run offline, nothing outside the machine is
  reachable): it "authorises" at once by redirecting to the callback with a one-time code.

:func:`for_store` picks the app config's ``WECHAT_OAUTH`` (an implementation, or a factory taking
the store) when set, else the real client with the store's stored AppSecret.
"""
from __future__ import annotations

import json
import re
import secrets
import threading
from typing import Protocol
from urllib.parse import quote, urlencode, urlsplit, urlunsplit, parse_qsl

from flask import current_app

AUTHORIZE_URL = "https://open.weixin.qq.com/connect/oauth2/authorize"
TOKEN_URL = "https://api.weixin.qq.com/sns/oauth2/access_token"
SCOPES = ("snsapi_base", "snsapi_userinfo")
OPENID_RE = re.compile(r"[0-9A-Za-z_-]{1,64}")


class OAuthError(Exception):
    """The code could not be exchanged (``code``: WeChat's ``errcode`` or ours)."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


class OAuthUnavailable(LookupError):
    """The store has no official account AppID/AppSecret configured."""


class WeChatOAuth(Protocol):
    def authorize_url(self, redirect_uri: str, state: str, scope: str = "snsapi_base") -> str: ...

    def exchange_code(self, code: str) -> str: ...


def _check_openid(value) -> str:
    if not isinstance(value, str) or not OPENID_RE.fullmatch(value):
        raise OAuthError("bad_openid", "the answer has no valid openid")
    return value


class WeChatOAuthClient:
    """The real web authorisation of one official account."""

    def __init__(self, appid: str, appsecret: str, transport=None, *, token_url: str = TOKEN_URL) -> None:
        from mallow.payments.wechatpay import UrllibTransport

        self.appid, self._appsecret = appid, appsecret
        self.transport = transport if transport is not None else UrllibTransport(timeout=5.0)
        self.token_url = token_url

    def __repr__(self) -> str:  # the AppSecret stays out of logs and tracebacks
        return f"WeChatOAuthClient(appid={self.appid!r})"

    def authorize_url(self, redirect_uri: str, state: str, scope: str = "snsapi_base") -> str:
        if scope not in SCOPES:
            raise ValueError("unknown scope")
        # WeChat wants exactly this parameter order and the #wechat_redirect fragment.
        return (f"{AUTHORIZE_URL}?appid={quote(self.appid, safe='')}&redirect_uri={quote(redirect_uri, safe='')}"
                f"&response_type=code&scope={scope}&state={quote(state, safe='')}#wechat_redirect")

    def exchange_code(self, code: str) -> str:
        from mallow.payments.wechatpay import TransportError

        if not isinstance(code, str) or not re.fullmatch(r"[0-9A-Za-z_-]{1,128}", code):
            raise OAuthError("bad_code", "the code is malformed")
        query = urlencode({"appid": self.appid, "secret": self._appsecret, "code": code,
                           "grant_type": "authorization_code"})
        try:
            status, _headers, body = self.transport.request("GET", f"{self.token_url}?{query}",
                                                            {"Accept": "application/json"}, b"")
        except TransportError as exc:
            raise OAuthError("transport", "WeChat did not answer") from exc
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise OAuthError("bad_response", "the answer is not JSON") from exc
        if not isinstance(data, dict) or status != 200:
            raise OAuthError("bad_response", f"HTTP {status}")
        if data.get("errcode"):
            raise OAuthError(str(data.get("errcode")), str(data.get("errmsg") or "error")[:120])
        return _check_openid(data.get("openid"))


class FakeWeChatOAuth:
    """WeChat's authorisation server, faked locally: :meth:`authorize_url` is the callback itself
    with a fresh one-time code for ``openid_for_next`` (or a stable fake openid)."""

    def __init__(self, appid: str = "wxfakeoauth0000001") -> None:
        self.appid = appid
        self.openid_for_next: str | None = None
        self._codes: dict[str, str] = {}
        self._lock = threading.Lock()
        self.exchanged: list[str] = []

    def issue_code(self, openid: str) -> str:
        code = secrets.token_urlsafe(16)
        with self._lock:
            self._codes[code] = _check_openid(openid)
        return code

    def authorize_url(self, redirect_uri: str, state: str, scope: str = "snsapi_base") -> str:
        openid = self.openid_for_next or "o-fake-" + secrets.token_hex(8)
        parts = urlsplit(redirect_uri)
        query = parse_qsl(parts.query) + [("code", self.issue_code(openid)), ("state", state)]
        return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))

    def exchange_code(self, code: str) -> str:
        with self._lock:
            openid = self._codes.pop(code, None) if isinstance(code, str) else None
        if openid is None:
            raise OAuthError("40029", "invalid code")
        self.exchanged.append(openid)
        return openid


def for_store(store) -> WeChatOAuth:
    """The web authorisation of ``store``'s official account; :class:`OAuthUnavailable` if none."""
    injected = current_app.config.get("WECHAT_OAUTH")
    if injected is not None:
        return injected if hasattr(injected, "exchange_code") else injected(store)
    from mallow.payments import wechat

    credentials = wechat.oauth_credentials()
    if credentials is None:
        raise OAuthUnavailable(store.slug)
    appid, appsecret = credentials
    return WeChatOAuthClient(appid, appsecret, transport=current_app.config.get("WECHAT_OAUTH_TRANSPORT"))

"""WeChat web authorisation (网页授权): an OAuth ``code`` becomes the shopper's ``openid``.

JSAPI payments need the payer's openid for the store's official account. Inside WeChat, the
storefront sends the shopper to :meth:`WeChatOAuthClient.authorize_url` (``snsapi_base``:
silent, no consent page) with a one-time ``state`` kept in the shopper's session (CSRF for
OAuth); WeChat redirects back to the callback with ``code`` and ``state``; the callback checks
the state first, then exchanges the code (with the official account's AppSecret, which never
reaches a browser) for the openid and stores it on the signed-in customer
(:mod:`mallow.storefront.wechat`).

:func:`for_store` builds the client from the store's AppID/AppSecret. The app config may point it
elsewhere (tests run :class:`~mallow.testing.wechat_oauth.FakeWeChatOAuthServer` on
127.0.0.1): ``WECHAT_OAUTH_AUTHORIZE_URL``, ``WECHAT_OAUTH_TOKEN_URL``, ``WECHAT_OAUTH_TIMEOUT``
(seconds, default 5) and ``WECHAT_OAUTH_TRANSPORT`` (an HTTP transport, as for WeChat Pay).
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote, urlencode

from flask import current_app

from mallow.payments import wechat
from mallow.payments.wechatpay import TransportError, UrllibTransport
from mallow.payments.wechatpay.transport import check_base_url

AUTHORIZE_URL = "https://open.weixin.qq.com/connect/oauth2/authorize"
TOKEN_URL = "https://api.weixin.qq.com/sns/oauth2/access_token"
SCOPES = ("snsapi_base", "snsapi_userinfo")
OPENID_RE = re.compile(r"[0-9A-Za-z_-]{1,64}")
CODE_RE = re.compile(r"[0-9A-Za-z_-]{1,128}")
#: WeChat's answers that mean "this code is no good" (invalid, already used, missing): the shopper
#: starts again; anything else (no answer, a wrong AppSecret, "system busy") is WeChat's side or ours
SPENT_CODE_ERRORS = {"bad_code", "40029", "40163", "41008"}


class OAuthError(Exception):
    """The code could not be exchanged (``code``: WeChat's ``errcode`` or ours)."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message

    @property
    def spent_code(self) -> bool:
        """True when the code itself was refused (a new authorisation helps)."""
        return self.code in SPENT_CODE_ERRORS


class OAuthUnavailable(LookupError):
    """The store has no official account AppID/AppSecret configured."""


def _check_openid(value) -> str:
    if not isinstance(value, str) or not OPENID_RE.fullmatch(value):
        raise OAuthError("bad_openid", "the answer has no valid openid")
    return value


class WeChatOAuthClient:
    """The web authorisation of one official account, over an HTTP transport."""

    def __init__(
        self,
        appid: str,
        appsecret: str,
        transport=None,
        *,
        authorize_url: str = AUTHORIZE_URL,
        token_url: str = TOKEN_URL,
        timeout: float = 5.0,
    ) -> None:
        self.appid, self._appsecret = appid, appsecret
        self.transport = transport if transport is not None else UrllibTransport(timeout=timeout)
        self.authorize_base = check_base_url(authorize_url)
        self.token_url = check_base_url(token_url)

    def __repr__(self) -> str:  # the AppSecret stays out of logs and tracebacks
        return f"WeChatOAuthClient(appid={self.appid!r})"

    def authorize_url(self, redirect_uri: str, state: str, scope: str = "snsapi_base") -> str:
        if scope not in SCOPES:
            raise ValueError("unknown scope")
        # WeChat wants exactly this parameter order and the #wechat_redirect fragment.
        return (
            f"{self.authorize_base}?appid={quote(self.appid, safe='')}"
            f"&redirect_uri={quote(redirect_uri, safe='')}&response_type=code&scope={scope}"
            f"&state={quote(state, safe='')}#wechat_redirect"
        )

    def exchange_code(self, code: str) -> str:
        """The openid for ``code``; raises :class:`OAuthError` for every other outcome."""
        if not isinstance(code, str) or not CODE_RE.fullmatch(code):
            raise OAuthError("bad_code", "the code is malformed")
        query = urlencode(
            {"appid": self.appid, "secret": self._appsecret, "code": code, "grant_type": "authorization_code"}
        )
        try:
            status, _headers, body = self.transport.request(
                "GET", f"{self.token_url}?{query}", {"Accept": "application/json"}, b""
            )
        except TransportError as exc:
            raise OAuthError("transport", "WeChat did not answer") from exc
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise OAuthError("bad_response", f"HTTP {status}: the answer is not JSON") from exc
        if not isinstance(data, dict) or status != 200:
            raise OAuthError("bad_response", f"HTTP {status}")
        if data.get("errcode"):
            raise OAuthError(str(data.get("errcode")), str(data.get("errmsg") or "error")[:120])
        return _check_openid(data.get("openid"))


def for_store(store) -> WeChatOAuthClient:
    """The web authorisation of ``store``'s official account; :class:`OAuthUnavailable` if none."""
    credentials = wechat.oauth_credentials()
    if credentials is None:
        raise OAuthUnavailable(store.slug)
    appid, appsecret = credentials
    config = current_app.config
    return WeChatOAuthClient(
        appid,
        appsecret,
        transport=config.get("WECHAT_OAUTH_TRANSPORT"),
        authorize_url=config.get("WECHAT_OAUTH_AUTHORIZE_URL") or AUTHORIZE_URL,
        token_url=config.get("WECHAT_OAUTH_TOKEN_URL") or TOKEN_URL,
        timeout=float(config.get("WECHAT_OAUTH_TIMEOUT") or 5.0),
    )

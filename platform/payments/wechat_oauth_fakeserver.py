"""A local fake of WeChat web authorisation (网页授权), for tests: the real
:class:`~mallow.payments.wechat_oauth.WeChatOAuthClient` talks HTTP to it on 127.0.0.1.

* ``GET /connect/oauth2/authorize?appid&redirect_uri&response_type=code&scope&state`` -- the
  shopper "agrees": ``302`` to ``redirect_uri`` with a fresh one-time ``code`` and the same
  ``state`` (an unknown appid or scope is a 400 page, as WeChat shows one).
* ``GET /sns/oauth2/access_token?appid&secret&code&grant_type=authorization_code`` -- WeChat's
  answers: ``{"access_token", "expires_in", "refresh_token", "openid", "scope"}``, or HTTP 200 with
  ``{"errcode", "errmsg"}``: 40013 invalid appid, 40125 invalid appsecret, 40029 invalid code
  (unknown, or issued to another appid), 40163 code been used, 40002 invalid grant_type.

Test controls: :meth:`issue_code`, :meth:`fail_next` (an errcode answer), :meth:`answer_next`
(any status and body, e.g. an HTML error page), :meth:`hold_next` (no answer until the client
gives up: its timeout), :meth:`drop_next` (close without answering) and :attr:`token_requests`.

Usage::

    with FakeWeChatOAuthServer() as wechat:
        wechat.add_account(appid, appsecret)
        app.config["WECHAT_OAUTH_AUTHORIZE_URL"] = wechat.authorize_url
        app.config["WECHAT_OAUTH_TOKEN_URL"] = wechat.token_url
"""
from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from mallow.payments.wechatpay.fakeserver import LocalFakeServer

AUTHORIZE_PATH = "/connect/oauth2/authorize"
TOKEN_PATH = "/sns/oauth2/access_token"
HOLD_SECONDS = 10.0  # a held request is answered (by closing) after this, or at stop()


@dataclass(frozen=True)
class TokenRequest:
    """One code exchange the fake received (the secret is only said to be right or wrong)."""

    appid: str
    code: str
    secret_ok: bool
    errcode: int


class FakeWeChatOAuthServer(LocalFakeServer):
    thread_name = "fake-wechat-oauth"

    def __init__(self) -> None:
        super().__init__()
        self.openid_for_next: str | None = None
        self.token_requests: list[TokenRequest] = []
        self._accounts: dict[str, str] = {}
        self._codes: dict[str, tuple[str, str]] = {}  # code → (appid, openid)
        self._used: set[str] = set()
        self._faults: list = []
        self._lock = threading.Lock()
        self._release = threading.Event()

    # ---- set-up and test controls ---------------------------------------------------------

    @property
    def authorize_url(self) -> str:
        return self.base_url + AUTHORIZE_PATH

    @property
    def token_url(self) -> str:
        return self.base_url + TOKEN_PATH

    def add_account(self, appid: str, appsecret: str) -> None:
        with self._lock:
            self._accounts[appid] = appsecret

    def issue_code(self, appid: str, openid: str | None = None) -> str:
        """A code WeChat would hand the callback for ``openid`` (default: a new fake openid)."""
        code = secrets.token_urlsafe(16)
        with self._lock:
            self._codes[code] = (appid, openid or "o-fake-" + secrets.token_hex(8))
        return code

    def fail_next(self, errcode: int, errmsg: str) -> None:
        """Answer the next code exchange with ``{"errcode": …, "errmsg": …}`` (HTTP 200, as WeChat)."""
        self._fault(("answer", 200, json.dumps({"errcode": errcode, "errmsg": errmsg}).encode()))

    def answer_next(self, status: int, body: bytes, content_type: str = "text/html") -> None:
        self._fault(("answer", status, body, content_type))

    def hold_next(self) -> None:
        """Do not answer the next code exchange until the client has given up."""
        self._fault(("hold",))

    def drop_next(self) -> None:
        self._fault(("drop",))

    def stop(self) -> None:
        self._release.set()  # held requests end now
        super().stop()

    def _fault(self, fault: tuple) -> None:
        with self._lock:
            self._faults.append(fault)

    # ---- request handling -----------------------------------------------------------------

    def _serve(self, method, raw_path, authorization, body):
        parts = urlsplit(raw_path)
        query = dict(parse_qsl(parts.query))
        if method == "GET" and parts.path == AUTHORIZE_PATH:
            return self._authorize(query)
        if method == "GET" and parts.path == TOKEN_PATH:
            return self._token(query)
        return 404, {"Content-Type": "text/plain"}, b"not found"

    def _authorize(self, query: dict):
        appid, redirect_uri = query.get("appid", ""), query.get("redirect_uri", "")
        with self._lock:
            known = appid in self._accounts
        if (not known or query.get("response_type") != "code" or query.get("scope") not in ("snsapi_base",
                                                                                             "snsapi_userinfo")
                or not redirect_uri.startswith(("http://", "https://"))):
            return 400, {"Content-Type": "text/html; charset=utf-8"}, "<p>参数错误</p>".encode()
        code = self.issue_code(appid, self.openid_for_next)
        target = urlsplit(redirect_uri)
        location = urlunsplit((target.scheme, target.netloc, target.path,
                               urlencode(parse_qsl(target.query) + [("code", code), ("state", query.get("state", ""))]),
                               ""))
        return 302, {"Location": location}, b""

    def _token(self, query: dict):
        with self._lock:
            fault = self._faults.pop(0) if self._faults else None
        if fault is not None and fault[0] == "hold":
            self._release.wait(HOLD_SECONDS)
            return None
        if fault is not None and fault[0] == "drop":
            return None
        appid, code = query.get("appid", ""), query.get("code", "")
        with self._lock:
            secret = self._accounts.get(appid)
            secret_ok = secret is not None and secrets.compare_digest(secret, query.get("secret", ""))
            issued = self._codes.get(code)
            if secret is None:
                answer = {"errcode": 40013, "errmsg": "invalid appid"}
            elif not secret_ok:
                answer = {"errcode": 40125, "errmsg": "invalid appsecret"}
            elif query.get("grant_type") != "authorization_code":
                answer = {"errcode": 40002, "errmsg": "invalid grant_type"}
            elif code in self._used:
                answer = {"errcode": 40163, "errmsg": "code been used"}
            elif issued is None or issued[0] != appid:
                answer = {"errcode": 40029, "errmsg": "invalid code"}
            else:
                self._used.add(code)
                answer = {"access_token": secrets.token_urlsafe(32), "expires_in": 7200,
                          "refresh_token": secrets.token_urlsafe(32), "openid": issued[1], "scope": "snsapi_base"}
            self.token_requests.append(TokenRequest(appid, code, secret_ok, int(answer.get("errcode", 0))))
        if fault is not None:  # "answer": the exchange was recorded, the reply is the test's
            status, body = fault[1], fault[2]
            content_type = fault[3] if len(fault) > 3 else "application/json; encoding=utf-8"
            return status, {"Content-Type": content_type}, body
        return 200, {"Content-Type": "application/json; encoding=utf-8"}, json.dumps(answer).encode()

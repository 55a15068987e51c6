"""A local fake of WeChat web authorisation (网页授权), for tests: the real
:class:`~mallow.payments.wechat_oauth.WeChatOAuthClient` talks HTTP to it on 127.0.0.1.

* ``GET /connect/oauth2/authorize?appid&redirect_uri&response_type=code&scope&state`` -- the
  shopper "agrees": ``302`` to ``redirect_uri`` with a fresh one-time ``code`` and the same
  ``state`` (an unknown appid or scope is a 400 page, as WeChat shows one).
* ``GET /sns/oauth2/access_token?appid&secret&code&grant_type=authorization_code`` -- WeChat's
  answers: ``{"access_token", "expires_in", "refresh_token", "openid", "scope"}``, or HTTP 200 with
  ``{"errcode", "errmsg"}``: 40013 invalid appid, 40125 invalid appsecret, 40029 invalid code
  (unknown, or issued to another appid), 40163 code been used, 40002 invalid grant_type.
* ``GET /cgi-bin/token?grant_type=client_credential&appid&secret`` -- the official account's
  ``{"access_token", "expires_in"}`` (for the JS-SDK, :mod:`mallow.payments.wechat_jssdk`), or
  40013 / 40125 / 40002 as above.
* ``GET /cgi-bin/ticket/getticket?access_token&type=jsapi`` -- ``{"errcode": 0, "errmsg": "ok",
  "ticket", "expires_in"}``, or 40001 (an access_token it did not issue, or revoked) / 40097.

Test controls: :meth:`issue_code`, :meth:`fail_next` (an errcode answer), :meth:`answer_next`
(any status and body, e.g. an HTML error page), :meth:`hold_next` (no answer until the client
gives up: its timeout), :meth:`drop_next` (close without answering) and :attr:`token_requests`;
for the JS-SDK endpoints :meth:`fail_next_api`, :meth:`revoke_access_tokens`,
:attr:`credential_expires_in` and :attr:`api_requests` (every token and ticket request, counted).

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

from .local_server import LocalFakeServer

AUTHORIZE_PATH = "/connect/oauth2/authorize"
TOKEN_PATH = "/sns/oauth2/access_token"
API_TOKEN_PATH = "/cgi-bin/token"
TICKET_PATH = "/cgi-bin/ticket/getticket"
HOLD_SECONDS = 10.0  # a held request is answered (by closing) after this, or at stop()


@dataclass(frozen=True)
class TokenRequest:
    """One code exchange the fake received (the secret is only said to be right or wrong)."""

    appid: str
    code: str
    secret_ok: bool
    errcode: int


@dataclass(frozen=True)
class ApiRequest:
    """One JS-SDK credential request: ``kind`` is ``"token"`` or ``"ticket"``."""

    kind: str
    appid: str
    errcode: int


class FakeWeChatOAuthServer(LocalFakeServer):
    thread_name = "fake-wechat-oauth"

    def __init__(self) -> None:
        super().__init__()
        self.openid_for_next: str | None = None
        self.token_requests: list[TokenRequest] = []
        self.api_requests: list[ApiRequest] = []
        self.credential_expires_in = 7200
        self._access_tokens: dict[str, str] = {}  # access_token → appid
        self._api_faults: list[tuple[int, str]] = []
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

    @property
    def api_base_url(self) -> str:
        return self.base_url

    def api_calls(self, kind: str) -> int:
        """How many ``kind`` (``"token"`` / ``"ticket"``) requests were answered with a credential."""
        with self._lock:
            return sum(1 for r in self.api_requests if r.kind == kind and r.errcode == 0)

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

    def fail_next_api(self, errcode: int, errmsg: str) -> None:
        """Answer the next JS-SDK credential request (token or ticket) with this errcode."""
        with self._lock:
            self._api_faults.append((errcode, errmsg))

    def revoke_access_tokens(self) -> None:
        """Every access_token handed out so far stops working (40001), as when another process
        fetched a new one long ago or the AppSecret was reset."""
        with self._lock:
            self._access_tokens.clear()

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
        if method == "GET" and parts.path in (API_TOKEN_PATH, TICKET_PATH):
            return self._credential(parts.path, query)
        return 404, {"Content-Type": "text/plain"}, b"not found"

    def _authorize(self, query: dict):
        appid, redirect_uri = query.get("appid", ""), query.get("redirect_uri", "")
        with self._lock:
            known = appid in self._accounts
        if (
            not known
            or query.get("response_type") != "code"
            or query.get("scope") not in ("snsapi_base", "snsapi_userinfo")
            or not redirect_uri.startswith(("http://", "https://"))
        ):
            return 400, {"Content-Type": "text/html; charset=utf-8"}, "<p>参数错误</p>".encode()
        code = self.issue_code(appid, self.openid_for_next)
        target = urlsplit(redirect_uri)
        location = urlunsplit(
            (
                target.scheme,
                target.netloc,
                target.path,
                urlencode(parse_qsl(target.query) + [("code", code), ("state", query.get("state", ""))]),
                "",
            )
        )
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
                answer = {
                    "access_token": secrets.token_urlsafe(32),
                    "expires_in": 7200,
                    "refresh_token": secrets.token_urlsafe(32),
                    "openid": issued[1],
                    "scope": "snsapi_base",
                }
            self.token_requests.append(TokenRequest(appid, code, secret_ok, int(answer.get("errcode", 0))))
        if fault is not None:  # "answer": the exchange was recorded, the reply is the test's
            status, body = fault[1], fault[2]
            content_type = fault[3] if len(fault) > 3 else "application/json; encoding=utf-8"
            return status, {"Content-Type": content_type}, body
        return 200, {"Content-Type": "application/json; encoding=utf-8"}, json.dumps(answer).encode()

    def _credential(self, path: str, query: dict):
        kind = "token" if path == API_TOKEN_PATH else "ticket"
        with self._lock:
            fault = self._api_faults.pop(0) if self._api_faults else None
            appid = (
                query.get("appid", "")
                if kind == "token"
                else self._access_tokens.get(query.get("access_token", ""), "")
            )
            if fault is not None:
                answer = {"errcode": fault[0], "errmsg": fault[1]}
            elif kind == "token":
                answer = self._access_token_answer(query)
            elif not appid:
                answer = {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"}
            elif query.get("type") != "jsapi":
                answer = {"errcode": 40097, "errmsg": "invalid args"}
            else:
                answer = {
                    "errcode": 0,
                    "errmsg": "ok",
                    "ticket": secrets.token_urlsafe(48),
                    "expires_in": self.credential_expires_in,
                }
            self.api_requests.append(ApiRequest(kind, appid, int(answer.get("errcode", 0))))
        return 200, {"Content-Type": "application/json; encoding=utf-8"}, json.dumps(answer).encode()

    def _access_token_answer(self, query: dict) -> dict:
        """(Called with the lock held.)"""
        appid = query.get("appid", "")
        secret = self._accounts.get(appid)
        if secret is None:
            return {"errcode": 40013, "errmsg": "invalid appid"}
        if not secrets.compare_digest(secret, query.get("secret", "")):
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        if query.get("grant_type") != "client_credential":
            return {"errcode": 40002, "errmsg": "invalid grant_type"}
        token = secrets.token_urlsafe(48)
        self._access_tokens[token] = appid
        return {"access_token": token, "expires_in": self.credential_expires_in}

"""A local fake of WeChat subscribe messages (订阅消息), for tests: the real
:class:`~mallow.notifications.channels.SubscribeMessages` client talks HTTP to it on 127.0.0.1.

It is :class:`~mallow.testing.wechat_oauth.FakeWeChatOAuthServer` (the official account's
``/cgi-bin/token``, counted in :attr:`api_requests`) plus

* ``POST /cgi-bin/message/subscribe/send?access_token=…`` with ``{"touser", "template_id",
  "data", "page", "lang"}`` -- ``{"errcode": 0, "errmsg": "ok", "msgid"}``; 40001 for an
  access_token it did not issue; 43101 when the user has not accepted ``template_id``
  (:meth:`accept`), or used their acceptance up (one message per acceptance, as WeChat's one-time
  subscription); 47003 when ``data`` is not an object of ``{"value": …}``.

Test controls: :meth:`accept` (the shopper accepted a template), :meth:`fail_next_send` (an
errcode answer to the next send), :attr:`messages` (every message delivered, decoded).

Usage::

    with wechat_subscribe_server(app, appid, appsecret) as wechat:
        wechat.accept(openid, template_id)
"""

from __future__ import annotations

import json
import secrets
from contextlib import contextmanager
from urllib.parse import parse_qsl, urlsplit

from .payments import OAUTH_CONFIG, _config_restored
from .wechat_oauth import FakeWeChatOAuthServer

SEND_PATH = "/cgi-bin/message/subscribe/send"


class FakeWeChatSubscribeServer(FakeWeChatOAuthServer):
    thread_name = "fake-wechat-subscribe"

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[dict] = []
        self.send_requests = 0
        self._accepted: dict[tuple[str, str], int] = {}  # (openid, template_id) → messages allowed
        self._send_faults: list[tuple[int, str]] = []

    def accept(self, openid: str, template_id: str, times: int = 1) -> None:
        with self._lock:
            key = (openid, template_id)
            self._accepted[key] = self._accepted.get(key, 0) + times

    def fail_next_send(self, errcode: int, errmsg: str) -> None:
        with self._lock:
            self._send_faults.append((errcode, errmsg))

    def _serve(self, method, raw_path, authorization, body):
        parts = urlsplit(raw_path)
        if method == "POST" and parts.path == SEND_PATH:
            return self._send(dict(parse_qsl(parts.query)), body)
        return super()._serve(method, raw_path, authorization, body)

    def _send(self, query: dict, body: bytes):
        try:
            message = json.loads(body)
        except ValueError:
            message = None
        with self._lock:
            self.send_requests += 1
            fault = self._send_faults.pop(0) if self._send_faults else None
            key = (str(message.get("touser")), str(message.get("template_id"))) if isinstance(message, dict) else None
            if query.get("access_token", "") not in self._access_tokens:
                answer = {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"}
            elif fault is not None:
                answer = {"errcode": fault[0], "errmsg": fault[1]}
            elif (
                key is None
                or not isinstance(message.get("data"), dict)
                or not all(isinstance(field, dict) and "value" in field for field in message["data"].values())
            ):
                answer = {"errcode": 47003, "errmsg": "argument invalid! data.thing1.value invalid"}
            elif self._accepted.get(key, 0) <= 0:
                answer = {"errcode": 43101, "errmsg": "user refuse to accept the msg"}
            else:
                self._accepted[key] -= 1
                self.messages.append(message)
                answer = {"errcode": 0, "errmsg": "ok", "msgid": secrets.randbelow(10**12)}
        return 200, {"Content-Type": "application/json; encoding=utf-8"}, json.dumps(answer).encode()


@contextmanager
def wechat_subscribe_server(app, appid: str, appsecret: str, *, timeout: float = 1.0):
    """A started fake knowing ``appid``/``appsecret``, set as the app's WeChat API
    (``WECHAT_API_BASE_URL`` and web authorisation's URLs)."""
    with _config_restored(app, OAUTH_CONFIG), FakeWeChatSubscribeServer() as server:
        server.add_account(appid, appsecret)
        app.config.update(
            WECHAT_OAUTH_AUTHORIZE_URL=server.authorize_url,
            WECHAT_OAUTH_TOKEN_URL=server.token_url,
            WECHAT_OAUTH_TIMEOUT=timeout,
            WECHAT_API_BASE_URL=server.api_base_url,
        )
        yield server

"""The HTTP under the WeChat Pay client: the :class:`HttpTransport` it sends through (tests swap in
a fake WeChat Pay), :class:`UrllibTransport` (no redirects, bounded answers, local test servers
reached directly), and the checks of a base URL (https; plain http only on loopback)."""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

from .errors import TransportError

_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


class HttpTransport(Protocol):
    """Sends one HTTP request. Must not follow redirects.

    Returns ``(status, headers, body)`` for any HTTP answer, error statuses included; raises
    :class:`~mallow.payments.wechatpay.errors.TransportError` when there is no answer.
    """

    def request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, Mapping[str, str], bytes]: ...


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102, ANN001
        return None  # a redirect surfaces as an HTTPError: the signed Authorization never leaves


class UrllibTransport:
    """:class:`HttpTransport` on ``urllib.request`` (TLS verified by the default context)."""

    def __init__(self, timeout: float = 10.0, max_response_bytes: int = 1_048_576) -> None:
        self.timeout = timeout
        self.max_response_bytes = max_response_bytes
        # Environment proxies apply to WeChat Pay; a local test server is always reached directly.
        self._opener = urllib.request.build_opener(_NoRedirect())
        self._direct_opener = urllib.request.build_opener(_NoRedirect(), urllib.request.ProxyHandler({}))

    def request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, Mapping[str, str], bytes]:
        req = urllib.request.Request(url, data=body if body else None, headers=dict(headers), method=method)
        try:
            opener = self._direct_opener if urlsplit(url).hostname in _LOOPBACK_HOSTS else self._opener
            with opener.open(req, timeout=self.timeout) as response:
                return response.status, _joined_headers(response.headers), self._read(response)
        except urllib.error.HTTPError as error:
            with error:
                return error.code, _joined_headers(error.headers), self._read(error)
        except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc

    def _read(self, response: Any) -> bytes:
        data = response.read(self.max_response_bytes + 1)
        if len(data) > self.max_response_bytes:
            raise TransportError("the response is larger than max_response_bytes")
        return data


def _joined_headers(message: Any) -> dict[str, str]:
    """Headers as a dict; a repeated header is joined with ``", "`` (so a doubled signature fails)."""
    joined: dict[str, str] = {}
    for name, value in message.items() if message is not None else ():
        key = name.lower()
        joined[key] = f"{joined[key]}, {value}" if key in joined else value
    return joined


def check_base_url(base_url: str) -> str:
    """``base_url`` without its trailing slash: https, or plain http to a loopback host only."""
    parts = urlsplit(base_url)
    if parts.query or parts.fragment or not parts.hostname:
        raise ValueError("base_url must be scheme://host[:port][/prefix]")
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS):
        raise ValueError("base_url must be https (plain http only for a local test server)")
    return base_url.rstrip("/")


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value whatever the case of its name (None without it)."""
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None

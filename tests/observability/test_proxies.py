"""Behind a reverse proxy (``MALLOW_PROXY_HOPS``): the shopper's address and scheme are the ones
the proxy forwarded; without it, a client cannot choose the address the rate limits see."""

from __future__ import annotations

from flask import jsonify, request

from mallow.testing.apps import restart_app

NGINX = {"REMOTE_ADDR": "127.0.0.1"}
FORWARDED = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}


def _asking(app):
    """The app with a route that says which address and scheme a request has, through the whole
    stack (the front door, observability, Flask)."""

    @app.get("/_test/who")
    def who():
        return jsonify(addr=request.remote_addr, scheme=request.scheme)

    return app.test_client()


def test_behind_one_proxy_the_forwarded_client_is_the_client(app):
    client = _asking(restart_app(app, MALLOW_PROXY_HOPS=1))
    answer = client.get("/_test/who", headers=FORWARDED, environ_base=NGINX).get_json()
    assert answer == {"addr": "203.0.113.9", "scheme": "https"}
    spoofed = {"X-Forwarded-For": "198.51.100.1, 203.0.113.9"}  # one hop trusted: the last entry
    assert client.get("/_test/who", headers=spoofed, environ_base=NGINX).get_json()["addr"] == "203.0.113.9"


def test_without_proxies_forwarded_headers_are_ignored(app):
    client = _asking(restart_app(app))
    answer = client.get("/_test/who", headers=FORWARDED, environ_base=NGINX).get_json()
    assert answer == {"addr": "127.0.0.1", "scheme": "http"}

"""Who may read ``/metrics``: the operator, by a bearer token or from an allowed address.

* ``Authorization: Bearer <MALLOW_METRICS_TOKEN>`` (compared in constant time), from anywhere;
* or a direct connection from an address in ``MALLOW_METRICS_ALLOW`` (comma-separated addresses
  or networks; default loopback: ``127.0.0.1/8,::1``; empty: none). A request that came through a
  proxy (it carries ``X-Forwarded-For``, ``X-Real-IP`` or ``Forwarded``) never qualifies by address:
  behind nginx every request arrives from loopback, the public's too.

Anyone else gets the ordinary 404: the route does not say it exists.
"""

from __future__ import annotations

import hmac
import ipaddress
import os

DEFAULT_ALLOW = "127.0.0.1/8,::1"
PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP", "HTTP_FORWARDED")


def networks(value: str) -> list:
    found = []
    for part in value.split(","):
        part = part.strip()
        if part:
            found.append(ipaddress.ip_network(part, strict=False))
    return found


def settings(app) -> tuple[str, list]:
    """``(token, networks)`` from the config, then the environment (read at each scrape: cheap)."""
    token = app.config.get("MALLOW_METRICS_TOKEN")
    if token is None:
        token = os.environ.get("MALLOW_METRICS_TOKEN", "")
    allow = app.config.get("MALLOW_METRICS_ALLOW")
    if allow is None:
        allow = os.environ.get("MALLOW_METRICS_ALLOW", DEFAULT_ALLOW)
    return (token or "").strip(), networks(allow)


def may_read_metrics(app, environ, authorization: str | None) -> bool:
    token, allowed = settings(app)
    scheme, _, sent = (authorization or "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(), token.encode()):
        return True
    if any(environ.get(header) for header in PROXY_HEADERS):
        return False
    try:
        address = ipaddress.ip_address(environ.get("REMOTE_ADDR") or "")
    except ValueError:
        return False
    return any(address in network for network in allowed)

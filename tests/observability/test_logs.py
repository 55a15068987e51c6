"""JSON logs (MALLOW_LOG_FORMAT=json): every line one JSON object with the request id (the one the
caller sent in X-Request-Id, or a new one, echoed on the response), the store's slug and the
principal's kind."""

from __future__ import annotations

import io
import json
import logging

import pytest

from mallow.observability import logs
from mallow.testing import bearer, make_shopper, make_store


@pytest.fixture
def json_lines():
    """The lines logged during the test, in JSON, as ``mallow serve`` configures them."""
    stream = io.StringIO()
    level = logging.getLogger().level
    handler = logs.configure("json", stream=stream)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        logs.unconfigure(handler)
        logging.getLogger().setLevel(level)


def test_a_requests_log_line_carries_its_request_id_store_and_principal(app, json_lines):
    shop = make_store(app)
    client = app.test_client()
    token, _address = make_shopper(client, shop)
    response = client.get(f"{shop.prefix}/api/orders", headers=bearer(token) | {"X-Request-Id": "req-0042-abc"})
    assert response.status_code == 200
    assert response.headers["X-Request-Id"] == "req-0042-abc"
    [line] = [line for line in json_lines() if line.get("request_id") == "req-0042-abc"]
    assert line["logger"] == "mallow.access"
    assert line["store"] == shop.slug
    assert line["principal"] == "customer"
    assert line["route"] == "/s/<store_slug>/api/orders" and line["status"] == 200
    assert line["level"] == "INFO" and line["time"].endswith("+00:00")


def test_a_bad_request_id_is_replaced_and_an_error_line_has_its_traceback(app, json_lines):
    shop = make_store(app)
    response = app.test_client().get(f"{shop.prefix}/api/orders", headers={"X-Request-Id": 'bad"id {"x":1}'})
    assert response.status_code == 401
    request_id = response.headers["X-Request-Id"]
    assert len(request_id) == 32 and int(request_id, 16) >= 0  # a new one: hex
    [line] = [line for line in json_lines() if line.get("request_id") == request_id]
    assert line["store"] == shop.slug and line["principal"] == "guest"

    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("mallow.tests").exception("outside any request")
    [error] = [line for line in json_lines() if line["message"] == "outside any request"]
    assert error["level"] == "ERROR" and error["request_id"] is None
    assert "ValueError: boom" in error["exception"]

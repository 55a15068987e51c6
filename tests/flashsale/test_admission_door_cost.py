"""What one buy attempt costs at the front door, beyond its one round trip (hB): the admission
script gives Redis no number to format, answers only what its caller reads; the door sends it on a
connection of its own (no pool lent per attempt), writes the queued ticket and its JSON answer
without an encoder made per attempt, and the bytes stay what they were."""

from __future__ import annotations

import json
import re
import time

import pytest


from .test_admission import _sale, door, door_app, wsgi_attempt  # noqa: F401 -- the fixtures, and their sale
from .test_early_answers import counted


def test_the_queued_ticket_is_what_json_dumps_writes(monkeypatch):
    from mallow_flashsale import admission

    monkeypatch.setattr(admission.time, "time", lambda: 1765080000.1234567)
    notes = ["", "送到门口 🚪", 'quote " and \\ backslash', "tab\tnew\nline\x01\x7f", "</script>", "\u2028\u2029"]
    for note in notes:
        for idem in ("", "k-1", 'odd "key"'):
            for locale in ("zh_CN", "en"):
                fields = {
                    "id": "0f" * 16,
                    "sale": 11,
                    "item": 13,
                    "sku": 1234567890123,
                    "q": 2,
                    "addr": 99,
                    "note": note,
                    "key": idem,
                    "day": "2026-12-07",
                    "loc": locale,
                    "at": time.time(),
                }
                expected = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))[:-1]
                written = admission._ticket_json(
                    "0f" * 16, 11, 13, 1234567890123, 2, 99, note, idem, "2026-12-07", locale
                )
                assert written == expected
                assert json.loads(written + "}") == fields


def test_an_early_answer_is_written_as_flask_writes_json():
    from flask import Flask

    from mallow.plugins.early import _dumps

    app = Flask("early-json")
    bodies = [
        {"ticket": "ab" * 16, "status": "queued", "poll_url": "/s/店/api/x/flashsale/tickets/x"},
        {"error": "sold_out", "message": "已售罄", "z": [1, 2.5, None, True], "a": {"b": 1}},
    ]
    for ensure_ascii, sort_keys in ((True, True), (False, True), (True, False)):
        app.json.ensure_ascii, app.json.sort_keys = ensure_ascii, sort_keys
        for body in bodies:
            assert _dumps(app, body) == app.json.dumps(body, separators=(",", ":"))
    app.debug = True  # as before: the provider's own dumps, not compact
    assert _dumps(app, bodies[0]) == app.json.dumps(bodies[0])


def test_the_admission_script_gives_redis_no_number_to_format():
    """A Lua number given to ``redis.call`` is formatted with ``%.17g`` by Redis (and ``tonumber``
    reads it back with ``strtod``): the script passes the caller's text and its own constants as
    strings (with the shorter answer, 198,000 → 181,000 instructions per admitted attempt in Redis)."""
    from mallow_flashsale import gate

    calls = re.findall(r"redis\.call\(([^\n]*)\)", gate.ADMIT)
    assert len(calls) >= 14
    for call in calls:
        arguments = [a.strip() for a in call.split(",")[1:]]
        for argument in arguments:
            assert not re.fullmatch(r"-?\d+|-?qty|qty|epoch|limit", argument), call
    assert "string.format" not in gate.ADMIT


@pytest.fixture
def lent(monkeypatch):
    """Counts connections lent by any redis-py pool."""
    import redis.connection

    lent = []
    original = redis.connection.ConnectionPool.get_connection

    def get_connection(self, *args, **kwargs):
        lent.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(redis.connection.ConnectionPool, "get_connection", get_connection)
    return lent


def test_an_admitted_attempt_borrows_no_pooled_connection(door, lent):  # noqa: F811 -- the fixture
    """One command, sent on the thread's own connection: no pool's lock, metrics and
    non-blocking read per attempt. The answer is the door's, byte for byte as before."""
    app = door.app
    shop, sku, sale_id, people = _sale(app, 10, 5)
    status, _headers, _body = wsgi_attempt(app, shop, sale_id, sku, *people[0][:2])  # loads the script once
    assert status.startswith("202")
    for token, address, _c in people[1:]:
        lent.clear()
        with counted() as counts:
            status, headers, body = wsgi_attempt(app, shop, sale_id, sku, token, address)
        assert status == "202 ACCEPTED" and counts == {"sql": 0, "redis": 1} and lent == []
        assert list(body) == ["poll_url", "status", "ticket"] and body["status"] == "queued"
        assert body["poll_url"] == f"{shop.prefix}/api/x/flashsale/tickets/{body['ticket']}"
        assert headers["Content-Type"] == "application/json"
        assert headers["Content-Length"] == str(len(json.dumps(body, separators=(",", ":"))) + 1)


def test_a_connection_the_server_closed_sends_one_attempt_to_the_route(door):  # noqa: F811 -- the fixture
    """Without the pool's look at the connection before each attempt, a connection Redis closed
    (a restart, ``CLIENT KILL``) fails the attempt it carries: that one goes to the route, which
    admits it (202, a ticket), and the next is answered at the door again. Nothing is sold twice."""
    from mallow_flashsale import gate

    app = door.app
    shop, sku, sale_id, people = _sale(app, 10, 4)
    assert wsgi_attempt(app, shop, sale_id, sku, *people[0][:2])[0].startswith("202")
    own = gate.connection_of(app)._own.connection
    host, port = own._sock.getsockname()[:2]
    assert door.redis.client_kill_filter(_type=None, addr=f"{host}:{port}") == 1
    status, _headers, body = wsgi_attempt(app, shop, sale_id, sku, *people[1][:2])
    assert status.startswith("202") and body["status"] == "queued"  # the route admitted it
    with counted() as counts:
        status, _headers, body = wsgi_attempt(app, shop, sale_id, sku, *people[2][:2])
    assert status.startswith("202") and counts == {"sql": 0, "redis": 1}
    queue, _taken, _flag = gate.queue_keys(shop.store_id, f"{door.prefix}:fs")
    assert door.redis.llen(queue) == 3  # one ticket each, none twice

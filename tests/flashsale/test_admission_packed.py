"""The front door's admission script on the wire (:meth:`mallow_flashsale.gate._Connection.run_admit`):
the command is packed with the stretches that every attempt on an item shares encoded once, and
sent on the thread's own connection. It must be, byte for byte, what redis-py's ``Script`` sends,
give a server that lost the script the script again, and never send an attempt twice."""

from __future__ import annotations

import uuid

import pytest

from mallow.testing import HAVE_REDIS, REDIS_URL


def _connection(url: str):
    from mallow_flashsale import gate

    return gate._Connection(url)


def _attempt(head: str, session: str, *, customer="", note="", idem="", qty=1, window=29_000_000, ticket_id=None):
    from mallow_flashsale import gate

    queue, _taken, flag = gate.queue_keys(7, head)
    keys = [*gate.keys(7, 11, "2026-12-06", head), session, queue, flag]
    ticket_id = ticket_id or uuid.uuid4().hex
    ticket = f'{{"id":"{ticket_id}","sale":11,"item":13,"sku":17,"q":{qty},"note":"{note}","key":"{idem}"'
    args = [13, qty, 7, 1, 0, 20, "10.0.0.1", 600, window, ticket_id, ticket, idem, head, customer, 11, 17]
    return keys, args


def test_the_packed_command_is_what_redis_py_sends():
    conn = _connection("redis://127.0.0.1:1/0")  # never connected: only packed
    packer = conn.redis.connection_pool.make_connection()
    attempts = [
        _attempt("mallow:flashsale", "mallow:m:sess:abc"),
        _attempt("mallow:flashsale", "mallow:m:sess:def", note="送到门口 🚪", idem="k-1", qty=2),
        _attempt("mallow:flashsale", "mallow:flashsale:q:7", customer=12345, window=1),
        _attempt("other:prefix", "", customer=0, note="", idem=""),
        _attempt("other:prefix", "s", customer=-3, window=2.5),
    ]
    for keys, args in attempts * 2:  # the second time from the kept stretches
        expected = b"".join(packer.pack_command("EVALSHA", conn.admit.sha, 7, *keys, *args))
        assert conn.admit_command(keys, args) == expected
    assert len(conn._admit_forms) == 2  # one per item and prefix, not one per attempt
    with pytest.raises(ValueError):
        conn.admit_command(attempts[0][0][:6], attempts[0][1])


@pytest.fixture
def redis_head():
    if not HAVE_REDIS:
        pytest.skip("Redis is needed")
    import redis

    head = f"mallow-test:{uuid.uuid4().hex[:10]}"
    client = redis.Redis.from_url(REDIS_URL)
    yield head, client
    keys = list(client.scan_iter(match=f"{head}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def test_the_packed_path_answers_as_the_script_object_does(redis_head):
    """Two gates in the same state, one driven through redis-py's Script, one through run_admit:
    the same answers and the same state afterwards (a ticket, a refusal, an unknown session)."""
    head, client = redis_head
    conn = _connection(REDIS_URL)
    answers = {}
    for way in ("script", "packed"):
        base = f"{head}:{way}"
        client.hset(f"{base}:{{7:11}}:rem", mapping={"_seeded": 1, "13": 2, "_v": 3})
        client.set(f"{base}:m:sess:a", "7:41")
        client.set(f"{base}:m:sess:b", "7:42")
        client.set(f"{base}:m:sess:other-store", "8:43")
        got = []
        for session, ticket_id in (("a", "t1"), ("a", "t2"), ("b", "t3"), ("other-store", "t4"), ("nobody", "t5")):
            keys, args = _attempt(base, f"{base}:m:sess:{session}", ticket_id=ticket_id)
            if way == "script":
                got.append(conn.admit(keys=keys, args=args))
            else:
                got.append(conn.run_admit(keys, args))
        queue = [t.replace(base.encode(), b"") for t in client.lrange(f"{base}:q:7", 0, -1)]
        state = {
            "rem": client.hgetall(f"{base}:{{7:11}}:rem"),
            "buy": client.hgetall(f"{base}:{{7:11}}:buy"),
            "pend": client.hgetall(f"{base}:{{7:11}}:pend"),
            "ticket": client.hgetall(f"{base}:ticket:7:t1"),
            "queue": queue,
        }
        answers[way] = (got, state)
    assert answers["packed"] == answers["script"]
    got, state = answers["packed"]
    assert got[0][0] == 1 and got[1][0] == -4 and got[2][0] == 1 and got[3][0] == -10 and got[4][0] == -10
    assert state["rem"][b"13"] == b"0" and len(state["queue"]) == 2


def test_a_server_that_lost_the_script_is_given_it_again(redis_head):
    head, client = redis_head
    conn = _connection(REDIS_URL)
    right = conn.admit.sha
    conn.admit.sha = "0" * 40  # what a restarted (or flushed) server would not know
    keys, args = _attempt(head, f"{head}:m:sess:nobody")
    assert conn.run_admit(keys, args) == [-10, 0]  # the script ran: the session is not mirrored
    assert conn.admit.sha == right
    assert conn.run_admit(keys, args) == [-10, 0]


def test_redis_away_is_an_error_for_the_caller_not_a_second_try(monkeypatch):
    """Nothing listens on the port: the attempt raises at once (admission answers "error" and the
    route decides), and a packed command is sent at most once."""
    import redis.connection

    conn = _connection("redis://127.0.0.1:1/0")
    sent = []
    original = redis.connection.Connection.send_packed_command

    def send(self, *a, **k):
        sent.append(a)
        return original(self, *a, **k)

    monkeypatch.setattr(redis.connection.Connection, "send_packed_command", send)
    keys, args = _attempt("mallow:flashsale", "mallow:m:sess:abc")
    with pytest.raises(redis.exceptions.ConnectionError):
        conn.run_admit(keys, args)
    assert len(sent) <= 1

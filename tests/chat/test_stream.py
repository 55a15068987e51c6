"""The chat's server-sent events: a message committed after the stream opened arrives at once
(woken by this process's notifier without Redis, by Redis pub/sub with it, also when another
process published), the answer ends after CHAT_STREAM_SECONDS, and a reconnect with
Last-Event-ID brings exactly what came in between: nothing lost, nothing twice. Both backends."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from mallow.testing import bearer

from .conftest import answer, conversations, events, say


class Reader:
    """Reads one SSE answer in a thread, noting when each chunk came."""

    def __init__(self, client, url: str, headers: dict | None = None):
        self.chunks: list[tuple[float, str]] = []
        self.started = threading.Event()
        self.problem: str | None = None
        self.thread = threading.Thread(target=self._read, args=(client, url, headers or {}), daemon=True)
        self.thread.start()
        assert self.started.wait(10), "the stream sent nothing"
        assert self.problem is None, self.problem

    def _read(self, client, url, headers):
        """The whole request in this thread (a streamed answer runs in the thread that reads it)."""
        response = client.get(url, headers=headers, buffered=False)
        if response.status_code != 200 or response.mimetype != "text/event-stream":
            self.problem = f"{response.status_code} {response.mimetype}"
            self.started.set()
            return
        for chunk in response.response:
            self.chunks.append((time.monotonic(), chunk.decode() if isinstance(chunk, bytes) else chunk))
            self.started.set()
        response.close()

    def finish(self, timeout: float = 20) -> list[dict]:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the stream did not end"
        return events("".join(text for _at, text in self.chunks))

    def arrived(self, text: str) -> float | None:
        for at, chunk in self.chunks:
            if text in chunk:
                return at
        return None


@pytest.fixture
def short_streams(app, monkeypatch):
    """3 s answers, and a table poll too slow to matter: only a wake-up delivers in time."""
    monkeypatch.setitem(app.config, "CHAT_STREAM_SECONDS", 3)
    monkeypatch.setitem(app.config, "CHAT_POLL_SECONDS", 60)


@pytest.fixture(params=["local", "redis"])
def hub(request, app, monkeypatch):
    from mallow.chat import realtime

    if request.param == "local":
        found = realtime.LocalHub()
    else:
        redis_url = request.getfixturevalue("redis_url")
        found = realtime.RedisHub(redis_url, f"mallow-test:{uuid.uuid4().hex[:8]}")
    monkeypatch.setitem(app.extensions, realtime.EXTENSION, found)
    return found


def _wait_for(reader: Reader, text: str, seconds: float = 2.5) -> float:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        at = reader.arrived(text)
        if at is not None:
            return at
        time.sleep(0.02)
    raise AssertionError(f"{text!r} did not arrive within {seconds} s")


def test_the_shopper_stream_delivers_and_resumes(app, shop, desk, shopper, short_streams, hub):
    say(shopper, shop, "开场白")
    [conversation] = conversations(app.test_client(), shop, desk.token)
    first_id = conversation and _last_id(app, shop, shopper)

    reader = Reader(shopper.client, f"{shop.prefix}/chat/stream?after={first_id}")
    sent_at = time.monotonic()
    answer(desk, conversation["id"], "客服回复一")
    assert _wait_for(reader, "客服回复一") - sent_at < 1.5  # woken, not polled (the poll is 60 s)
    got = reader.finish()
    assert [e["data"]["text"] for e in got] == ["客服回复一"]
    last = got[-1]["id"]

    # while no stream is open: two more; the reconnect (Last-Event-ID) brings exactly those
    answer(desk, conversation["id"], "客服回复二")
    say(shopper, shop, "顾客追问")
    again = Reader(shopper.client, f"{shop.prefix}/chat/stream?after={first_id}", {"Last-Event-ID": str(last)})
    got = again.finish()
    assert [e["data"]["text"] for e in got] == ["客服回复二", "顾客追问"]
    assert [e["id"] for e in got] == sorted({e["id"] for e in got}) and got[0]["id"] > last


def test_the_console_stream_sees_every_conversation(app, shop, desk, shopper, short_streams, hub):
    from .conftest import new_shopper

    say(shopper, shop, "先来的")
    reader = Reader(desk.client, f"{shop.prefix}/console/chat/stream")  # from the latest message on
    other = new_shopper(app, shop)
    say(other, shop, "后来的")
    _wait_for(reader, "后来的")
    got = reader.finish()
    assert [e["data"]["text"] for e in got] == ["后来的"]
    row = got[0]["data"]["conversation"]
    assert (row["staff_unread"], row["last_text"], got[0]["data"]["unread_total"]) == (1, "后来的", 2)


def test_streams_answer_only_their_own(app, shop, desk, shopper, short_streams, hub):
    from .conftest import new_shopper

    other = new_shopper(app, shop)
    reader = Reader(other.client, f"{shop.prefix}/chat/stream")
    say(shopper, shop, "别人的消息")
    assert reader.finish() == []
    # the stream and its polling fallback need a signed-in shopper / staff of the store
    guest = app.test_client()
    assert guest.get(f"{shop.prefix}/chat/stream").status_code in (302, 303)
    assert guest.get(f"{shop.prefix}/chat/messages").status_code in (302, 303)
    assert shopper.client.get(f"{shop.prefix}/console/chat/stream").status_code in (302, 303, 403)


def test_the_polling_fallback_reads_after_an_id(app, shop, desk, shopper):
    sent = say(shopper, shop, "第一句")
    say(shopper, shop, "第二句")
    polled = shopper.client.get(f"{shop.prefix}/chat/messages?after={sent[0]['id']}").get_json()["messages"]
    assert [m["text"] for m in polled] == ["第二句"]
    staff = desk.client.get(f"{shop.prefix}/console/chat/messages?after={sent[0]['id']}").get_json()["messages"]
    assert [m["text"] for m in staff] == ["第二句"] and staff[0]["conversation"]["staff_unread"] == 2


def test_another_process_wakes_the_stream_through_redis(
    app, shop, desk, shopper, short_streams, redis_url, monkeypatch
):
    """Two hubs on one Redis are two processes: a message written and published by one wakes the
    stream served by the other."""
    from mallow.chat import realtime, service
    from mallow.tenants.context import store_context

    prefix = f"mallow-test:{uuid.uuid4().hex[:8]}"
    monkeypatch.setitem(app.extensions, realtime.EXTENSION, realtime.RedisHub(redis_url, prefix))
    elsewhere = realtime.RedisHub(redis_url, prefix)
    say(shopper, shop, "你好")
    conversation_id = conversations(app.test_client(), shop, desk.token)[0]["id"]
    reader = Reader(shopper.client, f"{shop.prefix}/chat/stream?after={_last_id(app, shop, shopper)}")
    with store_context(shop.store_id, app=app):
        from mallow.accounts.guards import current_staff  # noqa: F401
        from mallow.accounts.models import Staff
        from mallow.db import db

        staff = db.session.execute(db.select(Staff)).scalars().first()
        service.send_as_staff(service.get(conversation_id), staff, "另一个进程的回复")
        db.session.commit()
        db.session.info.pop("mallow.chat.announce", None)
    sent_at = time.monotonic()
    elsewhere.publish(shop.store_id, conversation_id)
    assert _wait_for(reader, "另一个进程的回复") - sent_at < 1.5
    assert [e["data"]["text"] for e in reader.finish()] == ["另一个进程的回复"]


def _last_id(app, shop, shopper) -> int:
    client = app.test_client()
    [mine] = conversations(client, shop, shopper.token)
    messages = client.get(
        f"{shop.prefix}/api/chat/conversations/{mine['id']}/messages", headers=bearer(shopper.token)
    ).get_json()["messages"]
    return messages[-1]["id"]

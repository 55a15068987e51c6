"""Waking the chat's open streams when a message was committed.

The table is the truth: a stream always sends what it *reads* (messages after the last id it
sent), so a wake-up that is lost costs a little delay, never a message, and one that comes twice
sends nothing twice. A wake-up only says "read again now":

* with Redis (``REDIS_URL``): the message is PUBLISHed, after its commit, on the channel of its
  store and conversation (``<prefix>:chat:<store>:<conversation>``); a shopper's stream SUBSCRIBEs
  to its conversation's channel, the console's to the store's pattern (PSUBSCRIBE
  ``<prefix>:chat:<store>:*``), each on its own connection for the stream's short life. The
  prefix is a digest of the database and data folder (like :mod:`mallow.tenants.stamps`), so apps
  sharing one Redis never wake each other. Redis unreachable: the stream reads the table every
  ``CHAT_POLL_SECONDS`` instead.
* without Redis (the embedded default, one process): a condition variable of this process wakes
  its streams at once; a stream also reads the table every ``CHAT_POLL_SECONDS``, so a message
  written by another process of the same host arrives within that.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time

from flask import current_app

log = logging.getLogger(__name__)
EXTENSION = "mallow.chat.hub"
#: with Redis, a stream still reads the table this often (a lost PUBLISH costs at most this)
REDIS_SAFETY_SECONDS = 10.0


class LocalHub:
    """This process's wake-ups: a sequence number under a condition variable."""

    kind = "local"

    def __init__(self):
        self._condition = threading.Condition()
        self._sequence = 0

    def publish(self, store_id: int, conversation_id: int) -> None:
        with self._condition:
            self._sequence += 1
            self._condition.notify_all()

    def listen(self, store_id: int, conversation_id: int | None) -> LocalListener:
        return LocalListener(self)


class LocalListener:
    def __init__(self, hub: LocalHub):
        self.hub = hub
        with hub._condition:
            self.seen = hub._sequence

    def wait(self, timeout: float) -> bool:
        """Wait until a message was published since the last wait (True) or ``timeout`` (False)."""
        with self.hub._condition:
            woke = self.hub._condition.wait_for(lambda: self.hub._sequence != self.seen, timeout=max(timeout, 0))
            self.seen = self.hub._sequence
        return bool(woke)

    def close(self) -> None:
        pass


class RedisHub(LocalHub):
    """Redis pub/sub across processes and hosts, and this process's condition variable as well
    (a process wakes its own streams without a round trip)."""

    kind = "redis"

    def __init__(self, url: str, prefix: str):
        super().__init__()
        from redis import Redis

        self.url, self.prefix = url, prefix
        self.redis = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)

    def channel(self, store_id: int, conversation_id: int | str) -> str:
        return f"{self.prefix}:chat:{int(store_id)}:{conversation_id}"

    def publish(self, store_id: int, conversation_id: int) -> None:
        super().publish(store_id, conversation_id)
        try:
            self.redis.publish(self.channel(store_id, int(conversation_id)), "1")
        except Exception as error:  # the streams read the table on their own soon
            log.warning("chat wake-up not published (%s): streams poll", error)

    def listen(self, store_id: int, conversation_id: int | None):
        from redis import Redis

        client = Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=REDIS_SAFETY_SECONDS + 5)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            if conversation_id is None:
                pubsub.psubscribe(self.channel(store_id, "*"))
            else:
                pubsub.subscribe(self.channel(store_id, int(conversation_id)))
            pubsub.get_message(timeout=1.0)  # the subscription's confirmation: subscribed before the first read
        except Exception as error:
            log.warning("chat stream not subscribed (%s): it polls", error)
            _close(pubsub, client)
            return LocalListener(self)
        return RedisListener(pubsub, client)


class RedisListener:
    def __init__(self, pubsub, client):
        self.pubsub, self.client = pubsub, client

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + max(min(timeout, REDIS_SAFETY_SECONDS), 0)
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                message = self.pubsub.get_message(timeout=left)
                if message and message.get("type") in ("message", "pmessage"):
                    while self.pubsub.get_message(timeout=0):  # one read for a burst
                        pass
                    return True
        except Exception as error:  # Redis went away mid-stream: read the table, wait a little
            log.info("chat stream lost Redis (%s)", error)
            time.sleep(min(max(deadline - time.monotonic(), 0), 2.0))
            return False

    def close(self) -> None:
        _close(self.pubsub, self.client)


def _close(pubsub, client) -> None:
    for thing in (pubsub, client):
        try:
            thing.close()
        except Exception:  # noqa: S110 (already broken)
            pass


def hub(app=None) -> LocalHub:
    """The app's hub (made on first use: Redis when ``REDIS_URL`` names one, else this process's)."""
    app = app or current_app._get_current_object()
    found = app.extensions.get(EXTENSION)
    if found is None:
        found = app.extensions.setdefault(EXTENSION, make_hub(app.config))
    return found


def make_hub(config) -> LocalHub:
    url = config.get("REDIS_URL") or ""
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHub(url, redis_prefix(config))
    return LocalHub()


def redis_prefix(config) -> str:
    database = str(config.get("SQLALCHEMY_DATABASE_URI", ""))
    digest = hashlib.sha256(f"{database}|{config.get('MALLOW_DATA_DIR', '')}".encode()).hexdigest()[:12]
    return f"mallow:{digest}"

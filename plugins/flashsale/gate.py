"""The Redis gate in front of the database: sheds the crowd, never decides alone.

With ``FLASHSALE_REDIS_URL`` (default: the app's ``REDIS_URL``) one Lua script checks, in one
step and one round trip, the shopper's and the address's attempt rates, the item's remaining units, the shopper's
unpaid order in the sale and the shopper's units over the sale and the day, and reserves the
units. Only attempts that pass reach the database, where one conditional UPDATE
(``… WHERE remaining >= qty``) is the truth: Redis may be stale, flushed or down and the sale
still never oversells (a stale gate lets a few more attempts through to be refused there, or,
when it undercounts, is corrected by the periodic re-seed).

Keys (all of one sale share a hash tag, so they live on one cluster slot)::

    <prefix>:{<store>:<sale>}:rem          item id → units left ("_seeded" marks a seeded hash)
    <prefix>:{<store>:<sale>}:buy          customer id → units taken in the sale
    <prefix>:{<store>:<sale>}:day:<date>   customer id → units taken that day
    <prefix>:{<store>:<sale>}:pend         customer id → token of the unpaid order's reservation

The prefix is ``FLASHSALE_REDIS_PREFIX`` (default ``mallow:flashsale``).
"""

from __future__ import annotations

import json
import logging
import operator
import os
import threading
from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from mallow.sdk import db
from mallow_flashsale import timing
from mallow_flashsale.models import PendingOrder, Purchase, Sale, SaleItem, aware

log = logging.getLogger("mallow_flashsale")

RESERVE = """
local function over_rate(key, limit)
  if key == '' then return false end
  local n = redis.call('INCR', key)
  if n == 1 then redis.call('EXPIRE', key, ARGV[10]) end
  return n > tonumber(limit)
end
local ip_over = over_rate(ARGV[11], ARGV[12])
if over_rate(ARGV[8], ARGV[9]) or ip_over then return {-7, 0} end
if redis.call('HEXISTS', KEYS[1], '_seeded') == 0 then return {-9, 0} end
local left = tonumber(redis.call('HGET', KEYS[1], ARGV[1]))
if not left then return {-8, 0} end
local qty = tonumber(ARGV[2])
if left <= 0 then return {0, 0} end
if left < qty then return {-5, left} end
local cust = ARGV[3]
local pending = redis.call('HGET', KEYS[4], cust)
if pending and pending ~= ARGV[6] then return {-4, left} end
local limit = tonumber(ARGV[4])
if limit > 0 and tonumber(redis.call('HGET', KEYS[2], cust) or '0') + qty > limit then return {-1, left} end
local day_limit = tonumber(ARGV[5])
if day_limit > 0 and tonumber(redis.call('HGET', KEYS[3], cust) or '0') + qty > day_limit then return {-2, left} end
left = redis.call('HINCRBY', KEYS[1], ARGV[1], -qty)
redis.call('HINCRBY', KEYS[2], cust, qty)
redis.call('HINCRBY', KEYS[3], cust, qty)
redis.call('EXPIRE', KEYS[3], ARGV[7])
redis.call('HSET', KEYS[4], cust, ARGV[6])
return {1, left, tonumber(redis.call('HGET', KEYS[1], '_v') or '0')}
"""

# mode "failed": an attempt that reserved did not become an order; "return": an unpaid order's
# units came back; "paid": the order was paid (only its unpaid marker goes). Every return of
# units bumps the item hash's "_v" (even an unseeded one): a seed or a truth computed from a
# database read older than a return must not overwrite it (SEED, and ARGV[7] here: the "_v" the
# reservation saw; the truth is written only when no units came back since, else the units are
# added as usual and the next refusal in the database corrects the gate).
RELEASE = """
local cust, qty, mode = ARGV[3], tonumber(ARGV[2]), ARGV[5]
if mode ~= 'paid' then
  local seeded = redis.call('HEXISTS', KEYS[1], '_seeded') == 1
  local v = tonumber(redis.call('HGET', KEYS[1], '_v') or '0')
  if ARGV[6] ~= '' and seeded and (ARGV[7] == '' or tonumber(ARGV[7]) == v) then
    redis.call('HSET', KEYS[1], ARGV[1], ARGV[6])
  else
    if seeded then redis.call('HINCRBY', KEYS[1], ARGV[1], qty) end
    redis.call('HINCRBY', KEYS[1], '_v', 1)
    if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], 259200) end
  end
  if redis.call('HINCRBY', KEYS[2], cust, -qty) <= 0 then redis.call('HDEL', KEYS[2], cust) end
  if redis.call('HINCRBY', KEYS[3], cust, -qty) <= 0 then redis.call('HDEL', KEYS[3], cust) end
end
if mode ~= 'failed' or redis.call('HGET', KEYS[4], cust) == ARGV[4] then redis.call('HDEL', KEYS[4], cust) end
return 1
"""

# the seed's write: only when no units came back since the caller read "_v" (ARGV[1]) before
# reading the database; ARGV[4] is the state as JSON; ARGV[5] "1" refreshes a seeded gate (else
# a gate seeded meanwhile is left alone: 2)
SEED = """
if ARGV[5] ~= '1' and redis.call('HEXISTS', KEYS[1], '_seeded') == 1 then return 2 end
if tonumber(redis.call('HGET', KEYS[1], '_v') or '0') ~= tonumber(ARGV[1]) then return 0 end
local state = cjson.decode(ARGV[4])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
redis.call('HSET', KEYS[1], '_seeded', 1, '_v', ARGV[1])
for k, v in pairs(state.rem) do redis.call('HSET', KEYS[1], k, v) end
for k, v in pairs(state.buy) do redis.call('HSET', KEYS[2], k, v) end
for k, v in pairs(state.day) do redis.call('HSET', KEYS[3], k, v) end
for _, c in ipairs(state.pend) do redis.call('HSET', KEYS[4], c, 'db') end
for i = 1, 4 do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('EXPIRE', KEYS[i], i == 3 and ARGV[3] or ARGV[2]) end
end
return 1
"""

#: how long an admitted ticket (its hash, its Idempotency-Key) can be read, and the life of a
#: store's drain flag (a drain refreshes it while it works; a dead one's flag lapses)
TICKET_SECONDS = 3600
FLAG_SECONDS = 30
RATE_WINDOW = 60
DAY_TTL = 3 * 86400

# The front door's admission (:mod:`mallow_flashsale.admission`): RESERVE's checks, in the same
# order and with the same codes, for a shopper known only by their token's mirrored session; an
# admitted attempt is also a ticket on the store's queue. Before anything is counted: the session
# (-10: not mirrored, or another store's), an Idempotency-Key seen before (2: its ticket again),
# an unseeded sale (-9), an unknown item (-8) and a key sent while an order is unpaid (-11): the
# route decides those. It runs on every attempt of the crowd, so it is kept small (Redis's own
# time is a share of each attempt's cost on the same cores): one HMGET reads the seed mark, the
# units and "_v"; the rate keys are built here from the prefix, the store and the window; the
# queued ticket is the caller's JSON with the customer and "_v" appended (no cjson); the
# reservation's token is the ticket id; the per-day counter is written only when the sale has a
# day limit (a limit added later drops the gate: re-seeded from the database, which stays the
# truth); lifetimes are constants in the script's text. Every value it gives a command is a string
# (quantities and lifetimes as the caller's or the script's text: a Lua number given to
# ``redis.call`` is formatted with ``%.17g`` first, and read back with ``strtod`` by ``tonumber``), and
# it answers ``{code, …}`` with no more than its caller reads: ``{1, 1}`` admitted and the store's
# drain flag raised by this attempt (one drain job to queue), ``{1, 0}`` admitted, ``{2, ticket}``
# the ticket of an Idempotency-Key seen before, ``{code, units left or 0}`` a refusal (together
# 198,000 → 181,000 instructions per admitted attempt in Redis, callgrind).
# It goes on the wire through :meth:`_Connection.run_admit` (the stretches of the command that are
# the same for every attempt on an item encoded once; keep ``_ADMIT_VARYING`` in step with the order below).
# KEYS: rem, buy, day, pend, session (the queue's key when ARGV[14] gives the customer), queue, drain flag.
# ARGV: 1 item, 2 qty, 3 store, 4 limit, 5 day limit, 6 the shopper's rate limit, 7 the client
# address, 8 its rate limit, 9 the rate window's number, 10 ticket id (also the reservation's
# token), 11 the ticket as a JSON object without its closing brace, 12 Idempotency-Key, 13 key
# prefix, 14 the customer id when the caller knows the shopper already (a browser's cookie
# session, checked by Flask; "": the token's mirrored session decides), 15 sale id, 16 SKU id.
ADMIT = """
local who
if ARGV[14] ~= '' then who = ARGV[3] .. ':' .. ARGV[14] else who = redis.call('GET', KEYS[5]) end
if not who then return {-10, 0} end
local sep = string.find(who, ':', 1, true)
if not sep or string.sub(who, 1, sep - 1) ~= ARGV[3] then return {-10, 0} end
local cust = string.sub(who, sep + 1)
if not tonumber(cust) then return {-10, 0} end
local idem = ''
if ARGV[12] ~= '' then
  idem = ARGV[13] .. ':idem:' .. ARGV[3] .. ':' .. cust .. ':' .. ARGV[12]
  local seen = redis.call('GET', idem)
  if seen then return {2, seen} end
end
local rem = redis.call('HMGET', KEYS[1], '_seeded', ARGV[1], '_v')
if not rem[1] then return {-9, 0} end
local left = tonumber(rem[2])
if not left then return {-8, 0} end
local pending = redis.call('HGET', KEYS[4], cust)
if pending and idem ~= '' then return {-11, left} end
local rl = ARGV[13] .. ':rl:' .. ARGV[3]
local function over_rate(key, limit)
  local n = redis.call('INCR', key)
  if n == 1 then redis.call('EXPIRE', key, '@WINDOW@') end
  return n > tonumber(limit)
end
local ip_over = over_rate(rl .. ':ip:' .. ARGV[7] .. ':' .. ARGV[9], ARGV[8])
if over_rate(rl .. ':shopper:' .. cust .. ':' .. ARGV[9], ARGV[6]) or ip_over then return {-7, 0} end
local qty = tonumber(ARGV[2])
if left <= 0 then return {0, 0} end
if left < qty then return {-5, left} end
if pending then return {-4, left} end
local limit = tonumber(ARGV[4])
if limit > 0 and tonumber(redis.call('HGET', KEYS[2], cust) or '0') + qty > limit then return {-1, left} end
local day_limit = tonumber(ARGV[5])
if day_limit > 0 and tonumber(redis.call('HGET', KEYS[3], cust) or '0') + qty > day_limit then return {-2, left} end
left = redis.call('HINCRBY', KEYS[1], ARGV[1], '-' .. ARGV[2])
redis.call('HINCRBY', KEYS[2], cust, ARGV[2])
if day_limit > 0 then
  redis.call('HINCRBY', KEYS[3], cust, ARGV[2])
  redis.call('EXPIRE', KEYS[3], '@DAY_TTL@')
end
redis.call('HSET', KEYS[4], cust, ARGV[10])
local tkey = ARGV[13] .. ':ticket:' .. ARGV[3] .. ':' .. ARGV[10]
redis.call('HSET', tkey, 'status', 'queued', 'store', ARGV[3], 'customer', cust, 'sale', ARGV[15], 'sku', ARGV[16], 'q', ARGV[2])
redis.call('EXPIRE', tkey, '@TICKET@')
if idem ~= '' then redis.call('SET', idem, ARGV[10], 'EX', '@TICKET@') end
redis.call('LPUSH', KEYS[6], ARGV[11] .. ',"c":' .. cust .. ',"ep":' .. (rem[3] or '0') .. '}')
if redis.call('SET', KEYS[7], '1', 'NX', 'EX', '@FLAG@') then return {1, 1} end
return {1, 0}
"""
for _name, _value in (
    ("WINDOW", RATE_WINDOW),
    ("DAY_TTL", DAY_TTL),
    ("TICKET", TICKET_SECONDS),
    ("FLAG", FLAG_SECONDS),
):
    ADMIT = ADMIT.replace(f"@{_name}@", str(_value))

# the drain takes up to ARGV[1] tickets (oldest first) into the processing set, scored with the
# time taken (ARGV[2]); KEYS: queue, processing
TAKE = """
local taken = {}
for i = 1, tonumber(ARGV[1]) do
  local t = redis.call('RPOP', KEYS[1])
  if not t then break end
  redis.call('ZADD', KEYS[2], ARGV[2], t)
  taken[#taken + 1] = t
end
return taken
"""

# a ticket's outcome: KEYS: ticket hash, processing; ARGV: ttl, the queued ticket, then field/value pairs
SETTLE = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], unpack(ARGV, 3))
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
redis.call('ZREM', KEYS[2], ARGV[2])
return 1
"""

# tickets a drain took before ARGV[1] and never settled (it died) go back to the queue's
# consuming end; KEYS: queue, processing
REQUEUE = """
local stale = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
for _, t in ipairs(stale) do
  redis.call('ZREM', KEYS[2], t)
  redis.call('RPUSH', KEYS[1], t)
end
return #stale
"""

TRUTH = """
if redis.call('HEXISTS', KEYS[1], '_seeded') == 1 then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 1
"""

OUTCOMES = {
    1: "ok",
    0: "sold_out",
    -1: "limit",
    -2: "day_limit",
    -4: "pending",
    -5: "not_enough",
    -7: "rate_limited",
    -8: "unknown",
    -9: "unseeded",
}
ADMIT_OUTCOMES = {**OUTCOMES, 2: "again", -10: "no_session", -11: "pending_with_key"}


#: the places of :data:`ADMIT`'s keys and arguments (``keys + args``) that change from one attempt
#: to the next (the session key; quantity, client address, rate window, ticket id, ticket,
#: Idempotency-Key, customer); the others are the same for every attempt on one sale item
_ADMIT_VARYING = (4, 8, 13, 15, 16, 17, 18, 20)
_ADMIT_SIZE = 7 + 16
_admit_constants = operator.itemgetter(*(n for n in range(_ADMIT_SIZE) if n not in _ADMIT_VARYING))
#: pre-encoded stretches of ADMIT's command per item (bounded: a crowd buys a few items)
ADMIT_FORMS = 1024


def _bulk(value) -> bytes:
    """One argument as the Redis protocol sends it (``$<length>\r\n<bytes>\r\n``): strings as
    UTF-8, numbers as their ``repr`` (what redis-py's encoder sends for them)."""
    if type(value) is not bytes:
        if isinstance(value, str):
            value = value.encode()
        elif type(value) is int:
            value = b"%d" % value
        else:
            value = repr(value).encode()
    return b"$%d\r\n%s\r\n" % (len(value), value)


class _Connection:
    def __init__(self, url: str):
        import redis

        self.url = url
        self.redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.reserve = self.redis.register_script(RESERVE)
        self.release = self.redis.register_script(RELEASE)
        self.truth = self.redis.register_script(TRUTH)
        self.seed = self.redis.register_script(SEED)
        self.admit = self.redis.register_script(ADMIT)
        self.take = self.redis.register_script(TAKE)
        self.settle = self.redis.register_script(SETTLE)
        self.requeue = self.redis.register_script(REQUEUE)
        self._admit_forms: dict[tuple, list[bytes]] = {}
        self._own = threading.local()  # each thread's connection for ADMIT (see :meth:`run_admit`)

    def admit_command(self, keys: list, args: list) -> bytes:
        """``EVALSHA <ADMIT> 7 *keys *args`` as the Redis protocol sends it (the bytes redis-py's
        packer makes), its stretches that are the same for every attempt on the item encoded once."""
        values = [*keys, *args]
        if len(values) != _ADMIT_SIZE:
            raise ValueError(f"ADMIT takes 7 keys and 16 arguments, not {len(keys)} and {len(args)}")
        constant = _admit_constants(values)
        forms = self._admit_forms
        stretches = forms.get(constant)
        if stretches is None:
            stretches, stretch = [], []
            for n, value in enumerate(values):
                if n in _ADMIT_VARYING:
                    stretches.append(b"".join(stretch))
                    stretch = []
                else:
                    stretch.append(_bulk(value))
            stretches.append(b"".join(stretch))
            head = (b"EVALSHA", self.admit.sha, 7)
            stretches[0] = b"*%d\r\n" % (len(head) + _ADMIT_SIZE) + b"".join(map(_bulk, head)) + stretches[0]
            if len(forms) >= ADMIT_FORMS:
                forms.clear()
            forms[constant] = stretches
        parts = [stretches[0]]
        for stretch, n in zip(stretches[1:], _ADMIT_VARYING, strict=True):
            parts.append(_bulk(values[n]))
            parts.append(stretch)
        return b"".join(parts)

    def run_admit(self, keys: list, args: list) -> list:
        """``self.admit(keys=keys, args=args)`` for the crowd's hot path: the same ``EVALSHA``
        on the wire (:meth:`admit_command`: redis-py's generic packing of 26 arguments was a
        fifth of the front door's CPU per attempt), sent on this thread's own connection
        (:meth:`_admit_connection`). A server that lost the script (restarted, flushed) is given
        it again, as :class:`redis.commands.core.Script` does; any other failure raises (the
        caller's synchronous path decides), and a command is never sent a second time after a
        failure that may have run it."""
        from redis.exceptions import NoScriptError, ResponseError

        for attempt in range(2):
            command = self.admit_command(keys, args)
            connection = self._admit_connection()
            try:
                connection.send_packed_command([command], check_health=False)
                return connection.read_response()
            except NoScriptError:  # nothing ran
                if attempt:
                    raise
            except ResponseError:  # the server answered: the connection is fine
                raise
            except BaseException:
                connection.disconnect()  # whatever was half sent or half read goes with it
                raise
            self.admit.sha = self.redis.script_load(ADMIT)
            self._admit_forms.clear()  # they begin with the SHA1
        raise AssertionError("unreachable")

    def _admit_connection(self):
        """This thread's connection for :meth:`run_admit`, made like the pool's own (its class
        and settings) but kept out of the pool: lending one from redis-py's pool per attempt
        (its lock, its metrics, and a non-blocking read to see that the connection holds no
        data) was about as much CPU as packing the command. It only ever sends ADMIT and reads
        the answer whole, or is disconnected on any failure (it connects again on the next
        send), so it holds no data between attempts. A server that closed it meanwhile
        (restarted) fails that one attempt, which the caller's synchronous path decides, as it
        decides any Redis failure. A forked child makes its own."""
        found = getattr(self._own, "connection", None)
        if found is None or found.pid != os.getpid():
            pool = self.redis.connection_pool
            found = self._own.connection = pool.connection_class(**pool.connection_kwargs)
        return found


def url_of(app) -> str:
    """The gate's Redis URL for ``app`` ("": no gate)."""
    return app.config.get("FLASHSALE_REDIS_URL", app.config.get("REDIS_URL")) or ""


def connection_of(app) -> _Connection | None:
    """``app``'s Redis for the gate, or None; needs no app context (the front door)."""
    url = url_of(app)
    if not url:
        return None
    found = app.extensions.get("mallow_flashsale.redis")
    if found is None or found.url != url:
        found = app.extensions["mallow_flashsale.redis"] = _Connection(url)
    return found


def connection() -> _Connection | None:
    """This app's Redis for the gate, or None (no Redis configured: the database alone decides)."""
    return connection_of(current_app)


def prefix_of(app) -> str:
    return app.config.get("FLASHSALE_REDIS_PREFIX") or "mallow:flashsale"


def prefix() -> str:
    return prefix_of(current_app)


def _base(store_id: int, sale_id: int, head: str | None = None) -> str:
    return f"{head or prefix()}:{{{int(store_id)}:{int(sale_id)}}}"


def keys(store_id: int, sale_id: int, day: str, head: str | None = None) -> list[str]:
    base = _base(store_id, sale_id, head)
    return [f"{base}:rem", f"{base}:buy", f"{base}:day:{day}", f"{base}:pend"]


def queue_keys(store_id: int, head: str | None = None) -> tuple[str, str, str]:
    """The store's ticket queue, its processing set and its drain flag."""
    base = f"{head or prefix()}:q:{int(store_id)}"
    return base, f"{base}:taken", f"{base}:drain"


def tickets_in_flight(store_id: int) -> bool:
    """Whether the store has admitted tickets not made into orders yet (queued, being drained, or
    a drain flag up). Their units are reserved in the gate but not yet taken in the database, so
    a re-seed from the database now would give them out a second time (one round trip; True when
    Redis failed: do not re-seed then either)."""
    conn = connection()
    if conn is None:
        return False
    queue, taken, flag = queue_keys(store_id)
    try:
        with conn.redis.pipeline(transaction=False) as pipe:
            pipe.llen(queue)
            pipe.zcard(taken)
            pipe.exists(flag)
            return any(int(n or 0) for n in pipe.execute())
    except Exception as error:  # noqa: BLE001
        log.warning("flash sale queue unreadable: %s", error)
        return True


def ticket_key(store_id: int, ticket: str, head: str | None = None) -> str:
    """An admitted attempt's outcome; the store's id in the name, so a purge of the store finds it."""
    return f"{head or prefix()}:ticket:{int(store_id)}:{ticket}"


def _glob(text: str) -> str:
    """``text`` matched literally in a Redis ``SCAN`` pattern."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def store_redis_patterns(app, store_id: int) -> list[str]:
    """``SCAN`` patterns of a store's keys that carry no ``{<store>:`` hash tag (those the
    platform finds itself): the ticket queue, its processing set and drain flag, the tickets, the
    idempotency keys, the attempt rates. Registered with :func:`mallow.sdk.purge_redis_patterns`,
    so purging the store removes them."""
    head, store = _glob(prefix_of(app)), int(store_id)
    return [
        f"{head}:q:{store}",
        f"{head}:q:{store}:*",
        f"{head}:ticket:{store}:*",
        f"{head}:idem:{store}:*",
        f"{head}:rl:{store}:*",
    ]


@dataclass
class Reservation:
    """Units an attempt holds in Redis; given back unless its order commits."""

    store_id: int
    sale_id: int
    item_id: int
    customer_id: int
    quantity: int
    day: str
    token: str
    epoch: int | None = None  # the item's "_v" when reserved (units returned so far)
    settled: bool = field(default=False)
    taken: bool = field(default=False)  # an order in this transaction holds its units

    def release(self, truth: int | None = None) -> None:
        """The attempt did not become an order: give the units back (or, with ``truth``, set the
        item's units to what the database holds). Does nothing the second time."""
        if self.settled:
            return
        self.settled = True
        _run_release(
            self.store_id,
            self.sale_id,
            self.item_id,
            self.customer_id,
            self.quantity,
            self.day,
            self.token,
            "failed",
            truth,
            self.epoch,
        )


def reserve(
    store_id: int,
    sale_id: int,
    item_id: int,
    customer_id: int,
    quantity: int,
    *,
    limit: int,
    day_limit: int,
    day: str,
    token: str,
    rate_key: str = "",
    rate_limit: int = 0,
    rate_window: int = 60,
    ip_key: str = "",
    ip_limit: int = 0,
) -> tuple[str, int, int | None]:
    """``(outcome, units left, epoch)``, in one round trip that also counts the attempt against the
    shopper's and the address's rates (``rate_key``/``ip_key``, windows of ``rate_window``
    seconds). Outcome ``ok`` (a :class:`Reservation` is the caller's to keep),
    ``sold_out``, ``not_enough``, ``limit``, ``day_limit``, ``pending``, ``rate_limited``,
    ``unknown`` (the item is not in the seeded sale) or ``ungated`` (no Redis, or it failed: let
    the database decide). ``epoch`` (with ``ok``) goes into the :class:`Reservation`."""
    conn = connection()
    if conn is None:
        return "ungated", 0, None
    args = [item_id, quantity, customer_id, limit, day_limit, token, 3 * 86400]
    args += [rate_key, rate_limit, rate_window, ip_key, ip_limit]
    try:
        for attempt in range(2):
            code, left, *epoch = conn.reserve(keys=keys(store_id, sale_id, day), args=args)
            outcome = OUTCOMES.get(int(code), "ungated")
            if outcome != "unseeded":
                return outcome, int(left), int(epoch[0]) if epoch else None
            if attempt == 0 and not seed(store_id, sale_id, wait=True):
                return "ungated", 0, None
            args[7] = args[10] = ""  # the attempt was counted already
        return "ungated", 0, None
    except Exception as error:  # noqa: BLE001 -- Redis down: the database still decides
        log.warning("flash sale gate unavailable: %s", error)
        return "ungated", 0, None


def _run_release(store_id, sale_id, item_id, customer_id, quantity, day, token, mode, truth=None, epoch=None) -> None:
    conn = connection()
    if conn is None:
        return
    try:
        conn.release(
            keys=keys(store_id, sale_id, day),
            args=[
                item_id,
                quantity,
                customer_id,
                token,
                mode,
                "" if truth is None else int(truth),
                "" if epoch is None else int(epoch),
            ],
        )
    except Exception as error:  # noqa: BLE001 -- the periodic re-seed repairs the gate
        log.warning("flash sale gate release failed: %s", error)


def units_returned(store_id, sale_id, item_id, customer_id, quantity, day) -> None:
    """An unpaid order's units are back in the database (after its commit)."""
    _run_release(store_id, sale_id, item_id, customer_id, quantity, day, "*", "return")


def order_paid(store_id, sale_id, item_id, customer_id, quantity, day) -> None:
    _run_release(store_id, sale_id, item_id, customer_id, quantity, day, "*", "paid")


def set_remaining(store_id: int, sale_id: int, item_id: int, remaining: int) -> None:
    """The database says how many units are left: the gate agrees from now on."""
    conn = connection()
    if conn is None:
        return
    try:
        conn.truth(keys=keys(store_id, sale_id, "-")[:1], args=[item_id, int(remaining)])
    except Exception as error:  # noqa: BLE001
        log.warning("flash sale gate update failed: %s", error)


def units_left(store_id: int, sale_id: int, item_id: int) -> int | None:
    """The item's units left in the gate (one round trip), or None: no Redis, the sale is not
    seeded (or was dropped), the item is not in it, or Redis failed."""
    conn = connection()
    if conn is None:
        return None
    try:
        left = conn.redis.hget(keys(store_id, sale_id, "-")[0], str(int(item_id)))
    except Exception as error:  # noqa: BLE001 -- the normal route asks again
        log.warning("flash sale gate unavailable: %s", error)
        return None
    return None if left is None else int(left)


def seed(store_id: int, sale_id: int, wait: bool = False, refresh: bool = False) -> bool:
    """Load the sale's state from the database into Redis (the active store's database).

    One process seeds at a time (a short Redis lock); with ``wait`` another caller waits a
    moment for it instead. A gate seeded already is left as it is unless ``refresh`` (the
    sweep's periodic re-seed): an attempt that found it unseeded a moment ago must not
    overwrite what was admitted since from a database that does not hold those units yet.
    Returns whether the gate is seeded now."""
    import time

    conn = connection()
    if conn is None:
        return False
    base = _base(store_id, sale_id)
    lock_key = f"{base}:seeding"
    try:
        if not conn.redis.set(lock_key, 1, nx=True, px=3000):
            if not wait:
                return False
            for _ in range(50):
                time.sleep(0.01)
                if conn.redis.hexists(f"{base}:rem", "_seeded"):
                    return True
            return False
        try:
            _write_seed(conn, store_id, sale_id, refresh)
        finally:
            conn.redis.delete(lock_key)
        return True
    except Exception as error:  # noqa: BLE001
        log.warning("flash sale gate seeding failed: %s", error)
        return False


def _write_seed(conn: _Connection, store_id: int, sale_id: int, refresh: bool = False) -> None:
    """Read the sale's state from the database and write it to the gate, unless units came back
    to the gate meanwhile (its "_v" moved: the read may predate their return in the database);
    then read again (a few times: returns are rare)."""
    now = timing.now()
    day = timing.store_day(now)
    rem_key, buy_key, day_key, pend_key = keys(store_id, sale_id, day)
    for _attempt in range(5):
        seen = int(conn.redis.hget(rem_key, "_v") or 0)
        state, ttl = _seed_state(sale_id, now, day)
        if state is None:
            conn.redis.delete(rem_key, buy_key, day_key, pend_key)
            return
        written = conn.seed(
            keys=[rem_key, buy_key, day_key, pend_key],
            args=[seen, ttl, 3 * 86400, json.dumps(state), "1" if refresh else "0"],
        )
        if int(written) in (1, 2):  # 2: seeded already (and not a refresh)
            return  # else read again (PostgreSQL: each statement sees what was committed before it)
    log.warning("flash sale gate: units kept coming back while seeding sale %s; left unseeded", sale_id)


def _seed_state(sale_id: int, now, day: str) -> tuple[dict | None, int]:
    sale = db.session.get(Sale, sale_id)
    if sale is None:
        return None, 0
    remaining = dict(
        db.session.execute(sa.select(SaleItem.id, SaleItem.remaining).where(SaleItem.sale_id == sale_id)).all()
    )
    counted = Purchase.status.in_(("pending", "paid"))
    bought = db.session.execute(
        sa.select(Purchase.customer_id, sa.func.sum(Purchase.quantity))
        .where(Purchase.sale_id == sale_id, counted)
        .group_by(Purchase.customer_id)
    ).all()
    today = db.session.execute(
        sa.select(Purchase.customer_id, sa.func.sum(Purchase.quantity))
        .where(Purchase.sale_id == sale_id, counted, Purchase.day == day)
        .group_by(Purchase.customer_id)
    ).all()
    pending = (
        db.session.execute(sa.select(PendingOrder.customer_id).where(PendingOrder.sale_id == sale_id)).scalars().all()
    )
    ttl = max(60, int((aware(sale.ends_at) + timedelta(days=1) - now).total_seconds()))
    state = {
        "rem": {str(k): int(v) for k, v in remaining.items()},
        "buy": {str(c): int(q) for c, q in bought},
        "day": {str(c): int(q) for c, q in today},
        "pend": [str(c) for c in pending],
    }
    return state, ttl


def drop(store_id: int, sale_id: int) -> None:
    """Forget the sale in Redis (it was edited): the next attempt re-seeds it."""
    conn = connection()
    if conn is None:
        return
    try:
        conn.redis.delete(*keys(store_id, sale_id, timing.store_day(timing.now())))
    except Exception as error:  # noqa: BLE001
        log.warning("flash sale gate drop failed: %s", error)

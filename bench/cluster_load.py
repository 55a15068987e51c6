"""The load generator of bench/cluster.py and what it makes of its records.

Virtual shoppers in threads (``http.client``, one keep-alive connection to the proxy each), every
one in a store of its own turn and with a shopper of its own (bearer token, address), pick a flow
by weight until the deadline:

* ``browse`` (60 %): the home, a category or a product page (``GET``, 200);
* ``search`` (10 %): ``GET …/search?q=…`` (200);
* ``cart`` (15 %): a SKU into the cart (``POST …/api/cart/items``, 201) the first time, then
  ``PUT …/api/cart/items/<sku>`` with a quantity (200; idempotent);
* ``order`` (8 %): ``POST …/api/orders`` with a new ``Idempotency-Key`` (201); when the answer is
  lost (502 or no answer: the node died holding it) the same request is sent once more **with the
  same key** (200 with the order already placed, or 201 if the first never got that far), then
  ``pay``: ``POST …/api/orders/<id>/pay`` with the sandbox (200), the cashier page (``GET``, 200:
  a session cookie and its CSRF token) and its *Pay* button (``POST``, 303) — the GET and the POST
  may be answered by different nodes: the session is a signed cookie, any node reads it;
* ``flash`` (7 %): a buy attempt in the store's flash sale as the next of the thread's flash
  shoppers (202 admitted at the front door, 201 placed, 409 sold out or already bought).

Every request is a :class:`Record`: its kind, start and end (seconds since the load began,
``time.monotonic``), status (0: no answer), cause of a failure, and the node(s) the proxy tried
(``X-Upstream``).
"""

from __future__ import annotations

import http.client
import json
import math
import random
import re
import threading
import time
import uuid
from dataclasses import dataclass, field

from cluster_seed import KEY_PREFIX

WEIGHTS = {"browse": 60, "search": 10, "cart": 15, "order": 8, "flash": 7}
KINDS = ("browse", "search", "cart", "order", "pay", "flash")
#: the answers each kind may give while everything is up
EXPECTED = {
    "browse": {200},
    "search": {200},
    "cart": {200, 201},
    "order": {200, 201},
    "pay": {200, 303},
    "flash": {201, 202, 409},
}
SEARCH_WORDS = ("核桃", "茶", "山", "蜂蜜", "笋干", "碧根果")
CSRF_RE = re.compile(rb'name="csrf_token" value="([^"]+)"')


@dataclass(slots=True)
class Record:
    kind: str
    start: float
    end: float
    status: int
    cause: str
    upstream: str
    retry: bool = False


@dataclass
class Outcomes:
    """What the flows saw, for the checks against the books."""

    orders: dict = field(default_factory=dict)  # key → (store slug, order id) answered 200/201
    paid: list = field(default_factory=list)  # (store slug, order id) whose cashier answered 303
    lost: list = field(default_factory=list)  # (store slug, key) never answered (both tries failed)
    flash: dict = field(default_factory=dict)  # store slug → {status or error code: count}
    lock: threading.Lock = field(default_factory=threading.Lock)


class Connection:
    """One keep-alive connection to the proxy; a new one after any failure."""

    def __init__(self, port: int):
        self.port = port
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None, headers: dict):
        """``(status, headers, body)``; raises ``OSError``/``http.client.HTTPException`` when no answer came."""
        conn = self.conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        self.conn = conn
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        except Exception:
            conn.close()
            self.conn = None
            raise
        if response.getheader("Connection", "").lower() == "close":
            conn.close()
            self.conn = None
        return response.status, response.headers, data


class Shopper(threading.Thread):
    def __init__(self, load: Load, index: int):
        super().__init__(name=f"shopper-{index}", daemon=True)
        self.load, self.index = load, index
        self.rng = random.Random(load.seed * 1000 + index)
        self.store = load.stores[index % len(load.stores)]
        own = index // len(load.stores)
        self.token, self.address = self.store.shoppers[own % len(self.store.shoppers)]
        # the flash sale's shoppers: every shopper of the store, each thread starting elsewhere
        shoppers = self.store.shoppers
        self.flash_turn = [shoppers[(own * 7 + k) % len(shoppers)] for k in range(len(shoppers))]
        self.flash_next = 0
        self.conn = Connection(load.port)
        self.records: list[Record] = []
        self.in_cart: set[int] = set()

    def send(self, kind, method, path, body=None, headers=None, retry=False):
        started = time.monotonic() - self.load.t0
        headers = dict(headers or {})
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        try:
            status, answer_headers, answer = self.conn.request(method, path, data, headers)
        except (OSError, http.client.HTTPException) as error:
            ended = time.monotonic() - self.load.t0
            self.records.append(Record(kind, started, ended, 0, type(error).__name__, "", retry))
            return 0, None, b""
        ended = time.monotonic() - self.load.t0
        cause = "" if status in EXPECTED[kind] else f"HTTP {status}"
        upstream = answer_headers.get("X-Upstream", "") or ""
        self.records.append(Record(kind, started, ended, status, cause, upstream, retry))
        return status, answer_headers, answer

    def auth(self, token=None) -> dict:
        return {"Authorization": f"Bearer {token or self.token}"}

    def run(self) -> None:
        kinds, weights = list(WEIGHTS), list(WEIGHTS.values())
        while time.monotonic() < self.load.deadline:
            flow = self.rng.choices(kinds, weights)[0]
            getattr(self, flow)()

    def browse(self) -> None:
        s, rng = self.store, self.rng
        choices = [f"{s.prefix}/", f"{s.prefix}/products/{rng.choice(s.products)}"]
        if s.categories:
            choices.append(f"{s.prefix}/category/{rng.choice(s.categories)}")
        self.send("browse", "GET", rng.choice(choices))

    def search(self) -> None:
        from urllib.parse import quote

        self.send("search", "GET", f"{self.store.prefix}/search?q={quote(self.rng.choice(SEARCH_WORDS))}")

    def cart(self) -> None:
        """Put a SKU in the cart (``POST``, 201) the first time, then change its quantity (``PUT``, 200)."""
        sku, prefix = self.rng.choice(self.store.cart_skus), self.store.prefix
        quantity = self.rng.randint(1, 3)
        if sku in self.in_cart:
            self.send("cart", "PUT", f"{prefix}/api/cart/items/{sku}", {"quantity": quantity}, self.auth())
            return
        status, _h, _b = self.send(
            "cart", "POST", f"{prefix}/api/cart/items", {"sku_id": sku, "quantity": quantity}, self.auth()
        )
        if status == 201:
            self.in_cart.add(sku)

    def order(self) -> None:
        s, out = self.store, self.load.outcomes
        key = f"{KEY_PREFIX}{uuid.uuid4().hex}"
        body = {"items": [{"sku_id": self.rng.choice(s.order_skus), "quantity": 1}], "address_id": self.address}
        headers = dict(self.auth(), **{"Idempotency-Key": key})
        status, _h, answer = self.send("order", "POST", f"{s.prefix}/api/orders", body, headers)
        if status == 0 or status >= 500:  # lost on the way: ask again with the same key
            status, _h, answer = self.send("order", "POST", f"{s.prefix}/api/orders", body, headers, retry=True)
        if status not in (200, 201):
            if status == 0 or status >= 500:
                with out.lock:
                    out.lost.append((s.slug, key))
            return
        order_id = json.loads(answer)["id"]
        with out.lock:
            out.orders[key] = (s.slug, order_id)
        self.pay(order_id)

    def pay(self, order_id: int) -> None:
        s, out = self.store, self.load.outcomes
        status, _h, answer = self.send(
            "pay", "POST", f"{s.prefix}/api/orders/{order_id}/pay", {"provider": "sandbox"}, self.auth()
        )
        if status != 200:
            return
        url = json.loads(answer)["pay"]["url"]
        path = url[url.index("/s/") :] if "://" in url else url
        status, headers, page = self.send("pay", "GET", path)
        found = CSRF_RE.search(page or b"")
        if status != 200 or not found:
            return
        cookie = "; ".join(c.split(";", 1)[0] for c in headers.get_all("Set-Cookie") or [])
        token = path.split("token=", 1)[1]
        from urllib.parse import urlencode

        form = urlencode({"action": "pay", "token": token, "csrf_token": found.group(1).decode()}).encode()
        form_headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
        status, _h, _b = self.send("pay", "POST", path, form, form_headers)
        if status == 303:
            with out.lock:
                out.paid.append((s.slug, order_id))

    def flash(self) -> None:
        s, out = self.store, self.load.outcomes
        token, address = self.flash_turn[self.flash_next % len(self.flash_turn)]
        self.flash_next += 1
        body = {"sku_id": s.flash_sku["id"], "quantity": 1, "address_id": address}
        status, _h, answer = self.send(
            "flash", "POST", f"{s.prefix}/api/x/flashsale/sales/{s.sale}/buy", body, self.auth(token)
        )
        code = str(status)
        if status == 409:
            try:
                code = f"409 {json.loads(answer).get('error', '')}"
            except ValueError:
                pass
        with out.lock:
            counts = out.flash.setdefault(s.slug, {})
            counts[code] = counts.get(code, 0) + 1


class Load:
    def __init__(self, port: int, stores: list, threads: int, seconds: float, seed: int = 15):
        self.port, self.stores, self.seconds, self.seed = port, stores, seconds, seed
        self.outcomes = Outcomes()
        self.shoppers = [Shopper(self, n) for n in range(threads)]
        self.t0 = 0.0
        self.deadline = 0.0

    def start(self) -> None:
        self.t0 = time.monotonic()
        self.deadline = self.t0 + self.seconds
        for shopper in self.shoppers:
            shopper.start()

    def now(self) -> float:
        return time.monotonic() - self.t0

    def join(self) -> list[Record]:
        for shopper in self.shoppers:
            shopper.join(timeout=self.seconds + 120)
        return sorted((r for s in self.shoppers for r in s.records), key=lambda r: r.start)


# --- what the records say ------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


def failed(record: Record) -> bool:
    return record.status == 0 or record.status >= 500


def judge(records: list[Record], kill_at: float | None, killed: str | None) -> dict:
    """Every failure (no answer, or 5xx) either *excused* or a *violation*.

    Excused: a request the proxy handed to the killed node before it could know the node was gone —
    it ended after the kill, its only node was the killed one, and it started before the proxy's
    first failed answer from that node came back (``noticed``: the proxy marks the node down on its
    first error; a request started later is never sent there). Those are the requests in flight on
    the killed node at the kill, as the proxy sees it. Everything else that failed is a violation;
    answers its kind never gives are ``unexpected``. Also the kill window the excused requests span."""
    excused, violations, unexpected = [], [], []

    def on_killed(r: Record) -> bool:
        return not r.upstream or (killed is not None and r.upstream.strip() == killed)

    noticed: float | None = None
    if kill_at is not None:
        ends = [r.end for r in records if failed(r) and on_killed(r) and r.end >= kill_at]
        noticed = min(ends, default=kill_at)
    for r in records:
        if failed(r):
            if kill_at is not None and noticed is not None and on_killed(r) and kill_at <= r.end and r.start <= noticed:
                excused.append(r)
            else:
                violations.append(r)
        elif r.cause:
            unexpected.append(r)
    in_flight_at_kill = [r for r in records if kill_at is not None and r.start <= kill_at <= r.end]
    window = None
    if kill_at is not None:
        window = (min([kill_at, *(r.start for r in excused)]), max([kill_at, *(r.end for r in excused)]))
    return {
        "excused": excused,
        "violations": violations,
        "unexpected": unexpected,
        "in_flight_at_kill": len(in_flight_at_kill),
        "excused_started_before_kill": sum(r.start <= kill_at for r in excused) if kill_at is not None else 0,
        "noticed": noticed,
        "window": window,
        "retried_by_proxy": sum("," in r.upstream for r in records),
    }


def by_kind(records: list[Record], seconds: float) -> dict:
    """Per kind: requests, req/s, p50/p95/p99 (ms, answered requests), failures by cause."""
    rows = {}
    for kind in (*KINDS, "all"):
        mine = [r for r in records if kind in ("all", r.kind)]
        answered = [(r.end - r.start) * 1000 for r in mine if r.status]
        causes: dict[str, int] = {}
        for r in mine:
            if r.cause:
                causes[r.cause] = causes.get(r.cause, 0) + 1
        rows[kind] = {
            "requests": len(mine),
            "rps": len(mine) / seconds if seconds else float("nan"),
            "p50": percentile(answered, 50),
            "p95": percentile(answered, 95),
            "p99": percentile(answered, 99),
            "errors": sum(1 for r in mine if r.cause),
            "causes": causes,
            "statuses": _count(str(r.status) for r in mine),
        }
    return rows


def _count(values) -> dict:
    counts: dict[str, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return dict(sorted(counts.items()))


def timeline(records: list[Record], seconds: float) -> list[dict]:
    """1-s buckets by the second a request *ended* in: answers, failures, p99 (ms)."""
    size = math.ceil(seconds) + 1
    requests, failures = [0] * size, [0] * size
    latencies: list[list[float]] = [[] for _ in range(size)]
    for r in records:
        n = min(size - 1, max(0, int(r.end)))
        requests[n] += 1
        failures[n] += bool(r.cause)
        if r.status:
            latencies[n].append((r.end - r.start) * 1000)
    return [
        {"second": n, "requests": requests[n], "failures": failures[n], "p99": percentile(latencies[n], 99)}
        for n in range(size)
    ]


def node_share(records: list[Record], nodes: dict[str, str], since: float = 0.0) -> dict:
    """Answers per node (by the last address the proxy tried) for requests started at ``since`` or later."""
    counts = {name: 0 for name in nodes}
    for r in records:
        if r.start < since or not r.status or not r.upstream:
            continue
        last = r.upstream.split(",")[-1].strip()
        for name, address in nodes.items():
            if last == address:
                counts[name] += 1
    return counts

"""The paths bench/http.py measures on the demo store, each beside its bare baseline, and how each
is measured: plain paths alternate with their baseline; the flash sale sells a fresh sale per
round until sold out and then measures the sold-out answer; the plugin counts switch plugins with
``mallow plugin``; the store counts grow the platform between phases.

Every measurement returns rows: ``name``, ``path``, ``rps``, ``p50``, ``p99``, ``bad`` (answers
that were not what the path should answer), ``baseline``, ``base_rps``, ``base_p99``, ``ratio``,
``key`` (the target it is held to, :data:`TARGETS`) and an optional ``note``.
"""

from __future__ import annotations

import math
import os
import random
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import http_lua as lua
import http_setup as setup
from common import ROOT
from http_tools import WORKERS, call, get, mallow, say, wrk

#: target key → (minimum ratio, how the brief and issue 13 state it)
TARGETS = {
    "home": (1.0, "≥ 1.0× A-page (warm)"),
    "product": (1.0, "≥ 1.0× A-page (warm)"),
    "api-list": (0.6, "≥ 0.6× A-dbjson"),
    "api-product": (0.6, "≥ 0.6× A-dbjson"),
    "cart": (0.6, "≥ 0.6× A-dbjson"),
    "order": (0.5, "≥ 0.5× A-flash-pg (PostgreSQL)"),
    "cold": (0.75, "≥ 0.75× A-dbpage"),
    "flash": (0.85, "≥ 0.85× A-flash-redis, exactly N sold"),
    "soldout": (0.8, "≥ 0.8× A-hello"),
    "plugins": (0.98, "≥ 0.98× (10 vs 0)"),
    "stores": (0.95, "≥ 0.95× (10,000 vs 100)"),
}

BUNDLED = ("distribution", "flashsale", "groupbuy")
BIG_STOCK = 900_000_000  # under the catalogue's maximum: order placement never runs out


def row(name, path, ours: list[dict], theirs: list[dict], baseline: str, key: str | None, **extra) -> dict:
    """Medians of a path's samples beside its baseline's. ``ratio`` is the median of the rounds'
    own ratios (``ratios``: each round's req/s over the baseline's measured beside it, in the same
    round) when the samples pair up, as the brief asks: the machine's speed drifts between rounds,
    and a median of one side's rounds over the other side's can pair a fast round with a slow one.
    Unpaired samples: the ratio of the medians."""
    median = {k: statistics.median(s[k] for s in ours) for k in ("rps", "p50", "p99")}
    base = statistics.median(s["rps"] for s in theirs)
    ratios = [o["rps"] / t["rps"] if t["rps"] else float("nan") for o, t in zip(ours, theirs, strict=False)]
    paired = len(ours) == len(theirs) and ours
    return dict(
        name=name,
        path=path,
        **median,
        bad=sum(s["bad"] for s in ours),
        baseline=baseline,
        base_rps=base,
        base_p99=statistics.median(s["p99"] for s in theirs),
        ratio=statistics.median(ratios) if paired else (median["rps"] / base if base else float("nan")),
        ratios=ratios if paired else [],
        key=key,
        **extra,
    )


class Demo:
    """The demo store as the bench uses it, set up through its APIs: ids, the demo shopper's token
    and address, a merchant token, SKUs with stock that cannot run out, and the flash-sale
    plugin's attempt limits raised to what one wrk client (one IP address) needs."""

    def __init__(self, url: str, work: str):
        from mallow.demo import MERCHANT_EMAIL, PASSWORD, SHOPPER_LOGIN

        self.url, self.work, self.store = url, work, f"{url}/s/demo"
        products = call(f"{self.store}/api/products")["items"]
        self.product = products[0]["id"]
        skus = [call(f"{self.store}/api/products/{p['id']}")["skus"][0] for p in products]
        self.sku = skus[0]["id"]
        self.category = call(f"{self.store}/api/categories")["items"][0]["id"]
        try:  # the flash-sale plugin is not loaded when its files changed since its review
            sales = call(f"{self.store}/api/x/flashsale/sales")["items"]
            self.flashsale = True
        except SystemExit as error:
            say(f"!!! the flash-sale plugin does not answer in the demo store (see `mallow plugin list`): {error}")
            sales, self.flashsale = [], False
        self.sale = sales[0]["id"] if sales else None
        in_sales = {item["sku_id"] for sale in sales for item in sale["items"]}
        free = [s for s in skus if s["id"] not in in_sales]
        self.order_skus = [s["id"] for s in free[:3]]  # order placement: stock on several SKUs
        self.flash_sku = free[-1]
        self.token = call(f"{self.store}/api/tokens", "POST", {"login": SHOPPER_LOGIN, "password": PASSWORD})["token"]
        self.merchant = call(
            f"{url}/api/tokens", "POST", {"email": MERCHANT_EMAIL, "password": PASSWORD, "store": "demo"}
        )["token"]
        address = {
            "recipient": "压测",
            "phone": "13912345678",
            "province": "浙江省",
            "city": "杭州市",
            "detail": "1 号",
        }
        self.address = call(f"{self.store}/api/addresses", "POST", address, self.token)["id"]
        stock = [{"sku_id": s, "stock": BIG_STOCK} for s in [*self.order_skus, self.flash_sku["id"]]]
        call(f"{self.store}/api/console/skus/bulk", "POST", {"items": stock}, self.merchant)
        limits = {"unpaid_minutes": 30, "shopper_attempts_per_minute": 600, "ip_attempts_per_minute": 1_000_000}
        if self.flashsale:
            call(f"{self.store}/api/console/plugins/flashsale/settings", "PUT", {"settings": limits}, self.merchant)
        call(f"{self.store}/api/cart/items", "POST", {"sku_id": self.sku, "quantity": 1}, self.token)

    def new_sale(self, units: int) -> int:
        now = datetime.now(UTC)
        sku = self.flash_sku
        body = {
            "title": "压测秒杀",
            "starts_at": (now - timedelta(minutes=1)).isoformat(),
            "ends_at": (now + timedelta(hours=1)).isoformat(),
            "per_order_limit": 1,
            "per_shopper_limit": 1,
            "published": True,
            "items": [{"sku_id": sku["id"], "sale_price": max(1, sku["price"] // 2), "quota": units}],
        }
        return call(f"{self.store}/api/console/x/flashsale/sales", "POST", body, self.merchant)["id"]

    def sold(self, sale: int) -> int:
        return call(f"{self.store}/api/console/x/flashsale/sales/{sale}", token=self.merchant)["items"][0]["sold"]

    def end_sale(self, sale: int) -> None:
        call(f"{self.store}/api/console/x/flashsale/sales/{sale}/end", "POST", {}, self.merchant)


def plain_entries(demo: Demo, bare: str, cold: str | None, backend: str) -> list[dict]:
    """The paths measured the plain way: ``key`` (for ``--only``), Mallow's load, its baseline's."""
    work, s = demo.work, "/s/demo"
    cart = lua.fixed(work, "cart.lua", "PUT", {"quantity": 1}, demo.token)
    items = [{"sku_id": sku, "quantity": 1} for sku in demo.order_skus]
    orders = lua.orders(work, f"{s}/api/orders", demo.token, {"items": items, "address_id": demo.address})
    flash_pg = lua.fixed(work, "flash-pg.lua", "POST")
    order_baseline = "A-flash-pg" if backend == "postgresql" else "A-flash-sql"
    entries = [
        ("home", "home", f"{s}/", None, "A-page", "/page", None, "home"),
        ("product", "product page", f"{s}/products/{demo.product}", None, "A-page", "/page", None, "product"),
        ("category", "category list", f"{s}/category/{demo.category}", None, "A-page", "/page", None, None),
        ("search", "search", f"{s}/search?q=%E6%A0%B8%E6%A1%83", None, "A-page", "/page", None, None),
        ("api-list", "API product list", f"{s}/api/products", None, "A-dbjson", "/dbjson", None, "api-list"),
        (
            "api-product",
            "API product",
            f"{s}/api/products/{demo.product}",
            None,
            "A-dbjson",
            "/dbjson",
            None,
            "api-product",
        ),
        ("cart", "cart write (PUT qty)", f"{s}/api/cart/items/{demo.sku}", cart, "A-dbjson", "/dbjson", None, "cart"),
        (
            "order",
            f"order placement ({len(items)} SKUs)",
            f"{s}/api/orders",
            orders,
            order_baseline,
            "/flash-pg",
            flash_pg,
            "order",
        ),
    ]
    if demo.sale:
        entries.append(
            ("flash-page", "flash-sale page", f"{s}/x/flashsale/{demo.sale}", None, "A-hello", "/hello", None, None)
        )
    found = [
        dict(
            key=key,
            name=name,
            path=path,
            load=(demo.url + path, script),
            baseline=baseline,
            base=(bare + base_path, base_script),
            target=target,
        )
        for key, name, path, script, baseline, base_path, base_script, target in entries
    ]
    if cold:
        found.append(
            dict(
                key="cold",
                name="home, every page cache off",
                path=f"{s}/",
                load=(cold + f"{s}/", None),
                baseline="A-dbpage",
                base=(bare + "/dbpage", None),
                target="cold",
            )
        )
    return found


def measure_plain(entries: list[dict], rounds: int, seconds: float) -> list[dict]:
    """Warm every path (render caches, worker imports), then alternate each path with its baseline."""
    for entry in entries:
        wrk(entry["load"][0], 2, entry["load"][1])
        wrk(entry["base"][0], 1, entry["base"][1])
    samples = {entry["key"]: ([], []) for entry in entries}
    for n in range(rounds):
        for entry in entries:
            ours = wrk(entry["load"][0], seconds, entry["load"][1])
            theirs = wrk(entry["base"][0], seconds, entry["base"][1])
            samples[entry["key"]][0].append(ours)
            samples[entry["key"]][1].append(theirs)
            bad = f" ({ours['bad']} non-2xx: {ours['stats'].get('counts', '')})" if ours["bad"] else ""
            say(
                f"  round {n + 1}/{rounds} {entry['name']}: {ours['rps']:.0f} req/s{bad} · {entry['baseline']} {theirs['rps']:.0f}"
            )
    return [row(e["name"], e["path"], *samples[e["key"]], e["baseline"], e["target"]) for e in entries]


def unexpected(stats: dict, *statuses: str) -> int:
    """How many answers of a buyers' script had an HTTP status other than ``statuses``."""
    return sum(n for key, n in stats.get("counts", {}).items() if key.isdigit() and key not in statuses)


def plugin_site(work: str, env: dict):
    """Seven small plugins in development mode, prepared as ``mallow serve --dev --plugins DIR``
    does (:func:`mallow.plugin_host.devmode.prepare`: on ``sys.path`` here, and on ``PYTHONPATH``
    and in ``MALLOW_DEV_PLUGIN_DIRS`` for the server and the CLI); returns that environment, the
    plugins' names, their folder and the dev site (close it when done)."""
    from mallow.plugin_host import devmode

    folder = Path(work) / "plugins-dev"
    names = setup.write_extra_plugins(folder, 7)
    site = devmode.prepare([folder], scratch=Path(work) / "dev-site")
    python_path = os.pathsep.join([*site.paths, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return dict(env, MALLOW_DEV_PLUGIN_DIRS=str(folder), PYTHONPATH=python_path), names, folder, site


def measure_plugins(servers, env: dict, bare: str, rounds: int, seconds: float) -> list[dict]:
    """The demo home with 0, 3 (the bundled) and 10 plugins on, alternated with A-page, on a server
    that also loaded seven small development-mode plugins with a ``home.top`` slot each. They are
    switched on first with ``mallow plugin enable NAME --store demo``; between loads the bench
    switches plugins with the functions behind that command (``plugin_host.switches``) in its
    own process, as one CLI process per plugin costs seconds each."""
    from mallow.plugin_host import switches

    plugin_env, extra, folder, site = plugin_site(env["MALLOW_BENCH_WORK"], env)
    switcher = setup.open_app(env, MALLOW_DEV_PLUGIN_DIRS=[str(folder)])
    on = set(BUNDLED)

    def switch_to(wanted: set[str]) -> None:
        with switcher.app_context():
            for name in sorted(on - wanted):
                switches.switch_off(name, "demo", "bench/http.py")
                on.discard(name)
            for name in sorted(wanted - on):
                switches.switch_on(name, "demo", "bench/http.py")
                on.add(name)

    variants = {10: set(BUNDLED) | set(extra), 3: set(BUNDLED), 0: set()}
    samples = {count: ([], []) for count in variants}
    try:
        url = servers.start("mallow-plugins", "mallow.app:create_app()", plugin_env, ROOT, "/s/demo/")
        for name in extra:
            mallow(plugin_env, "plugin", "enable", name, "--store", "demo")
            on.add(name)
        for n in range(rounds):
            for count in list(variants) if n % 2 == 0 else list(variants)[::-1]:  # fewest switches
                switch_to(variants[count])
                wrk(url + "/s/demo/", 1)  # the render cache's key changed with the plugins
                ours, theirs = wrk(url + "/s/demo/", seconds), wrk(bare + "/page", seconds)
                samples[count][0].append(ours), samples[count][1].append(theirs)
                say(
                    f"  round {n + 1}/{rounds} home, {count} plugins: {ours['rps']:.0f} req/s · A-page {theirs['rps']:.0f}"
                )
    finally:
        try:
            switch_to(set(BUNDLED))
        except Exception as error:  # noqa: BLE001 -- already failing: say so, keep the first error
            say(f"  could not switch the bundled plugins back on: {error}")
        servers.stop("mallow-plugins")
        site.close()
    rows = [row(f"home, {count} plugins on", "/s/demo/", *samples[count], "A-page", None) for count in (0, 3, 10)]
    rows.append(
        dict(
            rows[2],
            name="home, 10 plugins vs 0",
            baseline="home, 0 plugins (each ÷ A-page)",
            base_rps=rows[0]["rps"],
            base_p99=rows[0]["p99"],
            ratio=rows[2]["ratio"] / rows[0]["ratio"] if rows[0]["ratio"] else float("nan"),
            ratios=[],
            key="plugins",
        )
    )
    return rows


#: how long a kept page stays fresh on the servers of the store-count comparison (the default, 60 s,
#: is shorter than crawling 10,000 homes: the first ones would be cold again when measured)
STORES_PAGE_SECONDS = 3600
CRAWL_THREADS = 8
SAMPLE = 50  # homes asked once more after the crawl: how many come from the kept pages


def warm_every_store(url: str, paths: list[str], budget: float) -> dict:
    """``GET`` every path once (``CRAWL_THREADS`` at a time), for at most ``budget`` seconds, with a
    progress line every 10 s; then ``SAMPLE`` random paths again. Every answer must be 200.
    Returns ``{"crawled", "seconds", "kept_before", "sample_hits"}`` (``kept_before``: answers
    already served from the kept pages during the crawl)."""
    started, done, kept, last = time.monotonic(), 0, 0, time.monotonic()
    deadline = started + budget

    def visit(path: str):
        if time.monotonic() > deadline:
            return None
        status, headers = get(url + path)
        if status != 200:
            raise SystemExit(f"GET {path} answered {status} while warming the stores")
        return headers.get("X-Mallow-Cache") == "hit"

    with ThreadPoolExecutor(CRAWL_THREADS) as pool:
        for hit in pool.map(visit, paths):
            if hit is None:
                continue
            done, kept = done + 1, kept + hit
            if time.monotonic() - last >= 10:
                last = time.monotonic()
                say(f"    warming: {done:,}/{len(paths):,} homes ({done / (last - started):.0f}/s)")
    seconds = time.monotonic() - started
    sample = random.Random(13).sample(paths[:done] or paths, min(SAMPLE, done or len(paths)))
    hits = sum(get(url + path)[1].get("X-Mallow-Cache") == "hit" for path in sample)
    return {"crawled": done, "seconds": seconds, "kept_before": kept, "sample_hits": hits, "sample": len(sample)}


def warm_up_seconds(stores: int) -> int:
    """The random-store load before the rounds: long enough for each of the server's workers to
    meet each store about four times (at about 6,000 requests/s here), so that both counts are
    measured in their steady state (each worker keeps its own kept pages and stamps: 10,000
    stores are 40,000 first meetings for 4 workers); at least the brief's 2 s, at most 60 s."""
    return max(2, min(60, math.ceil(4 * stores * WORKERS / 6000)))  # whole seconds: wrk's -d


#: meetings of each worker with each store before the rounds (a worker that has not met a store
#: reads its page back from its file: 254k instructions a request instead of 117k, callgrind)
MEETINGS = 4
#: the most seconds of random-store load spent warming a phase
WARM_UP_LIMIT = 120


def warm_up(url: str, stores: int, script: str) -> str:
    """The random-store load before the rounds until each worker has met each store about
    :data:`MEETINGS` times, counted from wrk's own request counts (the first run lasts
    :func:`warm_up_seconds`, which assumes 6,000 requests/s; on a loaded machine that left many
    stores unmet by some workers, read back from their files during the rounds), at most
    :data:`WARM_UP_LIMIT` seconds. Returns the note saying what it took."""
    seconds, requests, runs = warm_up_seconds(stores), 0.0, 0
    spent = 0
    while True:
        figures = wrk(url, seconds, script)
        runs, spent = runs + 1, spent + seconds
        requests += figures["rps"] * seconds
        meetings = requests / (WORKERS * stores)
        missing = MEETINGS * WORKERS * stores - requests
        if missing <= 0 or spent >= WARM_UP_LIMIT or not figures["rps"]:
            break
        seconds = max(2, min(WARM_UP_LIMIT - spent, math.ceil(missing / figures["rps"])))
    say(f"  warm-up of {stores:,} stores: {spent} s in {runs} run(s), {meetings:.1f} meetings per worker and store")
    return f"warm-up {spent} s ({meetings:.1f} meetings per worker and store)"


def measure_stores(
    servers,
    env: dict,
    app,
    bare: str,
    counts: list[int],
    rounds: int,
    seconds: float,
    budget: float,
    crawl_budget: float,
    work: str,
    factory_config: dict,
) -> list[dict]:
    """The same page (an empty bench store's home, the same bytes in every store) of a random store
    per request (a wrk script picks the slug) among ``counts[0]`` stores and among ``counts[-1]``,
    each beside A-page; the row "N vs M" is the ratio of the two ratios to A-page (:data:`TARGETS`
    ``stores``).

    Each count gets its own server, set up the same way in turn: the stores made
    (:func:`http_setup.provision_stores`, within ``budget`` seconds in all), then a fresh server
    (its workers load every store's row once, as a server started on such a platform does, and
    keep pages ``STORES_PAGE_SECONDS``), then every store's home asked once
    (:func:`warm_every_store`, at most ``crawl_budget`` seconds), so that every side measures warm
    caches. A server stays up while the next count's stores are made (the stores added later are
    unknown to it: it was started on the smaller platform, and its wrk script never names them).
    Then the rounds alternate every server with A-page (``count, A-page, count, A-page`` …, the
    order reversed every other round), so that the ratios are measured under the same load: on
    these shared machines A-page alone moved 2–7× between phases measured one after the other."""
    deadline = time.monotonic() + budget
    factory = "mallow.app:create_app(" + repr(dict(factory_config, MALLOW_EDGE_CACHE_SECONDS=STORES_PAGE_SECONDS)) + ")"
    phases, names = [], []
    try:
        for count in counts:
            started, steps = time.monotonic(), setup.Steps()
            slugs = setup.provision_stores(app, count, "demo", deadline, echo=say, steps=steps)
            made = time.monotonic() - started
            paths = [f"/s/{slug}/" for slug in slugs]
            name = f"mallow-stores-{len(slugs)}"
            if name in names:  # the budget ran out: no more stores than the last phase had
                continue
            names.append(name)
            url = servers.start(name, factory, env, ROOT, paths[0])
            serving = time.monotonic() - started - made
            warm = warm_every_store(url, paths, crawl_budget)
            setup_s = time.monotonic() - started
            say(
                f"  {len(slugs):,} bench stores: made in {made:.1f} s ({steps}), server up in {serving:.1f} s, every "
                f"home asked once in {warm['seconds']:.1f} s ({warm['crawled']:,} asked, {warm['kept_before']:,} "
                f"already kept); then {warm['sample_hits']}/{warm['sample']} random homes came from the kept pages; "
                f"setup {setup_s:.0f} s in all"
            )
            notes = [
                f"setup {setup_s:.0f} s (stores {made:.0f} s: {steps}; server {serving:.0f} s, warming "
                f"{warm['seconds']:.0f} s), {warm['sample_hits']}/{warm['sample']} sampled homes kept"
            ]
            if len(slugs) != count:
                notes.append(f"only {len(slugs):,} of {count:,} stores made within the budget")
            if warm["crawled"] != len(slugs):
                notes.append(f"only {warm['crawled']:,} homes warmed within {crawl_budget:.0f} s")
            script = lua.random_paths(work, f"stores-{len(slugs)}.lua", paths)
            phases.append(dict(url=url, script=script, stores=len(slugs), notes=notes, warm=warm, ours=[], theirs=[]))
        for phase in phases:  # every worker meets every store about four times before the rounds
            phase["notes"].append(warm_up(phase["url"] + "/", phase["stores"], phase["script"]))
        for n in range(rounds):
            for phase in phases if n % 2 == 0 else phases[::-1]:
                ours, theirs = wrk(phase["url"] + "/", seconds, phase["script"]), wrk(bare + "/page", seconds)
                phase["ours"].append(ours), phase["theirs"].append(theirs)
                say(
                    f"  round {n + 1}/{rounds} random store of {phase['stores']:,}: {ours['rps']:.0f} req/s · "
                    f"A-page {theirs['rps']:.0f}"
                )
    finally:
        for name in names:
            servers.stop(name)
    rows = [
        row(
            f"home of a random store among {phase['stores']:,}",
            "/s/bench-NNNNN/",
            phase["ours"],
            phase["theirs"],
            "A-page",
            None,
            note="; ".join(phase["notes"]),
            stores=phase["stores"],
            warm=phase["warm"],
        )
        for phase in phases
    ]
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        rows.append(
            dict(
                last,
                name=f"random store: {last['stores']:,} vs {first['stores']:,} stores",
                baseline=f"{first['stores']:,} stores (each ÷ A-page)",
                base_rps=first["rps"],
                base_p99=first["p99"],
                ratio=last["ratio"] / first["ratio"] if first["ratio"] else float("nan"),
                ratios=[],
                key="stores",
                note="(req/s ÷ A-page at the larger count) ÷ (req/s ÷ A-page at the smaller count), alternated",
            )
        )
    return rows

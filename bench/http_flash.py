"""The flash sale measured with admission at the front door (issue 13): a buy attempt is admitted
before Flask (202 and a ticket) while units last, and the order is made behind the door by the
``flashsale.drain`` job, which an rq worker (``mallow worker``, the README's command) runs for the
whole run. 202 answers are the attempts while stock lasts; the books are settled (the drain catches up)
before they are judged: exactly ``units`` sold, and no more than ``units`` admitted (202) or placed
(201, an attempt the door sent on to the route). Without Redis there is no door and no worker:
the attempts are synchronous 201s as before.

The worker runs niced (``nice -n 10``), as docs/operations.md tells operators to run it during a
sale: the web workers answering the crowd come first on shared cores, the drain catches up in
between. A sale of :data:`DEFAULT_UNITS` units keeps a round's "while stock lasts" window a few
seconds long: the window starts with wrk's first request, so the crowd's first moments (32
connections opening, each web worker meeting the new sale) weigh on a short one (500 units sold
out in ~0.5 s and the figure swung 0.36–0.65× between rounds; 4,000 sold out in 1.1–1.4 s once
admission got faster, and read 0.78–0.86× where 10,000 in 2.5–2.9 s read 0.84–0.97×, the drain
after). The books are given time to settle in proportion to the units (:func:`settle_seconds`)."""

from __future__ import annotations

import os
import shutil
import subprocess

import http_lua as lua
import http_setup as setup
from common import ROOT, settle
from http_scenarios import row, unexpected
from http_tools import VENV_BIN, say, wrk, wrk_until


#: units per sale (and shoppers) the bench should default to: at ~3,000–4,000 admitted attempts a
#: second a round sells out in a few seconds, not one (``bench/http.py --flash-units``)
DEFAULT_UNITS = 10_000
#: the worker's niceness during the sale, as docs/operations.md runs it (``nice -n 10 mallow worker``)
WORKER_NICE = 10
#: the slowest drain the books wait for (orders a second, a busy 2-core machine), before "still moving"
SLOWEST_DRAIN = 25.0


def settle_seconds(units: int) -> float:
    """How long the books may take to settle after a round's attempts: at least a minute, longer
    for a big sale (the drain makes every admitted ticket into an order behind the door)."""
    return max(60.0, units / SLOWEST_DRAIN)


#: ``mallow worker`` with the server's own factory settings (the flash sale's Redis prefix of this
#: run): the CLI's ``create_app()`` reads only the environment
WORKER = """
import ast, sys
from flask.cli import ScriptInfo
from mallow.app import create_app
from mallow.cli import main
app = create_app(ast.literal_eval(sys.argv[1]))
main.main(args=["worker"], obj=ScriptInfo(create_app=lambda: app))
"""


def _worker(env: dict, factory_config: dict, logs: str) -> subprocess.Popen | None:
    """The demo's rq worker (needs REDIS_URL), niced as the operations guide runs it during a sale
    (:data:`WORKER_NICE`), its output in the run's logs."""
    if not env.get("REDIS_URL"):
        return None
    out = open(os.path.join(logs, "worker.log"), "ab")
    command = [*worker_nice(), os.path.join(VENV_BIN, "python"), "-c", WORKER, repr(factory_config)]
    return subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=out)


def worker_nice() -> list[str]:
    """``nice -n 10`` before the worker's command (nothing where there is no ``nice``)."""
    found = shutil.which("nice")
    return [found, "-n", str(WORKER_NICE)] if found else []


def stop_worker(worker: subprocess.Popen) -> None:
    """rq's first SIGTERM is a warm shutdown (a drain job may work on for up to a minute); the
    bench is over, so a worker still running after 10 s is killed."""
    worker.terminate()
    try:
        worker.wait(10)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait(10)


def measure_flash(
    demo,
    app,
    bare: str,
    env: dict,
    factory_config: dict,
    units: int,
    rounds: int,
    seconds: float,
    redis: bool,
    drain: str = "beside",
) -> list[dict]:
    """The flash sale's attempts while stock lasts (the front door's 202s, or the route's 201s
    without Redis) and its sold-out path. ``drain``: ``beside`` runs the drain worker for the
    whole run, on the same cores as the servers; ``after`` starts it once each round's attempts
    have stopped (as a worker on a machine of its own leaves the web servers' cores alone)."""
    if not redis:
        return _measure(demo, app, bare, units, rounds, seconds, redis, None)
    if drain == "after":
        return _measure(demo, app, bare, units, rounds, seconds, redis, lambda: _worker(env, factory_config, demo.work))
    worker = _worker(env, factory_config, demo.work)
    try:
        return _measure(demo, app, bare, units, rounds, seconds, redis, None)
    finally:
        if worker is not None:
            stop_worker(worker)


def _measure(demo, app, bare, units, rounds, seconds, redis, late_worker) -> list[dict]:
    say(f"  flash sale (front-door admission): {units} shoppers with tokens and addresses …")
    shoppers = setup.make_shoppers(app, "demo", units)
    sku = demo.flash_sku["id"]
    bodies = [(token, {"sku_id": sku, "quantity": 1, "address_id": address}) for token, address in shoppers]
    hello, new_buyers = bare + "/hello", lua.new_buyers(demo.work)
    selling, soldout, flash_base, hello_base, wrong = [], [], [], [], []
    for n in range(rounds + 1):  # round 0 warms up (and is not counted)
        sale = demo.new_sale(units)
        script = lua.buyers(demo.work, f"/s/demo/api/x/flashsale/sales/{sale}/buy", bodies)
        ours, sold_out = wrk_until(demo.url, script, "BENCH-SOLDOUT", max(60.0, seconds * 10))
        stats = ours["stats"]
        # the drain makes the admitted tickets into orders behind the door: wait for the books
        counts = stats.get("counts", {})
        admitted = counts.get("202", 0) + counts.get("201", 0)
        worker = late_worker() if late_worker else None
        try:
            sold, reads, waited, settled, first = settle(
                lambda sale=sale: demo.sold(sale), quiet=1.0, at_most=settle_seconds(units), until=min(admitted, units)
            )
        finally:
            if worker is not None:
                stop_worker(worker)
        ours["rps"] = stats["before"] / stats["window"] if sold_out and stats.get("window") else float("nan")
        ours["bad"] = unexpected(stats, "201", "202", "409")
        if not sold_out or not settled or sold != units or admitted > units:
            message = (
                f"WRONG: flash sale {sale}: {sold} sold in the books ({'settled' if settled else 'still moving'} "
                f"after {reads} reads, {waited:.1f} s), {admitted} admitted (202/201), of {units} "
                f"units ({'sold out' if sold_out else 'never sold out'}); answers {counts}"
            )
            say("!" * 100 + f"\n!!! {message}\n" + "!" * 100)
            wrong.append(message)
        after = wrk(demo.url + f"/s/demo/api/x/flashsale/sales/{sale}/buy", seconds, script)
        after_counts = after["stats"].get("counts", {})
        after["bad"] = unexpected(after["stats"], "409") + after_counts.get("409", 0) - after_counts.get("sold_out", 0)
        base_flash = wrk(bare + "/flash-redis", seconds, new_buyers) if redis else None
        base_hello = wrk(hello, seconds)
        demo.end_sale(sale)
        label = "warm-up" if n == 0 else f"round {n}/{rounds}"
        say(
            f"  {label} flash sale (door): {ours['rps']:.0f} attempts/s while stock lasted "
            f"({stats.get('window', 0):.2f} s), sold {sold}/{units} (books read {reads}×, {waited:.1f} s; "
            f"first read {first}) {counts}; sold out {after['rps']:.0f}/s {after_counts}; "
            f"A-flash-redis {base_flash['rps'] if base_flash else float('nan'):.0f}, A-hello {base_hello['rps']:.0f}"
        )
        if n:
            selling.append(ours), soldout.append(after), hello_base.append(base_hello)
            flash_base.append(base_flash or dict(rps=float("nan"), p99=float("nan")))
    path = "/s/demo/api/x/flashsale/sales/<id>/buy"
    where = "; the drain after the attempts, as on a worker node of its own" if late_worker else ""
    note = "; ".join(wrong) if wrong else f"exactly {units} sold in every round (admitted at the door, drained{where})"
    return [
        row(
            f"flash-sale attempts while {units} units last",
            path,
            selling,
            flash_base,
            "A-flash-redis" if redis else "A-flash-redis (no Redis)",
            "flash",
            note=note,
            sold_ok=not wrong,
        ),
        row("flash-sale attempt, sold out", path, soldout, hello_base, "A-hello", "soldout"),
    ]

#!/usr/bin/env python
"""Many nodes on one machine (issue 15, item 6): a bounded multi-node load test on loopback, with a
node killed halfway, a report and a plot.

It starts, each in a process group of its own: a Redis server of the run, a fresh PostgreSQL
database on 127.0.0.1:5432, **two app nodes** (``mallow serve --workers N --port A|B``), **two job
workers** (``mallow worker``) and a proxy in front (nginx with an upstream of the two nodes; the
asyncio proxy of bench/cluster_proxy.py when nginx cannot be installed). It seeds the demo store
(``mallow demo``) and more stores (the test kit's sign-up and approval, the demo catalogue, the
flash-sale plugin on), each with a flash sale of limited units and shoppers with tokens. Then a
mixed load (browse 60 %, search 10 %, cart 15 %, order + sandbox payment 8 %, flash-sale attempts
7 %: bench/cluster_load.py) runs through the proxy for ``--seconds``; halfway node A's whole
process group gets SIGKILL, and later it is started again and rejoins.

Checks (printed; the exit status is 1 when one fails): no 5xx and no unanswered request except
those in flight on the killed node at the kill; every answer one its kind gives; every order
answered 200/201 exists exactly once (the retry of a lost order carries the same Idempotency-Key);
the flash sale sold no more than its units and every admitted attempt became an order; every
payment the cashier confirmed is recorded (order paid, one paid payment). Report: throughput and
p50/p95/p99 per kind, errors by kind and cause, the kill window; a PNG (answers/s and p99 per
second, the kill marked) and the figures as JSON.

    .venv/bin/python bench/cluster.py                       # 120 s
    .venv/bin/python bench/cluster.py --seconds 8 --out /tmp/cluster   # a smoke run
    .venv/bin/python bench/cluster.py --plot docs/screenshots/cluster-load.png

Loopback only; the load is bounded in time; every process started is stopped and the scratch
database dropped, whatever happens.
"""

from __future__ import annotations

import common  # noqa: F401 -- first: moves bench/ to the end of sys.path (bench/http.py would hide the stdlib's http)

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import cluster_load as load_mod
import cluster_plot
import cluster_seed as seed
from cluster_nodes import Node, Proxy, ensure_nginx, say, start_redis, start_worker, wait_for
from common import ROOT, create_database, dispose_app, drop_database


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="the load's duration (default 120)")
    parser.add_argument("--threads", type=int, default=24, help="virtual shoppers (threads)")
    parser.add_argument("--stores", type=int, default=3, help="stores: the demo store and N-1 more")
    parser.add_argument("--shoppers", type=int, default=24, help="shoppers with tokens per store")
    parser.add_argument(
        "--flash-units",
        type=int,
        default=16,
        help="units of each store's flash sale (fewer than --shoppers: it sells out)",
    )
    parser.add_argument("--node-workers", type=int, default=2, help="gunicorn workers per app node")
    parser.add_argument("--proxy", choices=("auto", "nginx", "python"), default="auto")
    parser.add_argument(
        "--pods",
        type=int,
        choices=(1, 2),
        default=2,
        help="2: every other store on a second PostgreSQL cluster (127.0.0.1:5433, `mallow pod add`), when there is one",
    )
    parser.add_argument("--no-kill", action="store_true", help="no node killed")
    parser.add_argument("--no-restart", action="store_true", help="the killed node stays down")
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "results"), help="folder of the report files")
    parser.add_argument("--plot", help="the PNG (default OUT/cluster-load.png)")
    parser.add_argument("--json", help="the figures (default OUT/cluster-load.json)")
    parser.add_argument("--keep", action="store_true", help="keep the run's folder (logs, nginx access log)")
    args = parser.parse_args(argv)
    if not (4 <= args.seconds <= 600 and 1 <= args.threads <= 200 and 1 <= args.stores <= 20):
        parser.error("--seconds 4..600, --threads 1..200, --stores 1..20 (bounded load)")
    if not (2 <= args.shoppers <= 2000 and 1 <= args.flash_units <= 10_000 and 1 <= args.node_workers <= 8):
        parser.error("--shoppers 2..2000, --flash-units 1..10000, --node-workers 1..8")
    args.plot = args.plot or os.path.join(args.out, "cluster-load.png")
    args.json = args.json or os.path.join(args.out, "cluster-load.json")
    return args


def mallow(env: dict, *args: str) -> str:
    command = [os.path.join(os.path.dirname(sys.executable), "mallow"), *args]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"mallow {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return done.stdout


#: the second PostgreSQL cluster (scripts/test makes it: pg_createcluster … pod2, port 5433)
POD2_ADMIN = os.environ.get("MALLOW_BENCH_POSTGRES_POD2", "postgresql+psycopg://postgres@127.0.0.1:5433/postgres")


def pods_available(env: dict) -> bool:
    """Whether this Mallow has database pods (``mallow pod``): then every other store goes to a second one."""
    command = [os.path.join(os.path.dirname(sys.executable), "mallow"), "pod", "--help"]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    return done.returncode == 0


def second_cluster_database(name: str) -> str | None:
    """A fresh database ``name`` on the second PostgreSQL cluster (``POD2_ADMIN``); None when it does not answer."""
    import sqlalchemy as sa

    admin = sa.create_engine(POD2_ADMIN, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as c:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError:
        return None
    finally:
        admin.dispose()
    return POD2_ADMIN.rsplit("/", 1)[0] + "/" + name


def drop_second_cluster_database(name: str) -> None:
    import sqlalchemy as sa

    admin = sa.create_engine(POD2_ADMIN, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as c:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


class Run:
    """Everything one run starts, stopped in :meth:`close` whatever happened."""

    def __init__(self, args):
        self.args = args
        self.work = tempfile.mkdtemp(prefix="mallow-bench-cluster-")
        os.chmod(self.work, 0o755)  # nginx's workers (nobody) make their temporary folders here
        self.scratch = f"mallow_bench_cluster_{os.getpid()}"
        self.groups: list = []
        self.app = None
        self.database = False
        self.pod2: str | None = None  # the scratch database on the second cluster, when made

    def close(self) -> None:
        started = time.monotonic()
        for group in self.groups:  # every one told at once, then each waited for (10 s at most in all)
            group.terminate()
        deadline = time.monotonic() + 10
        for group in self.groups:
            try:
                group.reap(deadline)
            except Exception as error:  # noqa: BLE001 -- keep stopping the others
                say(f"  could not stop {group.name}: {error}")
        dispose_app(self.app)
        if self.database:
            drop_database(self.scratch)
        if self.pod2:
            drop_second_cluster_database(self.pod2)
        say(
            f"bench/cluster.py: every process stopped and the scratch databases dropped in {time.monotonic() - started:.1f} s"
        )
        if self.args.keep:
            say(f"bench/cluster.py: the run's folder is kept: {self.work}")
        else:
            shutil.rmtree(self.work, ignore_errors=True)


def set_up(run: Run):
    args, work, started = run.args, run.work, time.monotonic()
    redis, redis_url = start_redis(work)
    run.groups.append(redis)
    database_url = create_database(run.scratch)
    run.database = True
    env = dict(
        os.environ,
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        MALLOW_DATA_DIR=os.path.join(work, "data"),  # shared by the nodes, as a network volume would be
        SECRET_KEY="bench-cluster",
        MALLOW_SANDBOX_PAYMENTS="1",
        MALLOW_PROXY_HOPS="1",
        MALLOW_LOGIN_RATE_LIMIT="1000 per minute",
        MALLOW_LOGIN_RATE_LIMIT_IP="100000 per minute",
    )
    say(f"bench/cluster.py: PostgreSQL {run.scratch}, Redis {redis_url}, data {env['MALLOW_DATA_DIR']}")
    mallow(env, "db", "upgrade")
    mallow(env, "demo")
    pod2_url = None
    if args.pods == 2:
        if not pods_available(env):
            say("!!! this Mallow has no `mallow pod`: one pod only (the second pod is a TODO of the report)")
        else:
            name = f"{run.scratch}_pod2"
            pod2_url = second_cluster_database(name)
            if pod2_url is None:
                say(f"!!! the second PostgreSQL cluster ({POD2_ADMIN}) does not answer: one pod only")
            else:
                run.pod2 = name
                mallow(env, "pod", "add", "pod2", pod2_url, "--capacity", "100000")
    say(f"  platform migrated and the demo store seeded: {time.monotonic() - started:.1f} s")
    # the nodes and workers start while the other stores are seeded (they meet new stores as any server does)
    nodes = [Node("node-a", env, work, args.node_workers), Node("node-b", env, work, args.node_workers)]
    for node in nodes:
        node.start()
        run.groups.append(node.group)
    for n in (1, 2):
        run.groups.append(start_worker(f"worker-{n}", env, work))
    import http_setup

    run.app = http_setup.open_app(env)
    from mallow.demo import MERCHANT_EMAIL, PASSWORD
    from mallow.testing import PASSWORD as TEST_KIT_PASSWORD

    slugs = {"demo": (MERCHANT_EMAIL, PASSWORD)}
    for slug in seed.extra_stores(run.app, args.stores - 1, "pod2" if pod2_url else None):
        slugs[slug] = (f"{slug}@example.com", TEST_KIT_PASSWORD)
    placed = seed.pods_of(run.app, list(slugs))
    on_pod2 = sorted(slug for slug, pod in placed.items() if pod != "main")
    if pod2_url:
        pods = f"on two pods (main 127.0.0.1:5432; pod2 127.0.0.1:5433: {', '.join(on_pod2) or 'none'})"
    else:
        pods = "on one pod (127.0.0.1:5432; TODO: a second pod)"
    say(f"  {len(slugs)} stores seeded {pods}: {time.monotonic() - started:.1f} s")
    for node in nodes:
        node.wait_ready()
        say(
            f"  {node.name} on {node.address} ({args.node_workers} gunicorn workers) ready: "
            f"{time.monotonic() - started:.1f} s"
        )
    kind = args.proxy
    nginx = ensure_nginx() if kind in ("auto", "nginx") else None
    if kind == "nginx" and not nginx:
        raise SystemExit("--proxy nginx: nginx cannot be installed here")
    if kind == "auto":
        kind = "nginx" if nginx else "python"
        if kind == "python":
            say(
                "!" * 80
                + "\n!!! nginx cannot be installed: the asyncio proxy of bench/cluster_proxy.py is used\n"
                + "!" * 80
            )
    proxy = Proxy(kind, nodes, work, nginx)
    run.groups.append(proxy.group)
    wait_for(proxy.url + "/healthz", 30, proxy.group)
    stores = seed.prepare_stores(run.app, proxy.url, slugs, args.flash_units, args.shoppers)
    for store in stores:  # every node and worker process meets every store once before the load
        for node in nodes:
            for path in (f"{store.prefix}/", f"{store.prefix}/search?q=%E8%8C%B6"):
                for _ in range(args.node_workers * 2):
                    wait_for(f"http://{node.address}{path}", 30)
    say(f"  stock, flash sales, {args.shoppers} shoppers a store, warm-up: {time.monotonic() - started:.1f} s")
    return env, nodes, proxy, stores, pods


def settle_flash(stores, outcomes) -> dict:
    """Each sale's books once the drain has caught up with what was admitted."""
    settled = {}
    for store in stores:
        counts = outcomes.flash.get(store.slug, {})
        admitted = counts.get("202", 0) + counts.get("201", 0)
        value, reads, seconds, ok, first = common.settle(
            store.sold, quiet=1.0, at_most=60, until=min(admitted, store.units)
        )
        settled[store.slug] = {
            "sold": value,
            "units": store.units,
            "admitted": admitted,
            "settled": ok,
            "seconds": round(seconds, 1),
            "answers": counts,
        }
    return settled


def check(results: list, name: str, ok: bool, detail: str) -> None:
    results.append({"check": name, "ok": bool(ok), "detail": detail})


def checks_of(verdict, outcomes, flash, books, stores, restart, seconds) -> list[dict]:
    results: list[dict] = []
    v = verdict["violations"]
    check(
        results,
        "zero 5xx (and no unanswered request) outside the kill window",
        not v,
        f"{len(v)} outside; {len(verdict['excused'])} in flight on the killed node at the kill (handed to it before "
        f"the proxy knew)"
        + (
            ": "
            + ", ".join(
                f"{r.kind} {r.status or r.cause} at {r.start:.2f}-{r.end:.2f}s via {r.upstream or '-'}" for r in v[:8]
            )
            if v
            else ""
        ),
    )
    u = verdict["unexpected"]
    check(
        results,
        "every answer is one its kind gives",
        not u,
        f"{len(u)} unexpected" + (": " + ", ".join(f"{r.kind} {r.status}" for r in u[:8]) if u else ""),
    )
    duplicates, missing, wrong = [], [], []
    for slug_books in books.values():
        duplicates += [k for k, ids in slug_books["by_key"].items() if len(ids) > 1]
    for key, (slug, order_id) in outcomes.orders.items():
        ids = books[slug]["by_key"].get(key, [])
        if not ids:
            missing.append(key)
        elif ids != [order_id]:
            wrong.append(key)
    placed = sum(len(b["by_key"]) for b in books.values())
    unanswered = placed - len(outcomes.orders)
    check(
        results,
        "every order answered 200/201 exists exactly once",
        not (duplicates or missing or wrong) and 0 <= unanswered <= len(outcomes.lost),
        f"{len(outcomes.orders)} answered, {placed} in the books, {len(duplicates)} keys with two orders, "
        f"{len(missing)} answered but missing, {len(wrong)} with another id; {unanswered} placed whose answer was "
        f"lost for good (of {len(outcomes.lost)} lost twice)",
    )
    lines, ok = [], True
    lost_flash = sum(1 for r in verdict["excused"] if r.kind == "flash")
    for store in stores:
        f = flash[store.slug]
        fine = f["settled"] and f["sold"] <= store.units and f["admitted"] <= store.units
        fine = fine and f["admitted"] <= f["sold"] <= f["admitted"] + lost_flash
        fine = fine and books[store.slug]["flash_orders"] == f["sold"]
        ok = ok and fine
        lines.append(
            f"{store.slug}: sold {f['sold']}/{store.units}, admitted {f['admitted']}, orders {books[store.slug]['flash_orders']}"
            f"{'' if f['settled'] else ' (still moving)'}"
        )
    check(results, "flash sale: sold ≤ units, every admitted attempt an order", ok, "; ".join(lines))
    unpaid = []
    for slug, order_id in outcomes.paid:
        b = books[slug]
        if (
            b["orders"].get(order_id) not in ("paid", "shipped", "delivered", "completed")
            or b["paid_payments"].get(order_id) != 1
        ):
            unpaid.append(order_id)
    check(
        results,
        "every payment the cashier confirmed is recorded",
        not unpaid and bool(outcomes.paid),
        f"{len(outcomes.paid)} confirmed, {len(unpaid)} not paid in the books" + (f": {unpaid[:8]}" if unpaid else ""),
    )
    if restart and restart.get("ready") is not None and restart["ready"] + 6 < seconds:
        check(
            results,
            "the restarted node rejoins",
            restart["answers_after"] > 0,
            f"ready {restart['ready']:.1f} s, {restart['answers_after']} answers from it afterwards",
        )
    return results


def fmt(value: float) -> str:
    return "—" if value != value else f"{value:,.1f}"  # NaN


def report(figures: dict) -> str:
    out = [f"## {figures['title']}", "", figures["subtitle"], ""]
    out.append("| kind | requests | req/s | p50 ms | p95 ms | p99 ms | errors | by cause |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---|")
    for kind, row in figures["kinds"].items():
        causes = ", ".join(f"{k}: {n}" for k, n in row["causes"].items()) or "—"
        out.append(
            f"| {kind} | {row['requests']:,} | {fmt(row['rps'])} | {fmt(row['p50'])} | {fmt(row['p95'])} | "
            f"{fmt(row['p99'])} | {row['errors']} | {causes} |"
        )
    kill = figures["kill"]
    out.append("")
    if kill:
        w = kill["window"]
        out.append(
            f"Kill: node A ({kill['node']}) SIGKILL at {kill['at']:.2f} s; {kill['in_flight']} requests in flight then "
            f"(all nodes). Failed: {kill['failed_in_flight']} ({kill['failed_by_kind']}), all handed to node A before "
            f"the proxy's first failed answer from it at {kill['noticed']:.3f} s "
            f"({(kill['noticed'] - kill['at']) * 1000:.0f} ms after the kill; {kill['failed_before_kill']} of them "
            f"started before the kill); kill window {w[0]:.2f}–{w[1]:.2f} s. Requests the proxy sent on to the other "
            f"node (idempotent, or refused before sending): {figures['retried_by_proxy']}."
        )
        out.append(
            f"Answers per node before the kill {kill['share_before']}, from the kill until node A was back "
            f"{kill['share_after']}."
        )
        if figures.get("restart"):
            r = figures["restart"]
            ready = f"ready at {r['ready']:.1f} s" if r.get("ready") is not None else "not ready before the end"
            out.append(
                f"Restart: node A started again at {r['at']:.1f} s, {ready}, {r['answers_after']} answers from it afterwards."
            )
    for slug, f in figures["flash"].items():
        out.append(f"Flash sale in {slug}: {f['sold']} sold of {f['units']} units; answers {f['answers']}.")
    out.append(
        f"Client: {figures['client']['cpu_cores']:.2f} cores of CPU for the load generator ({figures['client']['threads']} threads); "
        f"load average {figures['loadavg_before']} before, {figures['loadavg_after']} after ({os.cpu_count()} cores)."
    )
    out.append("")
    out.append("| check | ok | detail |")
    out.append("|---|---|---|")
    for c in figures["checks"]:
        out.append(f"| {c['check']} | {'✓' if c['ok'] else '✗ FAILED'} | {c['detail']} |")
    return "\n".join(out)


def main(argv=None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a killed run still stops its processes
    run = Run(args)
    try:
        env, nodes, proxy, stores, pods = set_up(run)
        loadavg_before = [round(x, 2) for x in os.getloadavg()]
        load = load_mod.Load(proxy.port, stores, args.threads, args.seconds)
        say(
            f"bench/cluster.py: {args.seconds:g} s of load, {args.threads} shoppers, {len(stores)} stores, through "
            f"{proxy.description()}"
        )
        cpu0, wall0 = time.process_time(), time.monotonic()
        load.start()
        kill, restart = None, None
        if not args.no_kill:
            time.sleep(max(0.0, args.seconds / 2 - load.now()))
            at = load.now()
            nodes[0].group.kill()
            kill = {"at": at, "node": nodes[0].address}
            say(f"  {at:.2f} s: node A ({nodes[0].address}) killed (SIGKILL to its process group)")
            if not args.no_restart:
                time.sleep(max(0.0, args.seconds * 3 / 4 - load.now()))
                restart = {"at": load.now(), "ready": None}
                nodes[0].start()
                run.groups.append(nodes[0].group)
                try:
                    nodes[0].wait_ready(max(1.0, args.seconds - load.now()))
                    restart["ready"] = load.now()
                    say(f"  {restart['ready']:.2f} s: node A answers again")
                except SystemExit:
                    say("  node A was not ready again before the load ended")
        records = load.join()
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
        loadavg_after = [round(x, 2) for x in os.getloadavg()]
        say(f"  {len(records):,} requests; settling the flash sales' books …")
        settling = time.monotonic()
        flash = settle_flash(stores, load.outcomes)
        books = {store.slug: seed.books(run.app, store) for store in stores}
        say(f"  books read in {time.monotonic() - settling:.1f} s")
        verdict = load_mod.judge(records, kill["at"] if kill else None, kill["node"] if kill else None)
        names = {"A": nodes[0].address, "B": nodes[1].address}
        if restart is not None:
            since = restart["ready"] if restart["ready"] is not None else args.seconds
            restart["answers_after"] = load_mod.node_share(records, names, since)["A"]
        if kill:
            kill["window"] = verdict["window"]
            kill["in_flight"] = verdict["in_flight_at_kill"]
            kill["failed_in_flight"] = len(verdict["excused"])
            kill["failed_before_kill"] = verdict["excused_started_before_kill"]
            kill["noticed"] = verdict["noticed"]
            kill["failed_by_kind"] = load_mod._count(r.kind for r in verdict["excused"])
            kill["share_before"] = load_mod.node_share([r for r in records if r.end < kill["at"]], names)
            back = restart["ready"] if restart and restart["ready"] is not None else float("inf")
            kill["share_after"] = load_mod.node_share([r for r in records if r.start < back], names, kill["at"])
        results = checks_of(verdict, load.outcomes, flash, books, stores, restart, args.seconds)
        title = (
            f"bench/cluster.py — 2 app nodes × {args.node_workers} gunicorn workers, 2 job workers, {proxy.kind} proxy"
        )
        subtitle = (
            f"{args.seconds:g} s, {args.threads} shoppers, {len(stores)} stores {pods}, Redis; "
            f"{len(records):,} requests, {len(records) / args.seconds:,.0f} req/s; "
            f"load avg {loadavg_before[0]}→{loadavg_after[0]} on {os.cpu_count()} cores"
        )
        buckets = load_mod.timeline(records, args.seconds)
        figures = {
            "title": title,
            "subtitle": subtitle,
            "at": time.strftime("%Y-%m-%d %H:%M:%S"),
            "seconds": args.seconds,
            "threads": args.threads,
            "stores": [s.as_json() for s in stores],
            "proxy": proxy.description(),
            "pods": pods,
            "kinds": load_mod.by_kind(records, args.seconds),
            "kill": kill,
            "restart": restart,
            "retried_by_proxy": verdict["retried_by_proxy"],
            "excused": [vars_of(r) for r in verdict["excused"]],
            "violations": [vars_of(r) for r in verdict["violations"]],
            "flash": flash,
            "orders": {
                "answered": len(load.outcomes.orders),
                "paid": len(load.outcomes.paid),
                "lost": len(load.outcomes.lost),
            },
            "client": {"cpu_seconds": round(cpu, 2), "cpu_cores": cpu / wall if wall else 0.0, "threads": args.threads},
            "loadavg_before": loadavg_before,
            "loadavg_after": loadavg_after,
            "timeline": buckets,
            "checks": results,
        }
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(figures, f, ensure_ascii=False, indent=1, default=str)
        os.makedirs(os.path.dirname(os.path.abspath(args.plot)), exist_ok=True)
        events = {
            "kill": kill and kill["at"],
            "window": kill and kill["window"],
            "restart": restart and restart["at"],
            "rejoined": restart and restart["ready"],
            "failed": len(verdict["excused"]) if kill else None,
        }
        cluster_plot.draw(args.plot, buckets, args.seconds, title, subtitle, events)
        print(report(figures))
        print(f"\nplot: {args.plot}\nfigures: {args.json}")
        failed = [c for c in results if not c["ok"]]
        if failed:
            say("!" * 80 + "\n!!! FAILED: " + "; ".join(c["check"] for c in failed) + "\n" + "!" * 80)
        return 1 if failed else 0
    finally:
        run.close()


def vars_of(record) -> dict:
    return {
        "kind": record.kind,
        "start": round(record.start, 3),
        "end": round(record.end, 3),
        "status": record.status,
        "cause": record.cause,
        "upstream": record.upstream,
        "retry": record.retry,
    }


if __name__ == "__main__":
    sys.exit(main())

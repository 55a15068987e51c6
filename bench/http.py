#!/usr/bin/env python
"""HTTP bench: Mallow's storefront and API hot paths under gunicorn, driven by wrk, beside the bare
baseline apps of shared/briefs/performance.md served the same way in the same run (ratio).

Mallow runs the demo store (``mallow db upgrade`` + ``mallow demo``: three categories, a dozen
products, the group-buy, flash-sale and distribution plugins on) in a fresh data dir, under gunicorn
with 4 sync workers on 127.0.0.1; the bare apps (bench/http_baselines.py) get the same worker count.
Each path and its baseline are measured alternately (``wrk -t1 -c32 -d<seconds>s --latency``) for
``--rounds`` rounds after a warm-up; the table shows medians. Every server started is stopped
(process groups), whatever happens. Loopback only; every load is bounded in time.

    .venv/bin/python bench/http.py                          # SQLite, 3 rounds x 5 s
    .venv/bin/python bench/http.py --backend postgresql     # scratch database + Redis, dropped after
    .venv/bin/python bench/http.py --rounds 1 --seconds 3   # a quick look

wrk is installed with apt-get when missing and running as root (as scripts/test does for chromium),
gunicorn with pip into this virtualenv (the ``bench`` extra of pyproject.toml).
"""

from __future__ import annotations

import os
import sys

# This file is called http.py: as a script, its folder comes first on sys.path and would hide the
# standard library's ``http`` package from everything imported below. Put the folder last instead.
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != HERE] + [HERE]

import argparse  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402

import sqlalchemy as sa  # noqa: E402
from common import PG_ADMIN  # noqa: E402
from http_baselines import prepare  # noqa: E402

ROOT = os.path.dirname(HERE)
VENV_BIN = os.path.dirname(sys.executable)
WORKERS = 4

#: baseline name → (path on the bare app, description)
BASELINES = {"A-hello": "/hello", "A-page": "/page", "A-dbjson": "/dbjson"}


def ensure_tools() -> None:
    """wrk via apt-get (root only, when absent) and gunicorn via pip into this virtualenv."""
    if not shutil.which("wrk"):
        if os.geteuid() == 0 and shutil.which("apt-get"):
            print("bench/http.py: installing wrk with apt-get", file=sys.stderr)
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            subprocess.run(["apt-get", "update", "-qq"], env=env, check=False, capture_output=True)
            subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], env=env, check=False, capture_output=True)
        if not shutil.which("wrk"):
            raise SystemExit("bench/http.py needs wrk (apt-get install wrk)")
    if not os.path.exists(os.path.join(VENV_BIN, "gunicorn")):
        print("bench/http.py: installing gunicorn with pip", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "gunicorn>=22"], check=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Servers:
    """The gunicorn processes this run started; :meth:`stop` ends each one's process group."""

    def __init__(self, logs: str):
        self.logs, self.running = logs, []

    def start(self, name: str, app: str, env: dict, cwd: str) -> str:
        port = free_port()
        log = open(os.path.join(self.logs, f"{name}.log"), "w")  # noqa: SIM115 (closed with the process)
        command = [os.path.join(VENV_BIN, "gunicorn"), "-w", str(WORKERS), "-k", "sync", "-b", f"127.0.0.1:{port}"]
        process = subprocess.Popen(
            [*command, app], cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.running.append((name, process, log))
        return f"http://127.0.0.1:{port}"

    def log_tail(self, name: str) -> str:
        with open(os.path.join(self.logs, f"{name}.log")) as f:
            return f.read()[-2000:]

    def stop(self) -> None:
        for _name, process, _log in self.running:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for _name, process, log in self.running:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
            log.close()
        self.running = []


def wait_ready(servers: Servers, name: str, url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"{name} did not answer {url} within {seconds:.0f} s:\n{servers.log_tail(name)}")


def call(url: str, method: str = "GET", body: dict | None = None, headers: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def mallow(env: dict, *args: str) -> None:
    done = subprocess.run([os.path.join(VENV_BIN, "mallow"), *args], env=env, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"mallow {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


def scratch_database(name: str) -> str:
    """A fresh PostgreSQL database on 127.0.0.1 (dropped by :func:`drop_database`); returns its URL."""
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


def drop_database(name: str) -> None:
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def demo_paths(base: str, work: str) -> list[dict]:
    """The measured paths of the demo store, with the ids looked up through its API; each with its
    baseline and the target of the brief/issue 13 ("—": none stated for that path)."""
    store = f"{base}/s/demo"
    products = call(f"{store}/api/products")["items"]
    product = products[0]["id"]
    sku = call(f"{store}/api/products/{product}")["skus"][0]["id"]
    category = call(f"{store}/api/categories")["items"][0]["id"]
    sales = call(f"{store}/api/x/flashsale/sales")["items"]
    token = call(f"{store}/api/tokens", "POST", {"login": "13800000000", "password": "mallow-demo-2026"})["token"]
    auth = {"Authorization": f"Bearer {token}"}
    call(f"{store}/api/cart/items", "POST", {"sku_id": sku, "quantity": 1}, auth)  # the line the PUT sets
    cart = os.path.join(work, "cart.lua")
    with open(cart, "w") as f:  # wrk sends the same PUT each time: the cart line set to 1 (one write)
        f.write(
            'wrk.method = "PUT"\nwrk.body = \'{"quantity": 1}\'\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
            f'wrk.headers["Authorization"] = "Bearer {token}"\n'
        )
    paths = [
        dict(name="home", path="/s/demo/", baseline="A-page", target="≥ 1.0× (warm)"),
        dict(name="product page", path=f"/s/demo/products/{product}", baseline="A-page", target="≥ 1.0× (warm)"),
        dict(name="category list", path=f"/s/demo/category/{category}", baseline="A-page", target="—"),
        dict(name="search", path="/s/demo/search?q=%E6%A0%B8%E6%A1%83", baseline="A-page", target="—"),
        dict(name="API product list", path="/s/demo/api/products", baseline="A-dbjson", target="≥ 0.6×"),
        dict(name="API product", path=f"/s/demo/api/products/{product}", baseline="A-dbjson", target="≥ 0.6×"),
        dict(name="cart write (PUT qty)", path=f"/s/demo/api/cart/items/{sku}", baseline="A-dbjson", target="≥ 0.6×"),
    ]
    paths[-1]["script"] = cart
    if sales:
        sale = sales[0]["id"]
        paths.append(
            dict(
                name="flash-sale page",
                path=f"/s/demo/x/flashsale/{sale}",
                baseline="A-hello",
                target="— (sold-out ≥ 0.8×)",
            )
        )
    return paths


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def wrk(url: str, seconds: float, script: str | None = None) -> dict:
    """One wrk run: req/s, p50/p99 in ms, and the count of non-2xx/3xx answers and socket errors."""
    command = ["wrk", "-t1", "-c32", f"-d{seconds:g}s", "--latency", "--timeout", "10s"]
    if script:
        command += ["-s", script]
    out = subprocess.run([*command, url], capture_output=True, text=True, timeout=seconds + 60).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not rate:
        raise SystemExit(f"wrk printed no rate for {url}:\n{out}")

    def percentile(p: str) -> float:
        found = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
        return float(found.group(1)) * UNITS[found.group(2)] if found else float("nan")

    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {
        "rps": float(rate.group(1)),
        "p50": percentile("50"),
        "p99": percentile("99"),
        "bad": int(bad.group(1)) if bad else 0,
        "errors": errors.group(0) if errors else "",
    }


def measure(mallow_url: str, bare_url: str, paths: list[dict], rounds: int, seconds: float) -> list[dict]:
    """Warm every path (render caches, worker imports), then alternate each path with its baseline."""
    for entry in paths:
        wrk(mallow_url + entry["path"], 2, entry.get("script"))
    for path in BASELINES.values():
        wrk(bare_url + path, 2)
    samples = {entry["name"]: ([], []) for entry in paths}
    for n in range(rounds):
        for entry in paths:
            ours = wrk(mallow_url + entry["path"], seconds, entry.get("script"))
            theirs = wrk(bare_url + BASELINES[entry["baseline"]], seconds)
            samples[entry["name"]][0].append(ours)
            samples[entry["name"]][1].append(theirs)
            bad = f" ({ours['bad']} non-2xx)" if ours["bad"] else ""
            print(
                f"  round {n + 1}/{rounds} {entry['name']}: {ours['rps']:.0f} req/s{bad}"
                f" · {entry['baseline']} {theirs['rps']:.0f}",
                file=sys.stderr,
            )
    rows = []
    for entry in paths:
        ours, theirs = samples[entry["name"]]
        median = {key: statistics.median(s[key] for s in ours) for key in ("rps", "p50", "p99")}
        base = statistics.median(s["rps"] for s in theirs)
        rows.append(
            dict(
                entry,
                **median,
                bad=sum(s["bad"] for s in ours),
                base_rps=base,
                base_p99=statistics.median(s["p99"] for s in theirs),
                ratio=median["rps"] / base if base else float("nan"),
            )
        )
    return rows


def print_table(rows: list[dict], title: str) -> None:
    print(f"\n{title}\n")
    print("| path | Mallow req/s | p50 ms | p99 ms | baseline | baseline req/s | baseline p99 ms | ratio | target |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        bad = f" ({r['bad']} non-2xx!)" if r["bad"] else ""
        print(
            f"| {r['name']} `{r['path']}` | {r['rps']:,.0f}{bad} | {r['p50']:.1f} | {r['p99']:.1f} | {r['baseline']} "
            f"| {r['base_rps']:,.0f} | {r['base_p99']:.1f} | {r['ratio']:.2f}× | {r['target']} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--redis", action="store_true", help="use Redis on SQLite too (always on PostgreSQL)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0, help="per wrk run")
    args = parser.parse_args()
    if not (1 <= args.rounds <= 20 and 1 <= args.seconds <= 60):
        raise SystemExit("--rounds 1..20 and --seconds 1..60 (bounded load)")
    ensure_tools()

    work = tempfile.mkdtemp(prefix="mallow-bench-http-")
    scratch = f"mallow_bench_http_{os.getpid()}" if args.backend == "postgresql" else None
    servers = Servers(work)
    try:
        env = dict(os.environ, MALLOW_DATA_DIR=os.path.join(work, "data"), SECRET_KEY="bench")
        env.pop("DATABASE_URL", None)
        env["REDIS_URL"] = args.redis_url if (args.redis or scratch) else ""
        bare_env = dict(os.environ, BARE_DATABASE_URL=f"sqlite:///{os.path.join(work, 'bare.db')}")
        if scratch:
            env["DATABASE_URL"] = scratch_database(scratch)
            bare_env["BARE_DATABASE_URL"] = env["DATABASE_URL"]
        print(f"bench/http.py: {args.backend}, demo store in {env['MALLOW_DATA_DIR']}", file=sys.stderr)
        mallow(env, "db", "upgrade")
        mallow(env, "demo")

        prepare(bare_env["BARE_DATABASE_URL"])
        # the bare app runs from a folder of its own: bench/ on gunicorn's path would hide ``http``
        bare_dir = os.path.join(work, "bare")
        os.mkdir(bare_dir)
        for name in ("http_baselines.py", "common.py"):
            shutil.copy(os.path.join(HERE, name), bare_dir)

        mallow_url = servers.start("mallow", "mallow.app:create_app()", env, ROOT)
        bare_url = servers.start("bare", "http_baselines:create_app()", bare_env, bare_dir)
        wait_ready(servers, "mallow", mallow_url + "/s/demo/")
        wait_ready(servers, "bare", bare_url + "/hello")
        paths = demo_paths(mallow_url, work)
        rows = measure(mallow_url, bare_url, paths, args.rounds, args.seconds)
        redis = "Redis" if env["REDIS_URL"] else "no Redis"
        print_table(
            rows,
            f"bench/http.py — {args.backend} + {redis}, gunicorn {WORKERS} sync workers, wrk -t1 -c32, "
            f"{args.rounds} round(s) × {args.seconds:g} s, medians",
        )
    finally:
        servers.stop()
        if scratch:
            drop_database(scratch)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""What the benches share, once: bench/ moved to the end of ``sys.path`` (importing this module
does it), the scratch PostgreSQL database, Mallow's bench config, the bare baselines' page and
tables, shoppers with tokens and addresses, many stores in bulk, a free port, the bounded
request-rate loops and waiting for a figure to settle.

Every script in bench/ imports this module before anything else (``import common`` first): the
folder holds an ``http.py``, and as a script's folder it comes first on ``sys.path`` and would hide
the standard library's ``http`` package from Flask, urllib and everything else.
"""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def bench_folder_last() -> None:
    """Move bench/ to the end of ``sys.path``: its modules stay importable, but the standard
    library's ``http`` (and anything else of the same name) is found first."""
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != HERE] + [HERE]
    shadow = sys.modules.get("http")
    if shadow is not None and os.path.dirname(os.path.abspath(getattr(shadow, "__file__", "") or "")) == HERE:
        del sys.modules["http"]  # imported from bench/ before this ran: forget it


bench_folder_last()

import socket  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402

import sqlalchemy as sa  # noqa: E402

PG_ADMIN = os.environ.get("MALLOW_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")

#: A-page of shared/briefs/performance.md: a Jinja2 list of 20 products, no Mallow code
BARE_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{{ title }}</title></head><body>
<header><h1>{{ title }}</h1></header><main><ul>{% for p in products %}
<li><a href="/p/{{ p.id }}"><img src="/img/{{ p.id }}.jpg" width="160" height="160" loading="lazy" alt="{{ p.title }}">
<h2>{{ p.title }}</h2><p>¥{{ '%.2f' % (p.price / 100) }}</p></a></li>{% endfor %}</ul></main></body></html>"""
BARE_PRODUCTS = [{"id": i, "title": f"临安山核桃仁 {i}", "price": 1000 + i} for i in range(20)]

#: A-flash-redis: buyer check + decrement + record in one Lua script (KEYS: stock, buyers; ARGV: buyer)
FLASH_LUA = """
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return -1 end
local left = tonumber(redis.call('GET', KEYS[1]) or '0')
if left <= 0 then return 0 end
redis.call('DECR', KEYS[1])
redis.call('SADD', KEYS[2], ARGV[1])
return 1
"""

#: a fast password hash for the bench's own accounts (only their tokens are used afterwards)
FAST_HASH = "pbkdf2:sha256:1000"

ADDRESS = {"recipient": "压测", "phone": "13912345678", "province": "浙江省", "city": "杭州市", "detail": "文三路 1 号"}


# --- the scratch PostgreSQL database ------------------------------------------------------------


def create_database(name: str) -> str:
    """A fresh PostgreSQL database ``name`` on 127.0.0.1 (an older one of that name is dropped
    first); returns its URL. Drop it with :func:`drop_database`."""
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


def drop_database(name: str | None) -> None:
    if not name:
        return
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def dispose_app(app) -> None:
    """Close every connection a Mallow app holds (platform and store engines); None is fine."""
    if app is None:
        return
    from mallow.db import db

    with app.app_context():
        app.extensions["mallow.store_engines"].dispose()
        db.engine.dispose()


def mallow_config(backend: str, name: str) -> tuple[dict, str | None]:
    """``(config, scratch database or None)``: a fresh data dir, and on PostgreSQL a fresh
    scratch database ``mallow_bench_<name>_<pid>`` on 127.0.0.1 (drop it with :func:`drop_scratch`)."""
    config = {
        "MALLOW_DATA_DIR": tempfile.mkdtemp(prefix=f"mallow-bench-{name}-"),
        "SECRET_KEY": "bench",
        "PASSWORD_HASH_METHOD": FAST_HASH,
        "REDIS_URL": "",
        "LOGIN_RATE_LIMIT_IP": "1000000 per minute",
        "TESTING": True,
    }
    if backend != "postgresql":
        return config, None
    scratch = f"mallow_bench_{name}_{os.getpid()}"
    config["DATABASE_URL"] = create_database(scratch)
    return config, scratch


def drop_scratch(app, scratch: str | None) -> None:
    """Close the app's connections (if it got that far) and drop its scratch database (nothing on SQLite)."""
    if not scratch:
        return
    dispose_app(app)
    drop_database(scratch)


# --- the bare baselines' tables -----------------------------------------------------------------


def bare_tables(engine, stock: int) -> None:
    """A-flash-pg's tables on ``engine`` (made afresh): one hot stock row holding ``stock`` and
    the orders it takes (``buyer``, ``total``)."""
    serial = "SERIAL" if engine.dialect.name == "postgresql" else "INTEGER"
    with engine.begin() as c:
        c.exec_driver_sql("DROP TABLE IF EXISTS bare_orders")
        c.exec_driver_sql("DROP TABLE IF EXISTS bare_stock")
        c.exec_driver_sql("CREATE TABLE bare_stock (id INTEGER PRIMARY KEY, stock INTEGER NOT NULL)")
        c.exec_driver_sql(f"INSERT INTO bare_stock VALUES (1, {int(stock)})")
        c.exec_driver_sql(f"CREATE TABLE bare_orders (id {serial} PRIMARY KEY, buyer INTEGER, total INTEGER)")


# --- people and stores made through Mallow's services -------------------------------------------


def make_shoppers(app, store_id: int, count: int, commit_every: int = 200) -> list[tuple[str, int]]:
    """``count`` new shoppers of store ``store_id``, each with a bearer token and a delivery
    address: ``[(token, address_id)]``."""
    from mallow.accounts import customers, sessions
    from mallow.db import db
    from mallow.orders import addresses
    from mallow.tenants.context import store_context

    made = []
    with store_context(store_id, app=app):
        for n in range(count):
            customer = customers.register(
                {
                    "login": f"bench-{uuid.uuid4().hex[:12]}@example.com",
                    "password": "bench-1234",
                    "privacy_consent": True,
                }
            )
            token = sessions.issue(customer, "token")
            made.append((token, addresses.create(customer.id, dict(ADDRESS)).id))
            if n % commit_every == commit_every - 1:
                db.session.commit()
        db.session.commit()
    return made


def store_ddl(app) -> list[str]:
    """The statements ``provision_store`` sends for a new schema (pool off) as text naming
    ``store_{id}`` (PostgreSQL), the version stamp as a literal insert; captured once by making
    (and dropping) a scratch store."""
    from mallow.db.migrate import head
    from mallow.tenants.provisioning import drop_store, provision_store

    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if not parameters and not statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    store_id = 999_999_999
    with app.app_context():
        size, app.config["MALLOW_STORE_POOL_SIZE"] = app.config["MALLOW_STORE_POOL_SIZE"], 0
        sa.event.listen(sa.engine.Engine, "before_cursor_execute", record)
        try:
            provision_store(store_id)
        finally:
            sa.event.remove(sa.engine.Engine, "before_cursor_execute", record)
            app.config["MALLOW_STORE_POOL_SIZE"] = size
        drop_store(store_id)
        stamp = f"INSERT INTO store_{store_id}.alembic_version (version_num) VALUES ('{head('store')}')"
    ddl = [s for s in statements if s.strip().upper() not in ("BEGIN", "COMMIT", "ROLLBACK")]
    if not any("INSERT INTO" in s and "alembic_version" in s for s in ddl):
        ddl.append(stamp)  # Alembic sent it with parameters
    return [s.replace(f"store_{store_id}", "store_{id}") for s in ddl]


#: what ``owner_seed`` writes into a new store's schema
OWNER_SQL = "INSERT INTO store_{id}.staff (merchant_id, role, active, created_at) VALUES ({m}, 'owner', true, now())"


def replay_schemas(
    engine, ddl: list[str], owners: list[tuple[int, int]], per_transaction: int = 5, connections: int = 2
):
    """PostgreSQL: the schemas of ``owners`` (``(store_id, owner merchant_id)``) made by replaying
    :func:`store_ddl` plus the owner's staff row (what ``owner_seed`` writes), ``per_transaction``
    stores to a transaction (more runs out of the lock table) on ``connections`` connections;
    the engine is disposed after (those connections touched every new schema)."""

    script = ";\n".join(ddl)

    def make(chunk):
        with engine.begin() as connection:
            cursor = connection.connection.dbapi_connection.cursor()
            for store_id, merchant_id in chunk:  # one round trip per store (no parameters: simple protocol)
                owner = OWNER_SQL.replace("{m}", str(int(merchant_id)))
                cursor.execute(f"{script};\n{owner}".replace("store_{id}", f"store_{store_id}"))
            cursor.close()

    chunks = [owners[i : i + per_transaction] for i in range(0, len(owners), per_transaction)]
    with ThreadPoolExecutor(connections) as pool:
        list(pool.map(make, chunks))
    engine.dispose()


def copy_store_file(app, template_id: int, store_ids: list[int]) -> None:
    """SQLite: store ``template_id``'s file (checkpointed first: its pages out of the WAL) copied
    as the file of every store of ``store_ids`` — the same tables, revision and rows (the owner as
    staff: the bench's stores share their owner). Each copy is finished under a temporary name
    and then renamed into place, so no engine ever opens half a file."""
    import shutil
    import sqlite3
    from contextlib import closing

    engines = app.extensions["mallow.store_engines"]
    engines.forget(template_id)  # its pooled connections closed: nothing half-written in the WAL
    template = engines.sqlite_path(template_id)
    with closing(sqlite3.connect(template)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for store_id in store_ids:
        target = engines.sqlite_path(store_id)
        building = target.with_name(f"{target.name}.building")
        shutil.copyfile(template, building)
        os.rename(building, target)


# --- servers and loops --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def per_second(call: Callable[[], object], seconds: float, limit: int) -> float:
    """Calls per second of ``call`` for up to ``seconds`` or ``limit`` calls."""
    done, started = 0, time.perf_counter()
    while done < limit and time.perf_counter() - started < seconds:
        call()
        done += 1
    return done / (time.perf_counter() - started)


def rate(
    client, method: str, path: str, seconds: float, max_requests: int, check: str | None = None, **kwargs
) -> float:
    """Requests per second for up to ``seconds`` / ``max_requests``; every answer must be 2xx
    (and the first must contain ``check``, when given)."""
    first = [True]

    def one():
        response = client.open(path, method=method, **kwargs)
        if response.status_code >= 300 or (check and first[0] and check not in response.get_data(as_text=True)):
            raise SystemExit(
                f"{method} {path} answered {response.status_code}: {response.get_data(as_text=True)[:300]}"
            )
        first[0] = False

    return per_second(one, seconds, max_requests)


def settle(
    read: Callable[[], int], quiet: float = 0.5, at_most: float = 10.0, every: float = 0.05, until: int | None = None
):
    """Read a figure (units sold, say) until it has not changed for ``quiet`` seconds (and has
    reached ``until``, when given: work queued behind the answers, such as a drain, may start late),
    or ``at_most`` seconds have passed: ``(last value, reads, seconds, settled, first value)``.
    Orders still committing when the load stopped are counted this way, not missed."""
    started = time.monotonic()
    value, reads = read(), 1
    first, changed = value, started
    while True:
        now = time.monotonic()
        if now - changed >= quiet and (until is None or value >= until):
            return value, reads, now - started, True, first
        if now - started >= at_most:
            return value, reads, now - started, False, first
        time.sleep(every)
        current, reads = read(), reads + 1
        if current != value:
            value, changed = current, time.monotonic()

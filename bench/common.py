"""What the in-process benches share: the scratch PostgreSQL database, Mallow's bench config, the
bare product page of the performance brief, and the bounded request-rate loop."""

from __future__ import annotations

import os
import tempfile
import time

import sqlalchemy as sa

PG_ADMIN = os.environ.get("MALLOW_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")

#: A-page of shared/briefs/performance.md: a Jinja2 list of 20 products, no Mallow code
BARE_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{{ title }}</title></head><body>
<header><h1>{{ title }}</h1></header><main><ul>{% for p in products %}
<li><a href="/p/{{ p.id }}"><img src="/img/{{ p.id }}.jpg" width="160" height="160" loading="lazy" alt="{{ p.title }}">
<h2>{{ p.title }}</h2><p>¥{{ '%.2f' % (p.price / 100) }}</p></a></li>{% endfor %}</ul></main></body></html>"""
BARE_PRODUCTS = [{"id": i, "title": f"临安山核桃仁 {i}", "price": 1000 + i} for i in range(20)]


def mallow_config(backend: str, name: str) -> tuple[dict, str | None]:
    """``(config, scratch database or None)``: a fresh data dir, and on PostgreSQL a fresh
    scratch database ``mallow_bench_<name>_<pid>`` on 127.0.0.1 (drop it with :func:`drop_scratch`)."""
    config = {
        "MALLOW_DATA_DIR": tempfile.mkdtemp(prefix=f"mallow-bench-{name}-"),
        "SECRET_KEY": "bench",
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "REDIS_URL": "",
        "LOGIN_RATE_LIMIT_IP": "1000000 per minute",
        "TESTING": True,
    }
    if backend != "postgresql":
        return config, None
    scratch = f"mallow_bench_{name}_{os.getpid()}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
        c.exec_driver_sql(f'CREATE DATABASE "{scratch}"')
    admin.dispose()
    config["DATABASE_URL"] = PG_ADMIN.rsplit("/", 1)[0] + "/" + scratch
    return config, scratch


def drop_scratch(app, scratch: str | None) -> None:
    """Close the app's connections (if it got that far) and drop its scratch database (nothing on SQLite)."""
    if not scratch:
        return
    if app is not None:
        from mallow.db import db

        with app.app_context():
            app.extensions["mallow.store_engines"].dispose()
            db.engine.dispose()
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
    admin.dispose()


def rate(
    client, method: str, path: str, seconds: float, max_requests: int, check: str | None = None, **kwargs
) -> float:
    """Requests per second for up to ``seconds`` / ``max_requests``; every answer must be 2xx
    (and the first must contain ``check``, when given)."""
    done, started = 0, time.perf_counter()
    while done < max_requests and time.perf_counter() - started < seconds:
        response = client.open(path, method=method, **kwargs)
        if response.status_code >= 300 or (check and done == 0 and check not in response.get_data(as_text=True)):
            raise SystemExit(
                f"{method} {path} answered {response.status_code}: {response.get_data(as_text=True)[:300]}"
            )
        done += 1
    return done / (time.perf_counter() - started)

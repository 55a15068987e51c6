"""Configuration: environment variables over embedded defaults.

Embedded defaults need no server: SQLite files under the data directory (one for the
platform, one per store) and an in-process job runner. Set ``DATABASE_URL`` (PostgreSQL: one
schema per store) and ``REDIS_URL`` (rq jobs, shared rate limits) to run on real services.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def _normalise_database_url(url: str) -> str:
    """Accept ``postgres://`` and ``postgresql://`` and use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _secret_key(data_dir: Path) -> str:
    """A stable secret for the embedded default: generated once, kept in the data dir."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


def _flag(value: str | None) -> bool:
    """An on/off environment setting: ``1``, ``true``, ``yes``, ``on`` (any case) mean on."""
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


_CACHE_SETTINGS = {
    "MALLOW_EDGE_CACHE_SECONDS": float,
    "MALLOW_EDGE_CACHE_ENTRIES": int,
    "MALLOW_EDGE_CACHE_BYTES": int,
    "MALLOW_PAGE_CACHE_SECONDS": float,
    "MALLOW_PAGE_CACHE_ENTRIES": int,
    "MALLOW_SLOT_CACHE_SECONDS": float,
    "MALLOW_SLOT_CACHE_ENTRIES": int,
    "MALLOW_BLOCK_CACHE_ENTRIES": int,
    "MALLOW_BLOCK_HTML_ENTRIES": int,
    "MALLOW_BLOCK_HTML_BYTES": int,
    "MALLOW_SESSION_CACHE_ENTRIES": int,
    "MALLOW_VERSION_DOCUMENTS": int,
}


def from_environment(overrides: dict | None = None) -> dict:
    """Build the Flask config mapping from the environment and ``overrides``."""
    overrides = dict(overrides or {})
    env = os.environ
    data_dir = Path(overrides.pop("MALLOW_DATA_DIR", None) or env.get("MALLOW_DATA_DIR") or Path.cwd() / "instance")
    data_dir = data_dir.resolve()
    database_url = overrides.pop("DATABASE_URL", None) or env.get("DATABASE_URL") or ""
    redis_url = overrides.pop("REDIS_URL", None) if "REDIS_URL" in overrides else env.get("REDIS_URL", "")
    if database_url:
        platform_uri = _normalise_database_url(database_url)
    else:
        data_dir.mkdir(parents=True, exist_ok=True)
        platform_uri = f"sqlite:///{data_dir / 'platform.db'}"
    config = {
        "MALLOW_DATA_DIR": str(data_dir),
        "SQLALCHEMY_DATABASE_URI": platform_uri,
        # PostgreSQL keeps catalogue cache for every schema a connection has touched: recycle
        # connections so that memory comes back (bench/tenants.py measures it).
        "SQLALCHEMY_ENGINE_OPTIONS": (
            # no pool_pre_ping: the hygiene check on every checkout (mallow.db.hygiene) is a query
            # already, and discards a connection the server dropped
            {"pool_recycle": int(env.get("MALLOW_POOL_RECYCLE", "300"))}
            if platform_uri.startswith("postgresql")
            else {}
        ),
        # new stores take a ready schema (file on SQLite) from a pool of this many, topped up by
        # a job and by `mallow db upgrade`; 0 turns the pool off (mallow.tenants.pool)
        "MALLOW_STORE_POOL_SIZE": int(env.get("MALLOW_STORE_POOL_SIZE", "5")),
        # a PostgreSQL connection keeps the catalogue cache of every store schema it has touched
        # until it closes (bench/tenants.py: ~125 KiB for a request reading 8 of its tables): close
        # it once it has served this many schemas (0: never; mallow.tenants.recycling). 100 keeps
        # a connection under ~15 MiB: 60 connections (4 processes x pool 5 + overflow 10) < 1 GiB.
        "MALLOW_PG_SCHEMAS_PER_CONNECTION": int(env.get("MALLOW_PG_SCHEMAS_PER_CONNECTION", "100")),
        "REDIS_URL": redis_url or "",
        "SECRET_KEY": env.get("SECRET_KEY") or None,
        # Field encryption key for personal data (32 bytes, urlsafe base64); derived from
        # SECRET_KEY when not given, so the embedded default needs no extra setting.
        "MALLOW_DATA_KEY": env.get("MALLOW_DATA_KEY") or None,
        # Host under which stores get their own subdomain: {slug}.<MALLOW_STORE_DOMAIN>.
        "MALLOW_STORE_DOMAIN": env.get("MALLOW_STORE_DOMAIN", "mallow.localhost"),
        "MAX_CONTENT_LENGTH": 12 * 1024 * 1024,
        "MALLOW_UPLOAD_MAX_BYTES": 5 * 1024 * 1024,
        # Image memory (bench/uploads.py measures it; mallow.media.images does the work). A small
        # file can declare a huge picture, so the pixel limit is chosen from a memory budget of
        # about 100 MB per image: decoding at full size costs 4 bytes a pixel (Pillow keeps RGB
        # as 32 bits), plus about 1 more for the reduced copy, a palette PNG's conversion or a
        # progressive JPEG's coefficients: 5 B/px x 20 Mpx = 100 MB (measured: ~107 MB for the
        # dearest 20 Mpx PNG, ~46 MB for a 20 Mpx JPEG). WebP's decoder needs ~16 B/px: it gets a
        # quarter of the pixels. Refused by the header, before decoding. See docs/operations.md.
        "MALLOW_UPLOAD_MAX_PIXELS": int(env.get("MALLOW_UPLOAD_MAX_PIXELS", "20000000")),
        # the stored copy's longer side (JPEGs are decoded at 1/2, 1/4 or 1/8 scale when it allows)
        "MALLOW_UPLOAD_MAX_SIDE": int(env.get("MALLOW_UPLOAD_MAX_SIDE", "2560")),
        # images decoded at the same time per process (each within the budget above: ~2 x 110 MB),
        # and how long an upload waits for a turn before it is answered 503 "busy, try again"
        "MALLOW_UPLOAD_CONCURRENCY": int(env.get("MALLOW_UPLOAD_CONCURRENCY", "2")),
        "MALLOW_UPLOAD_WAIT_SECONDS": float(env.get("MALLOW_UPLOAD_WAIT_SECONDS", "10")),
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SECURE": env.get("MALLOW_HTTPS", "") == "1",
        # reverse proxies in front of Mallow whose X-Forwarded-For/-Proto it trusts (nginx: 1); 0
        # (the default) trusts none, so a client cannot choose the address the rate limits see
        "MALLOW_PROXY_HOPS": int(env.get("MALLOW_PROXY_HOPS") or "0"),
        # The sandbox payment provider (a simulated cashier, no money moves): for the demo and
        # development only. Off unless set; ``./scripts/run`` turns it on.
        "MALLOW_SANDBOX_PAYMENTS": _flag(env.get("MALLOW_SANDBOX_PAYMENTS")),
        # e-mail notifications (mallow.notifications): none are sent while MALLOW_SMTP_HOST is empty
        "MALLOW_SMTP_HOST": env.get("MALLOW_SMTP_HOST", ""),
        "MALLOW_SMTP_PORT": int(env.get("MALLOW_SMTP_PORT") or "25"),
        "MALLOW_SMTP_USER": env.get("MALLOW_SMTP_USER", ""),
        "MALLOW_SMTP_PASSWORD": env.get("MALLOW_SMTP_PASSWORD", ""),
        "MALLOW_SMTP_FROM": env.get("MALLOW_SMTP_FROM", ""),
        "MALLOW_SMTP_STARTTLS": _flag(env.get("MALLOW_SMTP_STARTTLS")),
        "MALLOW_SMTP_SSL": _flag(env.get("MALLOW_SMTP_SSL")),
        "MALLOW_SMTP_TIMEOUT": float(env.get("MALLOW_SMTP_TIMEOUT") or "10"),
        "MALLOW_ANALYTICS_FLUSH_SECONDS": float(env.get("MALLOW_ANALYTICS_FLUSH_SECONDS", "5")),  # analytics.buffer
        "MALLOW_LANES": _flag(env.get("MALLOW_LANES", "1")),  # API happy paths before Flask (mallow.edge.lanes)
        # a job worker silent this long has died: its idempotent jobs are run again (mallow.jobs.worker)
        "MALLOW_JOB_ABANDONED_SECONDS": float(env.get("MALLOW_JOB_ABANDONED_SECONDS") or "90"),
        "WTF_CSRF_TIME_LIMIT": None,
        "BABEL_DEFAULT_LOCALE": "zh_CN",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
        "MALLOW_LOCALES": ["zh_CN", "en"],
        "PASSWORD_HASH_METHOD": "scrypt",
        "LOGIN_RATE_LIMIT": env.get("MALLOW_LOGIN_RATE_LIMIT", "5 per minute"),
        "LOGIN_RATE_LIMIT_IP": env.get("MALLOW_LOGIN_RATE_LIMIT_IP", "30 per minute"),
        "POSTER_RATE_LIMIT_IP": env.get("MALLOW_POSTER_RATE_LIMIT_IP", "30 per minute"),
        "CHAT_RATE_LIMIT": env.get("MALLOW_CHAT_RATE_LIMIT", "20 per minute"),  # chat messages a shopper sends
        "CHAT_STREAM_SECONDS": float(env.get("MALLOW_CHAT_STREAM_SECONDS", "25")),  # one SSE answer, then a reconnect
        "CHAT_POLL_SECONDS": float(env.get("MALLOW_CHAT_POLL_SECONDS", "2")),  # no Redis: a stream reads the table
        "SESSION_LIFETIME_DAYS": 14,
        "MALLOW_SQLITE_ENGINE_CACHE": 256,
        # ``production`` refuses what is for development only (``mallow serve --dev``)
        "MALLOW_ENV": env.get("MALLOW_ENV", "development"),
        # the platform's own package index of distributions developers published (PEP 503 layout:
        # <index>/<project>/<file>), and the plugin environment approved versions are installed
        # into (a folder put on sys.path before plugins are discovered)
        "MALLOW_PLUGIN_INDEX": env.get("MALLOW_PLUGIN_INDEX") or str(data_dir / "plugin-index"),
        "MALLOW_PLUGIN_DIR": env.get("MALLOW_PLUGIN_DIR") or str(data_dir / "plugins"),
        # development mode (``mallow serve --dev``): plugin folders loaded without review
        # (os.pathsep-separated in the environment; the loader ignores them in production)
        "MALLOW_DEV_PLUGIN_DIRS": [part for part in env.get("MALLOW_DEV_PLUGIN_DIRS", "").split(os.pathsep) if part],
        # plugin hook budgets (mallow.plugins.budgets) times this factor; and the circuit breaker:
        # this many faults of a plugin in a store within the window switch it off there
        "MALLOW_PLUGIN_BUDGET_SCALE": float(env.get("MALLOW_PLUGIN_BUDGET_SCALE", "1")),
        "MALLOW_PLUGIN_BREAKER_FAULTS": int(env.get("MALLOW_PLUGIN_BREAKER_FAULTS", "5")),
        "MALLOW_PLUGIN_BREAKER_WINDOW_SECONDS": int(env.get("MALLOW_PLUGIN_BREAKER_WINDOW_SECONDS", "300")),
        # scheduled per-store exports (mallow.stores.archive.backups): off unless a folder and the
        # archive key (the key itself, or a file holding it) are set; one archive per open or
        # closing store at most every MALLOW_BACKUP_INTERVAL_HOURS, the newest MALLOW_BACKUP_KEEP kept
        "MALLOW_BACKUP_DIR": env.get("MALLOW_BACKUP_DIR", ""),
        "MALLOW_ARCHIVE_KEY": env.get("MALLOW_ARCHIVE_KEY") or None,
        "MALLOW_ARCHIVE_KEY_FILE": env.get("MALLOW_ARCHIVE_KEY_FILE", ""),
        "MALLOW_BACKUP_INTERVAL_HOURS": float(env.get("MALLOW_BACKUP_INTERVAL_HOURS") or "24"),
        "MALLOW_BACKUP_KEEP": int(env.get("MALLOW_BACKUP_KEEP") or "7"),
    }
    # what each process keeps (docs/operations.md, "What each process keeps in memory"): read from the environment only when
    # set, so each cache's own module keeps its default in one place
    for name, kind in _CACHE_SETTINGS.items():
        if env.get(name, "").strip():
            config[name] = kind(env[name])
    config.update(overrides)
    if not config["SECRET_KEY"]:
        config["SECRET_KEY"] = _secret_key(data_dir)
    return config

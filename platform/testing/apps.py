"""Test apps: a migrated Mallow on SQLite (a temp folder) or PostgreSQL (a fresh database),
its next start on the same database, and cleaning up.

``create_app`` and the rest of Mallow are imported inside the helpers: importing the kit loads
nothing of the app (``create_app`` imports the parts in its own order).
"""

from __future__ import annotations

from .servers import drop_postgres_database, fresh_postgres_database

TEST_CONFIG = {
    "TESTING": True,
    "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",  # real hashing, cheap parameters
    "LOGIN_RATE_LIMIT_IP": "100000 per minute",
    "SECRET_KEY": "test-secret-key-not-for-production",
    "REDIS_URL": "",
    "SERVER_NAME": None,
    # tests pay through the sandbox cashier (off by default in production: mallow.config)
    "MALLOW_SANDBOX_PAYMENTS": True,
    # tests make plugins fail on purpose, again and again: the circuit breaker would switch them
    # off in the middle of a module (its own tests set a low threshold: tests/plugins/test_breaker.py)
    "MALLOW_PLUGIN_BREAKER_FAULTS": 1_000_000,
}


def build_app(tmp_path_factory, backend: str, **overrides):
    from mallow.app import create_app
    from mallow.db import db
    from mallow.db.migrate import upgrade_platform
    from mallow.qualifications.matrix import seed_defaults

    config = dict(TEST_CONFIG, MALLOW_DATA_DIR=str(tmp_path_factory.mktemp(f"data-{backend}")))
    if backend == "postgresql":
        config["DATABASE_URL"] = fresh_postgres_database()
    config.update(overrides)
    app = create_app(config)
    with app.app_context():
        upgrade_platform(db.engine)
        seed_defaults()
    return app


def restart_app(app, **overrides):
    """A new app on the same database and data folder as ``app``: what the next start of Mallow
    sees (approved plugins are imported by ``create_app``)."""
    from mallow.app import create_app

    config = dict(TEST_CONFIG, MALLOW_DATA_DIR=app.config["MALLOW_DATA_DIR"])
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        config["DATABASE_URL"] = app.config["SQLALCHEMY_DATABASE_URI"]
    config.update(overrides)
    restarted = create_app(config)
    restarted.mallow_backend = getattr(app, "mallow_backend", None)
    return restarted


def dispose_app(app, drop_database: bool = True) -> None:
    """Close an app's connections (and, on PostgreSQL, drop its test database)."""
    from mallow.db import db

    with app.app_context():
        app.extensions["mallow.store_engines"].dispose()
        db.engine.dispose()
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if drop_database and url.startswith("postgresql"):
        drop_postgres_database(url)

"""The application factory: an ordered list of ``init_app`` steps."""
from __future__ import annotations

from pathlib import Path

import mallow_themes
from flask import Flask
from jinja2 import ChoiceLoader, FileSystemLoader

from mallow import config as config_module

THEMES = Path(mallow_themes.__file__).parent


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__)
    from mallow.web import ids

    ids.init_app(app)  # first: every <int:…> of core and plugins is a bounded id (1..2^31-1), else 404
    app.config.update(config_module.from_environment(config))
    app.jinja_loader = ChoiceLoader([app.jinja_loader, FileSystemLoader(str(THEMES / "default" / "templates"))])

    from mallow import models  # noqa: F401  (every table known before anything else runs)
    from mallow.db import db
    from mallow.extensions import babel, csrf, limiter, login_manager, select_locale

    db.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale, default_translation_directories="translations")
    app.config.setdefault("RATELIMIT_STORAGE_URI", _limiter_storage(app))
    # Redis down must not turn every login into a 500: limits fall back to this process's memory
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    limiter.init_app(app)
    login_manager.init_app(app)

    with app.app_context():
        from mallow.tenants.engines import StoreEngines, configure_sqlite

        platform_engine = db.engine
        if platform_engine.dialect.name == "sqlite":
            configure_sqlite(platform_engine)
        app.extensions["mallow.store_engines"] = StoreEngines(
            platform_engine, app.config["MALLOW_DATA_DIR"], app.config["MALLOW_SQLITE_ENGINE_CACHE"]
        )

    from mallow.tenants import resolve

    resolve.init_app(app)  # the store of a request is resolved here and nowhere else

    from mallow.accounts import loader
    from mallow.web import filters, init_app as init_web

    loader.init_app(app)
    init_web(app)
    filters.init_app(app)  # the money filters (yuan, fen_to_yuan) for every template

    from mallow.plugins.manager import make_manager

    app.extensions["mallow.plugins"] = make_manager()

    from mallow.jobs.runners import make_runner
    from mallow.orders import jobs as _order_jobs  # noqa: F401  (registers jobs)
    from mallow.qualifications import jobs as _qualification_jobs  # noqa: F401

    app.extensions["mallow.jobs"] = make_runner(app)

    from mallow.builder import init_app as init_builder

    init_builder(app)  # page builder: blocks, themes, render cache, editor; its API operations before init_api

    from mallow.compliance import init_app as init_compliance

    init_compliance(app)  # absolute terms (极限词): the term list, findings, admin and console pages

    from mallow.api import init_app as init_api

    init_api(app)

    # --- plugins are available below this line ------------------------------------------------
    from mallow.plugins.loader import load_approved

    load_approved(app)
    return app


def _limiter_storage(app: Flask) -> str:
    return app.config["REDIS_URL"] or "memory://"

"""Flask extensions, created once and bound in :func:`mallow.app.create_app`."""

from __future__ import annotations

from flask import request
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
babel = Babel()
login_manager = LoginManager()
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)


def select_locale() -> str:
    from flask import current_app, has_request_context

    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    return choose_locale(
        current_app.config["MALLOW_LOCALES"],
        current_app.config["BABEL_DEFAULT_LOCALE"],
        request.args.get("lang"),
        request.cookies.get("lang"),
        request.headers.get("Accept-Language", ""),
    )


def choose_locale(supported, default: str, asked: str | None, cookie: str | None, accept_language: str | None) -> str:
    """The language of a page: ``?lang=``, else the ``lang`` cookie, else the browser's best
    supported match, else the default (``zh_CN``). Also used before a request context exists
    (:mod:`mallow.edge`, :mod:`mallow.plugins.early`), so it takes plain values."""
    from werkzeug.datastructures import LanguageAccept
    from werkzeug.http import parse_accept_header

    for chosen in (asked, cookie):
        if chosen in supported:
            return chosen
    best = parse_accept_header(accept_language, LanguageAccept).best_match(supported) if accept_language else None
    return best or default

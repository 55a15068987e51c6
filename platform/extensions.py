"""Flask extensions, created once and bound in :func:`mallow.app.create_app`."""

from __future__ import annotations

from functools import lru_cache

from babel import Locale
from flask import request
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header


class RouteLimiter(Limiter):
    """Flask-Limiter whose check before every request runs only when there is something for it
    to apply. Mallow declares its limits on the views that need them (sign-in, SMS codes, the
    WeChat endpoints: ``limiter.limit`` / ``shared_limit``), which check them themselves; the
    check before every request applies the default, application, blueprint and meta limits and,
    while the storage is down, the in-memory fallback limits: with none of these declared, it
    would resolve and evaluate an empty list on every request."""

    def _check_request_limit(self, callable_name: str | None = None, in_middleware: bool = True) -> None:
        if in_middleware and not self._applies_before_views():
            return None
        return super()._check_request_limit(callable_name=callable_name, in_middleware=in_middleware)

    def _applies_before_views(self) -> bool:
        manager = self.limit_manager
        return bool(
            manager._application_limits
            or manager._default_limits
            or manager._blueprint_limits
            or self._meta_limits
            or (self._storage_dead and self._in_memory_fallback)
        )


csrf = CSRFProtect()
babel = Babel()
login_manager = LoginManager()
limiter = RouteLimiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)


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


def locale_selector() -> Locale:
    """Flask-Babel's locale selector: :func:`select_locale` as a ``Locale``, one object per
    language for the process (Flask-Babel would parse the identifier again on every request)."""
    return _locale(select_locale())


@lru_cache(maxsize=64)
def _locale(identifier: str) -> Locale:
    return Locale.parse(identifier)


def choose_locale(supported, default: str, asked: str | None, cookie: str | None, accept_language: str | None) -> str:
    """The language of a page: ``?lang=``, else the ``lang`` cookie, else the browser's best
    supported match, else the default (``zh_CN``). Also used before a request context exists
    (:mod:`mallow.edge`, :mod:`mallow.plugins.early`), so it takes plain values."""
    for chosen in (asked, cookie):
        if chosen in supported:
            return chosen
    best = _best_match(accept_language, tuple(supported)) if accept_language else None
    return best or default


@lru_cache(maxsize=512)
def _best_match(accept_language: str, supported: tuple[str, ...]) -> str | None:
    """A browser sends the same ``Accept-Language`` on every request: parsed once per process
    (the few distinct values clients send; a bounded cache for the rest)."""
    return parse_accept_header(accept_language, LanguageAccept).best_match(supported)

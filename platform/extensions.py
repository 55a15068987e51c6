"""Flask extensions, created once and bound in :func:`mallow.app.create_app`."""

from __future__ import annotations

from functools import lru_cache, partial

from babel import Locale
from flask.globals import _cv_app, _cv_request
from flask_babel import Babel, get_translations
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

    def init_app(self, app) -> None:
        super().init_app(app)
        _only_when_used(self, app)

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


def _only_when_used(limiter: Limiter, app) -> None:
    """Flask-Limiter's hooks after every request (its rate-limit headers, then its teardown) do
    something only when this request met one of its limits: a limit it checked keeps its state
    in the request context (``_limiter_request_context``, per limiter). A request that met none
    (nearly all: limits are declared on a few views) has no such state, and the hooks would
    make an empty one, add nothing and reset it. They are wrapped to return at once then; the
    same hooks run, in the same place, for a request that met a limit."""

    def used() -> bool:
        ctx = _cv_request.get(None)
        kept = getattr(ctx, "_limiter_request_context", None) if ctx is not None else None
        return kept is not None and limiter in kept

    def after(hook, response):
        return hook(response) if used() else response

    def teardown(hook, error=None) -> None:
        if used():
            hook(error)

    inject = getattr(Limiter, "_Limiter__inject_headers", None)
    after_hooks = app.after_request_funcs.get(None, [])
    for index, hook in enumerate(after_hooks):
        if isinstance(hook, partial) and hook.func is inject and hook.args == (limiter,):
            after_hooks[index] = partial(after, hook)
    release = getattr(limiter, "_Limiter__release_context", None)
    teardown_hooks = app.teardown_request_funcs.get(None, [])
    for index, hook in enumerate(teardown_hooks):
        if release is not None and hook == release:
            teardown_hooks[index] = partial(teardown, hook)


class SafeMethodsCSRFProtect(CSRFProtect):
    """Flask-WTF's CSRF protection whose check before every request looks at the method first.
    Flask-WTF's check finds the view and its blueprints' exemptions, then returns for a method
    it does not check (``WTF_CSRF_METHODS``: a ``GET`` never carries a token to check); here a
    request of such a method returns at once, before that lookup. Every other request (a
    ``POST``…) runs Flask-WTF's check unchanged, with its exemptions."""

    def init_app(self, app) -> None:
        super().init_app(app)
        hooks = app.before_request_funcs.setdefault(None, [])
        for index, hook in enumerate(hooks):
            if getattr(hook, "__module__", None) == "flask_wtf.csrf" and hook.__name__ == "csrf_protect":
                hooks[index] = partial(_checked_methods_only, hook, app.config)


def _checked_methods_only(hook, config) -> None:
    ctx = _cv_request.get(None)
    if ctx is not None and ctx.request.method not in config["WTF_CSRF_METHODS"]:
        return None
    return hook()


csrf = SafeMethodsCSRFProtect()
babel = Babel()
login_manager = LoginManager()
limiter = RouteLimiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)


def select_locale() -> str:
    """The language of this request (:func:`choose_locale` of its ``?lang=``, ``lang`` cookie and
    ``Accept-Language``), read from the request itself: asked once a request, by Flask-Babel."""
    ctx = _cv_request.get(None)
    if ctx is None:
        from flask import current_app

        return current_app.config["BABEL_DEFAULT_LOCALE"]
    config, current = ctx.app.config, ctx.request
    environ = current.environ
    asked = current.args.getlist("lang") if environ.get("QUERY_STRING") else None
    cookie = current.cookies.getlist("lang") if environ.get("HTTP_COOKIE") else None
    return choose_locale(
        config["MALLOW_LOCALES"],
        config["BABEL_DEFAULT_LOCALE"],
        asked[0] if asked else None,
        cookie[0] if cookie else None,
        environ.get("HTTP_ACCEPT_LANGUAGE", ""),
    )


def locale_selector() -> Locale:
    """Flask-Babel's locale selector: :func:`select_locale` as a ``Locale``, one object per
    language for the process (Flask-Babel would parse the identifier again on every request)."""
    return _locale(select_locale())


@lru_cache(maxsize=64)
def _locale(identifier: str) -> Locale:
    return Locale.parse(identifier)


def install_template_gettext(app) -> None:
    """The templates' ``_()``/``gettext`` (Jinja's i18n extension, as Flask-Babel installs it),
    finding the request's translations with fewer steps. Flask-Babel's ``get_translations()``
    looks its state up in ``g`` three times and formats the locale as text on every call (a page
    has 3 to 20 of them); here the translations it answered are remembered in that state with the
    domain and locale they were found for, and served while both are still those very objects
    (``force_locale`` and ``refresh`` replace or remove them: the next call asks Flask-Babel
    again). Outside an app context it is Flask-Babel's answer, unchanged."""

    def translations():
        ctx = _cv_app.get(None)
        state = ctx.g.__dict__.get("_flask_babel") if ctx is not None else None
        if state is not None:
            kept = state.__dict__.get("mallow_translations")
            if (
                kept is not None
                and kept[0] is state.__dict__.get("babel_domain")
                and kept[1] is state.__dict__.get("babel_locale")
            ):
                return kept[2]
        found = get_translations()
        if ctx is not None:
            state = ctx.g.__dict__.get("_flask_babel")
            domain, locale = getattr(state, "babel_domain", None), getattr(state, "babel_locale", None)
            if domain is not None and locale is not None:
                state.mallow_translations = (domain, locale, found)
        return found

    app.jinja_env.install_gettext_callables(
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
    )


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

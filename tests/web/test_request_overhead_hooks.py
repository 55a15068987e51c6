"""What every request pays around its view (issue 13, fixed cost): hooks that matter for few
requests return at once for the others, the templates' gettext finds the request's translations
once, a blueprint's page runs Flask's default context processor once, a ``GET`` page does not set
up a form parse — and every answer stays the same (headers, cookies, language, rate limits)."""

from __future__ import annotations

import flask_babel
import pytest
from flask import render_template_string, request
from flask.templating import _default_template_ctx_processor
from flask_limiter import Limiter

from mallow.testing import make_store


@pytest.fixture
def counted_limiter_context(monkeypatch):
    """How many times Flask-Limiter's per-request state is asked for."""
    asked: list[int] = []
    real = Limiter.context

    def context(self):
        asked.append(1)
        return real.fget(self)

    monkeypatch.setattr(Limiter, "context", property(context))
    return asked


def test_a_request_that_meets_no_limit_leaves_the_limiter_alone(app, counted_limiter_context):
    """Before: its after-request hook and teardown made, read and reset an empty state (3 asks)."""
    shop = make_store(app)
    answer = app.test_client().get(f"{shop.prefix}/api/products?per_page=1")
    assert answer.status_code == 200
    assert counted_limiter_context == []
    assert not [name for name in answer.headers.keys() if name.lower().startswith("x-ratelimit")]


def test_a_limited_view_still_answers_its_rate_limit_headers(app, counted_limiter_context):
    shop = make_store(app)
    answer = app.test_client().post(f"{shop.prefix}/api/tokens", json={"login": "nobody-h3", "password": "wrong"})
    assert answer.status_code in (400, 401)
    assert answer.headers.get("X-RateLimit-Limit")
    assert answer.headers.get("X-RateLimit-Remaining") is not None
    assert counted_limiter_context  # its hooks ran


def test_the_limiters_hooks_are_wrapped_in_place(app):
    """The wrappers keep the hooks' places (the headers before Mallow's security headers)."""
    from mallow.extensions import limiter

    after = app.after_request_funcs[None]
    wrapped = [hook for hook in after if getattr(hook, "args", ()) and getattr(hook.args[0], "args", ()) == (limiter,)]
    assert len(wrapped) == 1
    assert after.index(wrapped[0]) == 0
    teardown = app.teardown_request_funcs[None]
    assert any(getattr(hook, "args", ()) == (limiter._Limiter__release_context,) for hook in teardown)


def test_template_gettext_asks_flask_babel_once_a_request(app, monkeypatch):
    import mallow.extensions as extensions

    asked: list[int] = []

    def counted():
        asked.append(1)
        return flask_babel.get_translations()

    monkeypatch.setattr(extensions, "get_translations", counted)
    with app.test_request_context("/", headers={"Accept-Language": "zh-CN"}):
        text = render_template_string("{{ _('Home') }} {{ _('Home') }} {{ _('Home') }}")
    assert text == "首页 首页 首页"
    assert len(asked) == 1  # before: three times, each looking its state up in g three times


def test_template_gettext_follows_force_locale_and_refresh(app):
    template = "{{ _('Home') }}"
    with app.test_request_context("/", headers={"Accept-Language": "zh-CN"}):
        assert render_template_string(template) == "首页"
        with flask_babel.force_locale("en"):
            assert render_template_string(template) == "Home"
        assert render_template_string(template) == "首页"
        flask_babel.refresh()
        assert render_template_string(template) == "首页"
    with app.app_context():  # no request: the default language, as Flask-Babel answers
        assert app.jinja_env.from_string(template).render() == "首页"


def test_a_blueprints_page_runs_the_default_context_processor_once(app):
    for name, processors in app.template_context_processors.items():
        if name is not None:
            assert _default_template_ctx_processor not in processors, name
    assert _default_template_ctx_processor in app.template_context_processors[None]
    shop = make_store(app)
    with app.test_request_context(f"{shop.prefix}/cart"):
        app.preprocess_request()
        assert request.blueprint == "storefront"
        text = render_template_string("{{ request.path }} {{ g is defined }} {{ session is defined }}")
    assert text == f"{shop.prefix}/cart True True"


def test_a_get_page_reads_an_empty_form_without_setting_the_parse_up(app):
    with app.test_request_context("/?x=1"):
        assert render_template_string("[{{ form.get('x', '') }}]{{ form|length }}") == "[]0"
        assert "form" not in request.__dict__ and "stream" not in request.__dict__
        assert request.form.to_dict() == {}  # the view's own read still parses as before
    with app.test_request_context("/", method="POST", data={"x": "typed"}):
        assert render_template_string("[{{ form.get('x', '') }}]") == "[typed]"


@pytest.mark.parametrize(
    ("query", "cookie"),
    [("?lang=en", "en"), ("?lang=zh_CN&lang=en", "zh_CN"), ("?lang=fr", None), ("?x=1", None), ("", None)],
)
def test_the_language_cookie_is_set_only_for_a_supported_lang(app, query, cookie):
    shop = make_store(app)
    answer = app.test_client().get(f"{shop.prefix}/api/products{query}")
    set_cookies = [value for value in answer.headers.getlist("Set-Cookie") if value.startswith("lang=")]
    assert [value.split(";")[0] for value in set_cookies] == ([f"lang={cookie}"] if cookie else [])
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Referrer-Policy"] == "same-origin"
    assert "Content-Security-Policy" not in answer.headers  # JSON: the HTML-only headers are not added


def test_a_views_own_security_header_is_kept_and_html_gets_the_rest(app):
    with app.test_request_context("/"):
        made = app.make_response(("<p>x</p>", 200, {"X-Frame-Options": "DENY", "referrer-policy": "no-referrer"}))
        answer = app.process_response(made)
    assert answer.headers.getlist("X-Frame-Options") == ["DENY"]
    assert answer.headers.getlist("Referrer-Policy") == ["no-referrer"]
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Content-Security-Policy"].startswith("default-src 'self'")
    names = [name for name, _value in answer.headers]
    assert names.index("X-Content-Type-Options") < names.index("Content-Security-Policy")


@pytest.mark.parametrize(
    ("query", "cookies", "accept", "chosen"),
    [
        ("?lang=en", {"lang": "zh_CN"}, "zh-CN", "en"),
        ("?lang=fr", {"lang": "en"}, "zh-CN", "en"),
        ("", {"lang": "en"}, "zh-CN", "en"),
        ("", {"other": "1"}, "en-US,en;q=0.9", "en"),
        ("", {}, "fr", "zh_CN"),
        ("?x=1", {}, "", "zh_CN"),
    ],
)
def test_the_language_is_chosen_as_before(app, query, cookies, accept, chosen):
    from mallow.extensions import select_locale

    headers = {"Accept-Language": accept} if accept else {}
    if cookies:
        headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookies.items())
    with app.test_request_context(f"/{query}", headers=headers):
        assert select_locale() == chosen
    with app.app_context():
        assert select_locale() == app.config["BABEL_DEFAULT_LOCALE"]

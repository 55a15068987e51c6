"""Flask's ``ensure_sync`` answers from memory for plain functions (issue 13): the same function
back, as Flask answers; a coroutine function still goes to Flask (which needs asgiref to run it);
an unhashable callable is not remembered."""

from __future__ import annotations

import inspect

from mallow.testing import make_store


def test_a_plain_function_comes_back_as_it_is_and_is_asked_about_once(app, monkeypatch):
    asked = []
    real = inspect.iscoroutinefunction

    def counted(func):
        asked.append(func)
        return real(func)

    def hook():
        return None

    monkeypatch.setattr("flask.app.iscoroutinefunction", counted)
    assert app.ensure_sync(hook) is hook
    assert app.ensure_sync(hook) is hook
    assert asked.count(hook) <= 1


def test_a_coroutine_function_still_goes_to_flask(app):
    async def view():
        return "async"

    try:
        wrapped = app.ensure_sync(view)
    except RuntimeError as error:  # no asgiref: Flask's own refusal
        assert "async" in str(error).lower()
    else:
        assert wrapped is not view


def test_an_unhashable_callable_is_answered_without_being_remembered(app):
    class Unhashable:
        __hash__ = None  # type: ignore[assignment]

        def __call__(self):
            return "called"

    thing = Unhashable()
    assert app.ensure_sync(thing) is thing


def test_every_hook_still_runs(app):
    """The after-request hooks (security headers) and teardown (the session's removal) run."""
    shop = make_store(app)
    client = app.test_client()
    answer = client.get(f"{shop.prefix}/api/me")
    assert answer.status_code == 401
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Referrer-Policy"] == "same-origin"


def test_many_requests_keep_the_memory_bounded(app):
    from mallow.web import SYNC_FUNCTIONS_KEPT

    shop = make_store(app)
    client = app.test_client()
    for _ in range(3):
        client.get(f"{shop.prefix}/api/me")
    known = app.ensure_sync.__closure__  # the set kept by the closure
    sizes = [len(cell.cell_contents) for cell in known if isinstance(cell.cell_contents, set)]
    assert sizes and all(size <= SYNC_FUNCTIONS_KEPT for size in sizes)

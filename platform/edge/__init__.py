"""What a request can be answered with before the app runs: the front door (:mod:`.door`) and the
whole anonymous pages it serves again (:mod:`.pages`). See docs/architecture.md, "Hot paths"."""

from __future__ import annotations

from mallow.edge import door, pages
from mallow.edge.pages import cacheable, fresh_for

__all__ = ["cacheable", "fresh_for", "init_app"]


def init_app(app, personal_cookies: tuple[str, ...]) -> None:
    pages.init_app(app, personal_cookies)
    door.install(app)

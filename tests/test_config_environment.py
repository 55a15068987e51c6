"""Settings an operator sets in the environment reach the app: the caches documented in
docs/operations.md ("What each process keeps in memory") are turned off or resized there."""

from __future__ import annotations

from mallow.testing import make_store, restart_app
from mallow.testing.apps import dispose_app


def _twice(app, path: str):
    client = app.test_client()
    for _ in range(2):
        page = client.get(path)
        assert page.status_code == 200
    return app.test_client().get(path)


def test_the_kept_pages_follow_the_environment(app, monkeypatch):
    shop = make_store(app)
    assert _twice(app, f"{shop.prefix}/").headers.get("X-Mallow-Cache") == "hit"  # kept by default

    monkeypatch.setenv("MALLOW_EDGE_CACHE_ENTRIES", "0")
    monkeypatch.setenv("MALLOW_PAGE_CACHE_SECONDS", "12.5")
    restarted = restart_app(app)
    try:
        assert restarted.config["MALLOW_EDGE_CACHE_ENTRIES"] == 0
        assert restarted.config["MALLOW_PAGE_CACHE_SECONDS"] == 12.5
        assert "X-Mallow-Cache" not in _twice(restarted, f"{shop.prefix}/").headers
    finally:
        dispose_app(restarted, drop_database=False)

"""A plugin declares its per-store Redis keys for purging (``mallow.sdk.purge_redis_patterns``):
its patterns are used when they name the store's id behind a fixed word; a pattern that could
match other stores' keys is ignored, and a declaration that raises does not stop the purge's list."""

from __future__ import annotations

import logging

from mallow.stores import purge


def test_a_plugin_s_patterns_are_used_only_when_they_cannot_reach_another_store(app, monkeypatch, caplog):
    from mallow.sdk import purge_redis_patterns

    monkeypatch.setattr(purge, "PLUGIN_REDIS_PATTERNS", [])

    @purge_redis_patterns
    def good(app, store_id):
        return [f"myplugin:q:{store_id}", f"myplugin:ticket:{store_id}:*"]

    def greedy(app, store_id):
        return ["*", f"*:{store_id}:*", f"myplugin:*:{store_id}:*", f"myplugin:q:1{store_id}"]

    def broken(app, store_id):
        raise RuntimeError("oops")

    for declared in (greedy, broken, good):  # the same one twice is one declaration
        purge_redis_patterns(declared)
    assert purge.PLUGIN_REDIS_PATTERNS == [good, greedy, broken]
    with app.app_context(), caplog.at_level(logging.WARNING, logger="mallow.stores"):
        patterns = purge.redis_patterns(app, 7)
    assert "myplugin:q:7" in patterns and "myplugin:ticket:7:*" in patterns
    assert not {"*", "*:7:*", "myplugin:*:7:*", "myplugin:q:17"} & set(patterns)
    assert "does not name store 7" in caplog.text and "Redis patterns of" in caplog.text

"""Bundled plugin: groupbuy (filled in by the marketing-plugins issue)."""

"""Bundled plugin: distribution (filled in by the marketing-plugins issue)."""

"""Bundled plugin: flashsale (filled in by the marketing-plugins issue)."""

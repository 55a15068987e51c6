"""Sharing: share links with the sharer's code, and share posters drawn server-side."""

"""Uploaded files: checked, re-encoded and stored under the data dir with server-made names."""

"""Queueing a plugin's own jobs (registered through ``mallow_register_jobs``)."""

from __future__ import annotations

from typing import Any

from flask import current_app


def enqueue_job(name: str, *, delay: float | None = None, **kwargs: Any) -> Any:
    """Queue job ``name`` (``"<plugin>.<job>"``; a store job needs ``store_id=…``), ``delay``
    seconds from now. Never raises: when the queue cannot take it the failure is logged and
    ``None`` returned, so call it after a commit and let a schedule catch up on a lost job."""
    return current_app.extensions["mallow.jobs"].enqueue(name, delay=delay, **kwargs)

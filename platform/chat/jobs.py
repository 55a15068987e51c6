"""The chat's periodic job: the no-answer automatic reply (``chat.sweep``, every 2 minutes)."""

from __future__ import annotations

from mallow.chat import service
from mallow.jobs import store_sweep


@store_sweep("chat", every_seconds=120)
def sweep(store, now):
    """Answer, once, every shopper who waited longer than the store's ``no_answer_minutes``."""
    count = service.answer_unanswered(now)
    service.commit()
    return count

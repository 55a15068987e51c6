"""A job runner that only records what is queued, for tests that run the jobs themselves (a
flash sale's drain, say) instead of a worker: ``app.extensions["mallow.jobs"] = JobRecorder()``."""

from __future__ import annotations


class JobRecorder:
    kind = "recorder"

    def __init__(self):
        self.queued: list[tuple[str, dict]] = []

    def enqueue(self, name, *, job_id=None, delay=None, **kwargs):
        self.queued.append((name, kwargs))
        return name

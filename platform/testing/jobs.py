"""A job runner that only records what is queued, for tests that run the jobs themselves (a
flash sale's drain, say) instead of a worker: ``app.extensions["mallow.jobs"] = JobRecorder()``."""

from __future__ import annotations


class JobRecorder:
    kind = "recorder"

    def __init__(self, only: str | None = None):
        #: with ``only`` (a prefix such as ``"flashsale."``), the jobs of other capabilities (a
        #: notification of the store's approval…) are run nowhere and not recorded either
        self.only = only
        self.queued: list[tuple[str, dict]] = []

    def enqueue(self, name, *, job_id=None, delay=None, **kwargs):
        if self.only is None or name.startswith(self.only):
            self.queued.append((name, kwargs))
        return name

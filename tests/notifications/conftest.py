"""A real SMTP server in the test process (aiosmtpd), a job recorder, and helpers for the
notification tests."""

from __future__ import annotations

import email
import socket
from email import policy

import pytest

from mallow.testing import JobRecorder


class Mailbox:
    """What the local SMTP server received; ``fail_next`` makes it answer the next message with
    a 4xx (try again later)."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list = []
        self.failures = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 -- aiosmtpd's hook name
        if self.failures:
            self.failures -= 1
            return "451 4.3.0 try again later"
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def fail_next(self, times: int = 1) -> None:
        self.failures += times

    def to(self, address: str) -> list:
        return [m for m, e in zip(self.messages, self.envelopes, strict=True) if address in e.rcpt_tos]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp(app):
    from aiosmtpd.controller import Controller

    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    saved = {name: app.config.get(name) for name in ("MALLOW_SMTP_HOST", "MALLOW_SMTP_PORT", "MALLOW_SMTP_FROM")}
    app.config.update(
        MALLOW_SMTP_HOST="127.0.0.1", MALLOW_SMTP_PORT=controller.port, MALLOW_SMTP_FROM="notice@mallow.test"
    )
    try:
        yield mailbox
    finally:
        app.config.update(saved)
        controller.stop()


@pytest.fixture
def jobs(app):
    """Queued jobs are recorded, not run: a test runs them (``run(app, recorder)``)."""
    runner = app.extensions["mallow.jobs"]
    recorder = app.extensions["mallow.jobs"] = JobRecorder()
    try:
        yield recorder
    finally:
        app.extensions["mallow.jobs"] = runner


@pytest.fixture
def run_jobs(app, jobs):
    """``run_jobs(name=None)``: run (and take off the recorder) the queued jobs, or those named ``name``,
    until none is left; returns their results."""
    from mallow.jobs.registry import execute

    def run(name: str | None = None) -> list:
        results = []
        while True:
            found = [item for item in jobs.queued if name is None or item[0] == name]
            if not found:
                return results
            for item in found:
                jobs.queued.remove(item)
                results.append(execute(app, item[0], item[1]))

    return run

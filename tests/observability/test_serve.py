"""``mallow serve --workers N``: gunicorn's pre-forked workers (jobs in ``mallow worker``, so Redis
is needed), /metrics summing every worker (prometheus_client's multiprocess mode)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from mallow.testing import run_cli

MALLOW = os.path.join(os.path.dirname(sys.executable), "mallow")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str):
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, dict(response.headers), response.read()


def _healthz_count(base: str) -> float:
    _status, _headers, text = _get(base + "/metrics")
    return sum(
        sample.value
        for family in text_string_to_metric_families(text.decode())
        for sample in family.samples
        if sample.name == "mallow_http_request_duration_seconds_count" and sample.labels["route"] == "/healthz"
    )


@pytest.mark.redis
def test_serve_with_two_workers_answers_and_sums_its_workers_metrics(redis_url, tmp_path):
    port = _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PROMETHEUS_", "DATABASE_URL", "MALLOW_", "GUNICORN_"))
    }
    env.update(
        MALLOW_DATA_DIR=str(tmp_path / "data"), REDIS_URL=redis_url, PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "m")
    )
    server = subprocess.Popen(
        [MALLOW, "serve", "--workers", "2", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline, answered = time.monotonic() + 30, None
        while time.monotonic() < deadline and answered is None:
            try:
                answered = _get(base + "/healthz")
            except OSError:
                assert server.poll() is None, server.stdout.read().decode()
                time.sleep(0.2)
        assert answered is not None, "mallow serve --workers 2 did not answer /healthz"
        status, headers, body = answered
        assert status == 200 and body == b'{"ok":true}\n'
        assert headers["Server"].startswith("gunicorn")
        assert len(headers["X-Request-Id"]) == 32
        before = _healthz_count(base)
        for _ in range(5):
            assert _get(base + "/healthz")[0] == 200
        # five answers, whichever workers gave them: /metrics (loopback) sums the workers' files
        assert _healthz_count(base) == before + 5
        assert list((tmp_path / "m").glob("*.db"))  # the workers' values, in the operator's directory
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        server.stdout.close()
        shutil.rmtree(tmp_path / "m", ignore_errors=True)


def test_serve_with_workers_needs_redis_for_the_jobs(app, monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    output = run_cli(app, "serve", "--workers", "2", code=1)
    assert "REDIS_URL" in output and "--workers 1" in output
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ  # refused before anything was set up


def test_serve_refuses_workers_with_dev(app):
    assert "--dev" in run_cli(app, "serve", "--dev", "--workers", "2", code=2)

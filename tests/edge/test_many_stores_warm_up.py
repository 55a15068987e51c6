"""bench/http.py's "random store among 100 vs 10,000": before the rounds, the random-store load
runs until each worker has met each store about ``MEETINGS`` times, counted from what wrk
answered, not from an assumed request rate (a worker that has not met a store reads its page
back from its file: measured in-process, the 10,000 side otherwise costs what the 100 side does)."""

from __future__ import annotations

import os
import sys

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "bench")
if BENCH not in sys.path:
    sys.path.append(BENCH)  # at the end: bench/http.py must not hide the standard library's http


def _fake_wrk(rps: float, runs: list):
    def wrk(url, seconds, script=None):
        runs.append(seconds)
        return {"rps": rps}

    return wrk


def test_a_slow_server_is_warmed_until_every_worker_met_every_store(monkeypatch):
    import http_scenarios

    runs: list = []
    monkeypatch.setattr(http_scenarios, "wrk", _fake_wrk(2000.0, runs))
    monkeypatch.setattr(http_scenarios, "say", lambda *_: None)
    note = http_scenarios.warm_up("http://x/", 10_000, "stores.lua")
    # 27 s at an assumed 6,000/s; at 2,000/s that is 1.35 meetings: the rest follows in one more run
    assert runs[0] == http_scenarios.warm_up_seconds(10_000) == 27
    assert sum(runs) * 2000 >= http_scenarios.MEETINGS * http_scenarios.WORKERS * 10_000
    assert len(runs) == 2 and sum(runs) == 80
    assert "4.0 meetings" in note


def test_the_warm_up_is_bounded(monkeypatch):
    import http_scenarios

    runs: list = []
    monkeypatch.setattr(http_scenarios, "wrk", _fake_wrk(100.0, runs))
    monkeypatch.setattr(http_scenarios, "say", lambda *_: None)
    http_scenarios.warm_up("http://x/", 10_000, "stores.lua")
    assert sum(runs) == http_scenarios.WARM_UP_LIMIT
    assert all(type(s) is int for s in runs)  # wrk's -d takes whole seconds


def test_a_fast_server_needs_one_run(monkeypatch):
    import http_scenarios

    runs: list = []
    monkeypatch.setattr(http_scenarios, "wrk", _fake_wrk(9000.0, runs))
    monkeypatch.setattr(http_scenarios, "say", lambda *_: None)
    http_scenarios.warm_up("http://x/", 100, "stores.lua")
    assert runs == [2]

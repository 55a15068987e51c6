"""Admission first (:func:`mallow_flashsale.admission.hold_back_while_crowded`): while the crowd's
tickets arrive faster than ``CROWD_ARRIVALS`` a second, the drain makes no orders (its database
work would take the cores the crowd's answers need) and goes on as soon as they slow down; never
longer than it may a job, and not at all when the queue is calm. Played on a clock of its own:
the queue's length is what the crowd has pushed by then."""

from __future__ import annotations

import pytest

from mallow_flashsale import admission


class _Crowd:
    """A queue the crowd pushes ``rate`` tickets a second into until ``until`` (seconds), on a
    clock that moves only when the drain sleeps; the drain took what was there at 0."""

    def __init__(self, rate: float, until: float):
        self.rate, self.until, self.now, self.expired = rate, until, 0.0, 0
        self.redis = self

    def llen(self, _queue) -> int:
        return int(self.rate * min(self.now, self.until))

    def expire(self, _key, _seconds) -> None:
        self.expired += 1  # the drain's flag kept up while it holds back

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def crowd(monkeypatch):
    def make(rate: float, until: float, settled_in: float = 0.3) -> _Crowd:
        made = _Crowd(rate, until)
        made.now = settled_in  # the batch took that long to settle
        monkeypatch.setattr(admission, "time", made)
        return made

    return make


def test_the_drain_holds_back_while_the_crowd_arrives_and_goes_on_when_it_slows(crowd):
    rush = crowd(rate=3000, until=2.0)
    held, waiting = admission.hold_back_while_crowded(rush, "q", "flag", left=0, since=0.0, at_most=10.0)
    assert 1.6 <= held <= 2.0 and waiting == 6000  # from the batch's end until the rush is over
    assert rush.expired >= 15  # the flag stayed up: no second drain job started meanwhile


def test_a_calm_queue_is_drained_without_waiting(crowd):
    calm = crowd(rate=100, until=60.0)  # a steady trickle the drain keeps up with
    assert admission.hold_back_while_crowded(calm, "q", "flag", left=0, since=0.0, at_most=10.0) == (0.0, 30)
    assert calm.now == 0.3


def test_the_drain_never_holds_back_longer_than_it_may(crowd):
    endless = crowd(rate=5000, until=1e9)
    held, _waiting = admission.hold_back_while_crowded(endless, "q", "flag", left=0, since=0.0, at_most=2.5)
    assert held == pytest.approx(2.5)
    assert admission.hold_back_while_crowded(endless, "q", "flag", left=0, since=0.0, at_most=0.0)[0] == 0.0


def test_a_backlog_met_first_is_looked_at_twice_a_step_apart(crowd):
    """A drain's first full batch: a backlog left by a worker that restarted waits one step; a
    crowd still arriving is waited out."""
    backlog = crowd(rate=0, until=0)
    assert admission.hold_back_while_crowded(backlog, "q", "flag", left=None, since=0.0, at_most=10.0)[0] == 0.1
    rush = crowd(rate=3000, until=2.0)
    held, _waiting = admission.hold_back_while_crowded(rush, "q", "flag", left=None, since=0.0, at_most=10.0)
    assert 1.6 <= held <= 2.0

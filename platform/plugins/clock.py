"""The time a plugin's hook call is charged: its wall time minus the time its thread spent
waiting for a CPU.

A budget (:mod:`mallow.plugins.budgets`) is the time the plugin's code took or waited for
itself. Wall time alone blames the plugin for a busy machine: while a flash-sale drain and a
crowd of requests share two cores, a well-behaved hook's thread can sit runnable on a run queue
for hundreds of milliseconds. Thread CPU time alone would let a plugin off that sleeps, waits on
the network or on a lock. So the guard charges wall time minus the thread's run-queue wait,
which Linux keeps per thread in ``/proc/thread-self/schedstat`` (``<ns on a CPU> <ns waiting on
a run queue> <timeslices>``): the second figure grows only while the thread was runnable but not
running; sleeping, network and lock waits do not count there, so they still count against the
plugin. (A thread waiting for Python's GIL sleeps on a lock, and is charged that wait.)

Reading it costs one ``pread`` of a file descriptor each thread opens once (kept in a
``threading.local``, closed when the thread ends or after a fork): :func:`mark` at the start of
every guarded call (kept unparsed), and again only for a call whose wall time is over its
budget (:func:`charge`). Where the file is missing or reads zeros (the kernel keeps no
scheduler statistics), the charged time is plain wall time, and the log says so once per
process.
"""

from __future__ import annotations

import logging
import os
import threading
import time

log = logging.getLogger("mallow.plugins")
#: this thread's scheduler statistics (Linux)
PATH = "/proc/thread-self/schedstat"
#: None: not tried yet in this process; False: unavailable (wall time only)
_available: bool | None = None
_lock = threading.Lock()


class _Reader:
    """One thread's open statistics file; closed with the thread's local data."""

    __slots__ = ("fd",)

    def __init__(self, fd: int):
        self.fd = fd

    def __del__(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass


_local = threading.local()


def _forked() -> None:
    """In a forked child the inherited descriptors name the parent's threads: start afresh."""
    global _local
    _local = threading.local()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked)


def _unavailable(why: str) -> None:
    global _available
    with _lock:
        if _available is False:
            return
        _available = False
    log.warning(
        "plugin hook budgets count wall time: %s %s (a thread's wait for a CPU is charged to the plugin)", PATH, why
    )


def _open() -> _Reader | None:
    global _available
    if _available is False:
        return None
    try:
        fd = os.open(PATH, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        _unavailable(f"cannot be read ({error.strerror or error})")
        return None
    reader = _Reader(fd)
    try:
        figures = [int(figure) for figure in os.pread(fd, 64, 0).split()]
        if len(figures) < 3:
            raise ValueError(figures)
        # "0 0 0": the kernel keeps no statistics (a running thread has had a timeslice at
        # least; its CPU time alone may still read 0 before its first tick)
        if not any(figures):
            _unavailable("reads zeros")
            return None
    except (OSError, ValueError):
        _unavailable("cannot be parsed")
        return None
    _available = True
    _local.reader = reader
    return reader


def mark() -> bytes | None:
    """This thread's statistics as read now (parsed only when a call is charged: the start of
    every guarded call pays one read and nothing more), or None where they are unknown (then a
    call is charged its wall time)."""
    for _attempt in range(2):  # a descriptor closed under us is opened afresh, once
        reader = getattr(_local, "reader", None) or _open()
        if reader is None:
            return None
        try:
            return os.pread(reader.fd, 64, 0)
        except OSError:
            # closed under us (the number may name somebody else's file now: not ours to close)
            reader.fd = -1
            _local.reader = None
    _unavailable("could not be read")
    return None


def _waited_ns(statistics: bytes) -> int:
    return int(statistics.split(None, 2)[1])


def waited_ms_since(start: bytes | None) -> float:
    """Milliseconds this thread waited on a run queue since :func:`mark` answered ``start``."""
    if start is None:
        return 0.0
    now = mark()
    if now is None:
        return 0.0
    try:
        return max(_waited_ns(now) - _waited_ns(start), 0) / 1e6
    except (ValueError, IndexError):
        return 0.0


def charge(wall_ms: float, started: float, start: bytes | None) -> tuple[float, float]:
    """``(charged ms, ms waited for a CPU)`` of a call that took ``wall_ms`` from ``started``
    (``time.perf_counter()``), ``start`` (:func:`mark`) read just after ``started``. The charged
    time is at most the wall time, and at least the wall time less the waits read since ``start``
    (the wall time is measured again after that read, so a wait in between is in both)."""
    waited = waited_ms_since(start)
    if waited <= 0:
        return wall_ms, 0.0
    elapsed = (time.perf_counter() - started) * 1000
    charged = min(wall_ms, max(elapsed - waited, 0.0))
    return charged, wall_ms - charged

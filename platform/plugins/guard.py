"""The one way a plugin's hook implementation is called: guarded, timed and blamed.

Each implementation of a loaded plugin (registered as ``plugin:<name>``; Mallow's own built-ins
are called plainly) runs

* as the plugin (:func:`mallow.plugins.acting.acting_as`), so whatever asks "who is calling"
  gets the right answer;
* inside a SAVEPOINT when the session has a transaction going: a plugin that fails has its
  savepoint rolled back; one that swallows its own SQL error (PostgreSQL then refuses every
  later statement of the transaction) has its savepoint rolled back and is blamed (its answer,
  its own choice, stands), and the caller's next statement works;
* timed against the hook's budget (:mod:`mallow.plugins.budgets`): a call is charged its wall
  time (``time.perf_counter``) minus the time its thread waited for a CPU meanwhile
  (:mod:`mallow.plugins.clock`: a busy machine is nobody's fault; sleeping, network and lock
  waits still count), worked out only for a call whose wall time is over its budget;
* contained: an exception it raises is logged with the plugin's name and the hook, counted, and
  the call answers nothing. That includes ``BaseException`` subclasses raised by plugin code
  (``KeyboardInterrupt``, ``GeneratorExit``, ``asyncio.CancelledError``): a request thread
  must answer. Exceptions: ``SystemExit`` (the process is asked to stop) and a
  ``KeyboardInterrupt`` in the main thread outside any request (Ctrl-C on a command or worker)
  pass through. Deliberate answers pass through unchanged: ``ValidationFailed``,
  ``HTTPException`` and the caller's ``passthrough`` exceptions (``CheckoutProblems``,
  ``SoldOut`` from ``mallow_order_placed``); order events contain those too, since nothing can
  undo what they report;
* checked: an answer of the wrong type (:mod:`mallow.plugins.results`) is dropped and logged.

A fault is reported to ``failed(message)`` when the caller passes one (pricing turns it into a
``plugin_failed`` problem) and counted for the circuit breaker (:mod:`mallow.plugins.breaker`).
A plugin the breaker switched off during this request is not called again in it.

A plugin whose manifest declares ``checkout_options`` (``["flashsale"]``: the checkout's
``options`` keys without which its checkout hooks do nothing) is not called for the hooks handed
the checkout (:data:`CHECKOUT_HOOKS`) when the checkout's options name none of them: an ordinary
cart's quote or order does not pay for the flash sale's and the group buy's guarded calls.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

import sqlalchemy as sa
from flask import current_app, g, has_request_context

from mallow.db import db
from mallow.plugins import acting, breaker, budgets, clock, results, timings
from mallow.plugins.faults import ANSWERS, failure_message
from mallow.plugins.stores import enabled_plugins

log = logging.getLogger("mallow.plugins")
#: hooks that report a change of an order: a plugin that raises cannot undo it
EVENTS = frozenset({"mallow_order_paid", "mallow_order_cancelled", "mallow_order_refunded", "mallow_order_completed"})
PREFIX = "plugin:"
#: what a guarded call answers for an implementation that failed or was skipped
NOTHING = object()
#: hooks handed the checkout as ``context``: a plugin that declared ``checkout_options`` is called
#: for them only when the checkout's ``options`` name one of those
CHECKOUT_HOOKS = frozenset(
    {
        "mallow_validate_checkout",
        "mallow_line_adjustments",
        "mallow_order_adjustments",
        "mallow_shipping_fee",
        "mallow_order_placed",
    }
)
_INTERESTS = "mallow.plugins.checkout_interests"


def impl_name(impl) -> str:
    """The plugin's name (``groupbuy``), or a built-in's registered name (``mallow.shipping``)."""
    return impl.plugin_name.removeprefix(PREFIX)


def is_plugin(impl) -> bool:
    return impl.plugin_name.startswith(PREFIX)


def ordered(impls) -> list:
    """The fixed calling order: plugins by name, then Mallow's built-ins (pluggy's order)."""
    plugins = sorted((impl for impl in impls if is_plugin(impl)), key=lambda impl: impl.plugin_name)
    return plugins + [impl for impl in reversed(impls) if not is_plugin(impl)]


def _contained(error: BaseException) -> bool:
    if isinstance(error, SystemExit):
        return False
    if isinstance(error, KeyboardInterrupt):
        return has_request_context() or threading.current_thread() is not threading.main_thread()
    return True


def _end(savepoint, keep: bool) -> None:
    """Release (``keep``) or roll back the savepoint, unless the plugin ended it itself; close one
    the plugin left untouched."""
    if savepoint is None:
        return
    if _untouched(savepoint):
        savepoint.close()  # nothing to release or roll back
        return
    if keep:
        if savepoint.is_active:
            savepoint.commit()
        return
    try:
        savepoint.rollback()  # also after a failed release (the savepoint is "prepared" then)
    except sa.exc.ResourceClosedError:
        pass  # the plugin committed or rolled back the session itself
    except Exception:  # the connection is gone: the caller's next statement will say so
        log.exception("could not roll back a plugin's savepoint")


def _untouched(savepoint) -> bool:
    """Whether the plugin left its savepoint as it was begun: no statement ran in it (SQLAlchemy
    emits the SAVEPOINT on a connection's first statement in it: ``_connections`` is empty), it
    is the session's innermost savepoint (none of the plugin's own left open in it) and nothing
    waits to be flushed (what its release would flush into it, SQLAlchemy's own test). Most
    calls are such (a hook that does not apply answers None at once), and closing it is what a
    release or a rollback would do then, without running the session's commit and rollback
    listeners: those are for the transaction's end (stamp bumps, analytics and notification
    hand-overs), and a release or rollback of a savepoint sets them off too."""
    session = savepoint.session
    return (
        savepoint.is_active
        and not savepoint._connections
        and session.get_nested_transaction() is savepoint
        and session._is_clean()
    )


def _failed_transaction(savepoint) -> bool:
    """PostgreSQL: whether a connection the plugin used inside its savepoint is in the failed
    transaction state (an SQL error that somebody caught: every later statement would be refused
    until a rollback). The savepoint is emitted lazily, per connection, on its first statement:
    a plugin that ran no SQL has none, and this costs no round trip (SQLAlchemy's
    ``SessionTransaction._connections``: the connections begun inside it)."""
    for connection, *_rest in getattr(savepoint, "_connections", {}).values():
        if connection.dialect.name != "postgresql" or connection.closed:
            continue
        status = getattr(getattr(connection.connection.dbapi_connection, "info", None), "transaction_status", None)
        if getattr(status, "name", None) == "INERROR":
            return True
    return False


def call(impl, hook: str, kwargs: dict, failed: Callable[[str], None] | None = None, passthrough: tuple = ()):
    """Call one implementation; its answer, or :data:`NOTHING` when it failed or was skipped."""
    args = [kwargs[name] for name in impl.argnames]
    if not is_plugin(impl):
        return impl.function(*args)  # Mallow's own code: its errors are Mallow's
    name = impl_name(impl)
    app = current_app._get_current_object()  # looked up once: each use of the proxy looks again
    store_id = g.get("mallow_store_id")
    if store_id is not None and name not in enabled_plugins():
        return NOTHING  # switched off by the breaker during this request
    # opening the savepoint flushes the caller's pending changes: their errors are the caller's
    session = db.session()
    savepoint = session.begin_nested() if session.in_transaction() else None
    budget = budgets.budget_ms(hook, app)
    started = time.perf_counter()
    mark = clock.mark()  # after the start: a wait in between is charged, never let off
    try:
        token = acting.enter(name)
        try:
            result = impl.function(*args)
        finally:
            acting.leave(token)  # what follows (the log, blame, the breaker) is Mallow's own
    except BaseException as error:
        answered = hook not in EVENTS and isinstance(error, (*ANSWERS, *passthrough))
        if answered or not _contained(error):
            _end(savepoint, keep=False)
            raise
        ms = (time.perf_counter() - started) * 1000
        charged, _waited = _charge(ms, budget, started, mark)
        _end(savepoint, keep=False)
        log.error("plugin %s failed in %s (store %s)", name, hook, store_id, exc_info=error)
        _fault(store_id, name, hook, "error", f"{type(error).__name__}: {error}", charged, failed)
        return NOTHING
    ms = (time.perf_counter() - started) * 1000
    charged, waited = _charge(ms, budget, started, mark)
    if savepoint is not None and _failed_transaction(savepoint):
        _end(savepoint, keep=False)  # its writes go, the caller's transaction works again
        log.error(
            "plugin %s swallowed a database error in %s (store %s): its writes were rolled back", name, hook, store_id
        )
        message = "swallowed a database error; its writes were rolled back"
        _fault(store_id, name, hook, "error", message, charged, None)  # its answer was its own choice
    else:
        _end(savepoint, keep=True)
    timings.add(app, store_id, name, hook, ms)  # what the page paid: wall time
    _check_time(store_id, name, hook, budget, charged, waited)
    if result is None:
        return None  # a fine answer to every hook
    wrong = results.wrong_answer(hook, result)
    if wrong is not None:
        log.error(
            "plugin %s answered %s with %s, expected %s (store %s): left out",
            name,
            hook,
            results.describe(result),
            wrong,
            store_id,
        )
        _fault(store_id, name, hook, "bad_result", f"{results.describe(result)}; expected {wrong}", charged, failed)
        return NOTHING
    return result


def _charge(ms: float, budget: float | None, started: float, mark: bytes | None) -> tuple[float, float]:
    """``(charged ms, ms waited for a CPU)`` of a call of ``ms`` wall milliseconds: worked out
    (one more read of the thread's statistics) only when the wall time is over the budget."""
    if budget is None or ms <= budget:
        return ms, 0.0
    return clock.charge(ms, started, mark)


def _check_time(store_id: int | None, name: str, hook: str, budget: float | None, ms: float, waited: float) -> None:
    """``ms``: the charged time; ``waited``: the rest of the wall time, spent waiting for a CPU."""
    if budget is None or ms <= budget:
        if waited:
            log.debug(
                "plugin %s in %s (store %s): %.1f ms within its budget, %.1f ms more waiting for a CPU",
                name,
                hook,
                store_id,
                ms,
                waited,
            )
        return
    message = f"took {ms:.0f} ms (budget {budget:.3g} ms)"
    if waited >= 0.5:
        log.warning(
            "plugin %s took %.1f ms in %s (budget %.1f ms, store %s; and %.1f ms more waiting for a CPU, not counted)",
            name,
            ms,
            hook,
            budget,
            store_id,
            waited,
        )
        message += f" and {waited:.0f} ms more waiting for a CPU (not counted)"
    else:
        log.warning("plugin %s took %.1f ms in %s (budget %.1f ms, store %s)", name, ms, hook, budget, store_id)
    breaker.fault(store_id, name, hook, "over_budget", message, ms, strike=ms > budget * budgets.BREAKER_FACTOR)


def _fault(store_id, name, hook, kind, message, ms, failed) -> None:
    breaker.fault(store_id, name, hook, kind, message, ms, strike=True)
    if failed is not None:
        failed(failure_message(name))


def _interests(extensions: dict) -> dict[str, tuple[str, ...]]:
    """``{registered name: option keys}`` of the loaded plugins that declared
    ``checkout_options`` (built once per app, and again when more plugins are loaded)."""
    loaded = extensions.get("mallow.loaded_plugins") or {}
    cached = extensions.get(_INTERESTS)
    if cached is None or cached[0] is not loaded or cached[1] != len(loaded):
        found = {
            PREFIX + name: tuple(keys)
            for name, manifest in loaded.items()
            if (keys := getattr(manifest, "checkout_options", None))
        }
        cached = extensions[_INTERESTS] = (loaded, len(loaded), found)
    return cached[2]


def skipped_for(context) -> frozenset[str]:
    """The registered names of the plugins not to call for the checkout hooks of ``context``
    (a pricing context): those whose ``checkout_options`` its options do not name. Pricing
    works it out once for all its hook calls."""
    interests = _interests(current_app.extensions)
    if not interests:
        return frozenset()
    options = getattr(context, "options", None)
    if not isinstance(options, dict):
        options = {}
    return frozenset(name for name, keys in interests.items() if not any(key in options for key in keys))


def not_asked(hook: str, kwargs: dict) -> frozenset[str]:
    """:func:`skipped_for` the hook's ``context`` for a checkout hook; nothing for another."""
    if hook not in CHECKOUT_HOOKS:
        return frozenset()
    return skipped_for(kwargs.get("context"))


def each(
    caller, hook: str, kwargs: dict, failed=None, passthrough: tuple = (), skipped: frozenset[str] | None = None
) -> Iterator[tuple[str, object]]:
    """``(name, answer)`` for each implementation's non-None answer, in the fixed order.
    ``skipped``: :func:`not_asked` when the caller worked it out already."""
    if skipped is None:
        skipped = not_asked(hook, kwargs)
    impls = caller.ordered_impls() if isinstance(caller, GuardedHook) else ordered(caller.get_hookimpls())
    for impl in impls:
        if skipped and impl.plugin_name in skipped:
            continue  # the checkout does not name the option this plugin's checkout hooks act on
        result = call(impl, hook, kwargs, failed, passthrough)
        if result is not NOTHING and result is not None:
            yield impl_name(impl), result  # the yield stays outside the guard: closing us is no fault


class GuardedHook:
    """``hooks().mallow_x``: pluggy's hook caller with every implementation guarded. Calling it
    returns the list of answers, or the first one for a ``firstresult`` hook, like pluggy."""

    def __init__(self, caller, name: str):
        self._caller = caller
        self._ordered: tuple | None = None
        self.name = name
        spec = getattr(caller, "spec", None)
        self.firstresult = bool(spec is not None and spec.opts.get("firstresult"))

    def get_hookimpls(self):
        return self._caller.get_hookimpls()

    def ordered_impls(self) -> tuple:
        """:func:`ordered` implementations, worked out again only when they change."""
        impls = tuple(self._caller.get_hookimpls())
        kept = self._ordered
        if kept is None or kept[0] != impls:
            kept = self._ordered = (impls, tuple(ordered(list(impls))))
        return kept[1]

    def __call__(self, **kwargs):
        return self.call(kwargs)

    def call(self, kwargs: dict, failed: Callable[[str], None] | None = None, passthrough: tuple = ()):
        impls = self._caller.get_hookimpls()
        if any(impl.hookwrapper or impl.wrapper for impl in impls):
            return self._caller(**kwargs)  # wrappers need pluggy's own call loop
        answers = []
        for _name, result in each(self, self.name, kwargs, failed, passthrough):  # its order kept
            if self.firstresult:
                return result
            answers.append(result)
        return None if self.firstresult else answers

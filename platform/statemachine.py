"""Small explicit state machines: allowed transitions are data, anything else is refused.

Orders, payments, refunds, groups, stores and qualifications each declare one::

    STORE_STATES = StateMachine("store", {"pending": {"open", "closed"}, ...})
    STORE_STATES.check(store.status, "open")   # raises InvalidTransition when not allowed
"""

from __future__ import annotations


class InvalidTransition(ValueError):
    def __init__(self, machine: str, current: str, target: str):
        super().__init__(f"{machine}: cannot go from {current!r} to {target!r}")
        self.machine, self.current, self.target = machine, current, target


class StateMachine:
    def __init__(self, name: str, transitions: dict[str, set[str]]):
        self.name = name
        self.transitions = {state: frozenset(targets) for state, targets in transitions.items()}
        unknown = {t for targets in self.transitions.values() for t in targets} - set(self.transitions)
        if unknown:
            raise ValueError(f"{name}: transitions into undeclared states {sorted(unknown)}")

    @property
    def states(self) -> tuple[str, ...]:
        return tuple(self.transitions)

    def can(self, current: str, target: str) -> bool:
        return target in self.transitions.get(current, ())

    def check(self, current: str, target: str) -> None:
        if not self.can(current, target):
            raise InvalidTransition(self.name, current, target)

    def move(self, obj, target: str, attribute: str = "status") -> str:
        """Check and apply a transition on ``obj.<attribute>``; returns the previous state."""
        current = getattr(obj, attribute)
        self.check(current, target)
        setattr(obj, attribute, target)
        return current

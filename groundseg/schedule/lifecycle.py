"""The life cycle of a planned pass.

    planned --> pre-pass --> in-pass --> post-pass --> completed
       |           |            |            |
       |           +--> cancelled            |
       +--> cancelled                        |
    any of planned/pre-pass/in-pass/post-pass --> failed (with a reason)
    pre-pass/in-pass/post-pass --> interrupted (station restarted or the
    operator aborted a running pass; with a reason)

completed, failed, cancelled and interrupted are final. failed, cancelled
and interrupted need a reason; the store keeps every transition with its
time and reason.
"""
from __future__ import annotations

from enum import Enum

from ..errors import InputError


class PassState(str, Enum):
    PLANNED = "planned"
    PRE_PASS = "pre-pass"
    IN_PASS = "in-pass"
    POST_PASS = "post-pass"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"

    def __str__(self) -> str:
        return self.value


TRANSITIONS: dict[PassState, frozenset[PassState]] = {
    PassState.PLANNED: frozenset({PassState.PRE_PASS, PassState.CANCELLED, PassState.FAILED}),
    PassState.PRE_PASS: frozenset({PassState.IN_PASS, PassState.CANCELLED, PassState.FAILED,
                                   PassState.INTERRUPTED}),
    PassState.IN_PASS: frozenset({PassState.POST_PASS, PassState.FAILED, PassState.INTERRUPTED}),
    PassState.POST_PASS: frozenset({PassState.COMPLETED, PassState.FAILED, PassState.INTERRUPTED}),
}
ACTIVE = frozenset({PassState.PRE_PASS, PassState.IN_PASS, PassState.POST_PASS})
FINAL = frozenset({PassState.COMPLETED, PassState.FAILED, PassState.CANCELLED, PassState.INTERRUPTED})
NEEDS_REASON = frozenset({PassState.FAILED, PassState.CANCELLED, PassState.INTERRUPTED})


def parse_state(value: str | PassState) -> PassState:
    try:
        return PassState(value)
    except ValueError:
        raise InputError(f"unknown pass state {value!r} (one of {', '.join(s.value for s in PassState)})") from None


def check_transition(current: str | PassState, new: str | PassState, reason: str = "") -> PassState:
    """Return the new state if ``current -> new`` is allowed; ``InputError`` otherwise."""
    cur, nxt = parse_state(current), parse_state(new)
    if nxt not in TRANSITIONS.get(cur, frozenset()):
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS.get(cur, ()))) or "none: it is final"
        raise InputError(f"a pass cannot go from {cur.value} to {nxt.value} (allowed: {allowed})")
    if nxt in NEEDS_REASON and not reason.strip():
        raise InputError(f"a pass going to {nxt.value} needs a reason")
    return nxt

"""The uplink policy: who may transmit, when, and how high the satellite must be. Pure checks.

Every check raises ``UplinkRefused(code, message)`` with a one-line reason:

=================  ==========  ==========================================================
check              code        when
=================  ==========  ==========================================================
role               forbidden   the client is not an operator
transmit enabled   refused     ``[uplink] transmit_enabled`` is false
pass known         not_found   no pass of that id
inside the pass    refused     the pass is over, cancelled, failed, or (at send time) not begun
elevation          refused     queue time: the pass culminates below ``min_el_deg``;
                               send time: the satellite is below it during the burst
=================  ==========  ==========================================================
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import GroundsegError
from ..orbit.elements import iso_utc

TERMINAL_STATES = ("completed", "failed", "cancelled", "interrupted")


class UplinkRefused(GroundsegError):
    """A telecommand refused by the policy; ``code`` is the control-plane error code."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class PassWindow:
    """What the policy needs of a pass."""

    pass_id: str
    norad: int
    aos_unix_s: float
    tca_unix_s: float
    los_unix_s: float
    max_el_deg: float
    state: str = "planned"

    @classmethod
    def from_record(cls, rec) -> "PassWindow":
        return cls(rec.pass_id, rec.norad, rec.aos_unix_s, rec.tca_unix_s, rec.los_unix_s, rec.max_el_deg,
                   str(getattr(rec.state, "value", rec.state)))


def check_role(role: str) -> None:
    if role != "operator":
        raise UplinkRefused("forbidden", f"telecommands need the operator role; this client is {role or 'unknown'}")


def check_enabled(transmit_enabled: bool) -> None:
    if not transmit_enabled:
        raise UplinkRefused("refused", "transmit is disabled in the configuration ([uplink] transmit_enabled = false)")


def check_pass_usable(p: PassWindow, now_unix_s: float, min_el_deg: float) -> None:
    """At queue time: the pass can still carry the telecommand."""
    if p.state in TERMINAL_STATES:
        raise UplinkRefused("refused", f"outside a pass: pass {p.pass_id} is {p.state}")
    if now_unix_s > p.los_unix_s:
        raise UplinkRefused("refused", f"outside a pass: pass {p.pass_id} ended at {iso_utc(p.los_unix_s)} UTC")
    if p.max_el_deg < min_el_deg:
        raise UplinkRefused("refused", f"below the elevation limit: pass {p.pass_id} culminates at "
                                       f"{p.max_el_deg:.1f} deg, under [uplink] min_el_deg {min_el_deg:g}")


def check_inside(p: PassWindow, t_start_unix_s: float, t_end_unix_s: float) -> None:
    """At send time: the whole burst lies inside the pass."""
    if p.state in TERMINAL_STATES:
        raise UplinkRefused("refused", f"outside a pass: pass {p.pass_id} is {p.state}")
    if t_start_unix_s < p.aos_unix_s or t_end_unix_s > p.los_unix_s:
        raise UplinkRefused("refused", f"outside a pass: {iso_utc(t_start_unix_s)} is not within pass {p.pass_id} "
                                       f"({iso_utc(p.aos_unix_s)} .. {iso_utc(p.los_unix_s)} UTC)")


def check_elevation(el_start_deg: float, el_end_deg: float, min_el_deg: float) -> None:
    low = min(el_start_deg, el_end_deg)
    if low < min_el_deg:
        raise UplinkRefused("refused", f"below the elevation limit: the satellite is at {low:.1f} deg, under "
                                       f"[uplink] min_el_deg {min_el_deg:g}")

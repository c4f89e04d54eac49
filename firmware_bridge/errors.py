"""Errors raised by the hardware bridge.

Every one is a :class:`groundseg.errors.GroundsegError`, so the CLI prints it as
one line. ``retryable`` tells the retry loop of a device whether another
attempt can help (a timeout or a garbled reply can; an angle outside the
limits cannot).
"""
from __future__ import annotations

from groundseg.errors import HardwareError, InputError


class LimitError(InputError):
    """An angle outside the rotator's configured limits (never clamped)."""

    retryable = False


class BridgeHardwareError(HardwareError):
    """Base of the device faults below."""

    retryable = True
    counter = "errors"


class DeviceTimeout(BridgeHardwareError):
    """The device did not answer within ``timeout_s``."""

    counter = "timeouts"


class ProtocolError(BridgeHardwareError):
    """The device answered with something that is not a valid reply (garbage)."""

    counter = "malformed"


class DeviceRejected(BridgeHardwareError):
    """The device answered, and its answer is an error (``?>``, ``RPRT -n``, NAK)."""

    counter = "rejected"

    def __init__(self, message: str, code: int | None = None, retryable: bool = True):
        super().__init__(message)
        self.code = code
        self.retryable = retryable


class PortAbsent(BridgeHardwareError):
    """The serial port (or TCP peer) is not there: unplugged, wrong path, refused."""

    counter = "port_errors"


class PortBusy(BridgeHardwareError):
    """Another program holds the serial port."""

    counter = "port_errors"
    retryable = False


class PortPermission(BridgeHardwareError):
    """The serial port exists but this user may not open it."""

    counter = "port_errors"
    retryable = False


class Disconnected(BridgeHardwareError):
    """The link went away in the middle of an exchange (unplug, peer closed)."""

    counter = "disconnects"


class OperationFailed(BridgeHardwareError):
    """An operation failed on every attempt; ``cause`` is the last fault."""

    retryable = False

    def __init__(self, message: str, cause: Exception | None = None):
        super().__init__(message)
        self.cause = cause


class Refused(HardwareError):
    """A command refused by policy (e.g. a pass owns the rotator)."""

    retryable = False

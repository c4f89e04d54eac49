"""Errors that reach the operator as one clear line (no traceback)."""


class GroundsegError(Exception):
    """Bad input or an unusable environment: the message is shown as is."""

    exit_code = 2


class InputError(GroundsegError):
    """A file, argument, TLE, config or reply that cannot be used."""


class HardwareError(GroundsegError):
    """A device (SDR, rotator, serial port) is missing, busy or failed."""

    exit_code = 3

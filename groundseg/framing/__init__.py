"""Framing: soft symbols in, frames out (and payloads in, channel bits out).

Contract (see ``base.py``):

* A deframer takes float32 soft symbols, one per channel symbol, sign = bit
  (> 0 is 1), magnitude = confidence, in chunks of any size. It finds sync
  (flags, sync words: both polarities where the line code does not already
  hide polarity), undoes line coding (NRZI, scramblers, precoding),
  deinterleaves, decodes FEC and checks CRCs, and returns ``Frame`` objects:
  the user data without FCS/parity/padding/length, plus whether the checks
  passed and how much FEC corrected. Bad input yields no frame, never an
  exception.
* A framer does the reverse for the modulators, the pass simulator and the
  uplink: payload bytes in, channel bits (0/1 uint8) out.

One module per framing; each registers a ``FramingSpec`` in ``FRAMINGS``
under the name the catalog uses (e.g. ``"AX.25 G3RUH"``). ``FRAMINGS`` is the
only list of framings: the catalog schema, CLI choices and docs read it.
"""
from __future__ import annotations

import importlib
import pkgutil

from ..registry import Registry
from .base import Deframer, Frame, Framer, FramingSpec, Option

FRAMINGS: Registry[FramingSpec] = Registry("framing")

_NOT_FRAMINGS = {"base"}
_loaded = False


def register(spec: FramingSpec) -> FramingSpec:
    return FRAMINGS.add(spec.name, spec)


def load_all() -> Registry[FramingSpec]:
    """Import every framing module so that each registers itself."""
    global _loaded
    if not _loaded:
        _loaded = True
        for info in pkgutil.iter_modules(__path__):
            if info.name not in _NOT_FRAMINGS and not info.name.startswith("_"):
                importlib.import_module(f"{__name__}.{info.name}")
    return FRAMINGS


def get(name: str) -> FramingSpec:
    return load_all().get(name)


__all__ = ["FRAMINGS", "Deframer", "Frame", "Framer", "FramingSpec", "Option",
           "register", "load_all", "get"]

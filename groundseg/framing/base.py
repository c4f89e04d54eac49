"""The deframer and framer contracts every framing module implements."""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


@dataclass
class Frame:
    """One frame as delivered to users.

    ``data`` is what the satellite sent, stripped of everything the link added:
    AX.25 without its FCS, RS-coded framings without parity, padding or
    length byte.
    """

    data: bytes
    end_symbol: int                 # index in the soft-symbol stream just past the frame
    crc_ok: bool | None = None      # None: the framing has no check
    corrected: int | None = None    # symbol/byte errors corrected by FEC (None: no FEC)
    repaired_bits: int = 0          # bits flipped by soft repair to make the CRC pass
    inverted: bool = False          # found with inverted polarity
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        """Passed every check the framing has (CRC, FEC) or has none."""
        return self.crc_ok is not False


class Deframer(abc.ABC):
    """Streaming deframer: soft symbols in, frames out.

    Soft symbols are float32, one per channel symbol as it left the
    demodulator: the sign is the hard decision (> 0 is a 1), the magnitude
    the confidence. Chunks arrive in any size; a frame may straddle chunks.
    Symbol indices count from the first symbol ever passed to ``process``.
    Bad input (noise, garbage after a sync word, all zeros) yields no frame
    and never raises.
    """

    @abc.abstractmethod
    def process(self, soft: np.ndarray) -> list[Frame]:
        """Consume a chunk of soft symbols; return the frames completed in it."""

    def flush(self) -> list[Frame]:
        """End of stream: return whatever can still be completed."""
        return []


class Framer(abc.ABC):
    """Frames payloads into channel symbols (0/1 uint8), all line coding applied."""

    @abc.abstractmethod
    def frame(self, payload: bytes) -> np.ndarray:
        """Channel bits for one frame, including its preamble/sync."""

    def frames(self, payloads: list[bytes], gap_bits: int = 0) -> np.ndarray:
        """Channel bits for a burst of frames (default: frames back to back)."""
        parts = []
        for p in payloads:
            parts.append(self.frame(p))
            if gap_bits:
                parts.append(np.zeros(gap_bits, dtype=np.uint8))
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint8)


@dataclass(frozen=True)
class Option:
    """A catalog option a framing accepts (e.g. ``frame_size``)."""

    type: type
    default: Any = None
    choices: tuple | None = None
    help: str = ""


@dataclass(frozen=True)
class FramingSpec:
    """What a framing module registers: its name, factories and options."""

    name: str
    description: str
    deframer: Callable[..., Deframer]
    framer: Callable[..., Framer] | None = None
    options: dict[str, Option] = field(default_factory=dict)
    module: str = ""

    def check_options(self, options: dict[str, Any]) -> list[str]:
        """Return one message per problem with ``options`` (empty when fine)."""
        errs = []
        for k, v in options.items():
            opt = self.options.get(k)
            if opt is None:
                errs.append(f"framing {self.name!r} has no option {k!r}"
                            f" (options: {', '.join(sorted(self.options)) or 'none'})")
                continue
            if opt.type is int and (isinstance(v, bool) or not isinstance(v, int)):
                errs.append(f"option {k!r} must be an integer, not {v!r}")
            elif opt.type is str and not isinstance(v, str):
                errs.append(f"option {k!r} must be a string, not {v!r}")
            elif opt.choices is not None and v not in opt.choices:
                errs.append(f"option {k!r} must be one of {list(opt.choices)}, not {v!r}")
        return errs

    def resolved(self, options: dict[str, Any]) -> dict[str, Any]:
        out = {k: o.default for k, o in self.options.items() if o.default is not None}
        out.update(options)
        return out

    def make_deframer(self, **options) -> Deframer:
        return self.deframer(**self.resolved(options))

    def make_framer(self, **options) -> Framer:
        if self.framer is None:
            raise NotImplementedError(f"framing {self.name!r} has no framer")
        return self.framer(**self.resolved(options))

"""SMOG-P / ATL-1 (BME, Budapest) framings besides AO-40 FEC: RA-coded packets and signalling.

Registered names:

* ``"SMOG-P RA"`` (option ``frame_size`` 128 or 256): the repeat-accumulate
  coded packets. On the air: the 16-bit sync word 0x2DD4, then the RA
  codeword of the packet (``groundseg.dsp.ra_code``: 130 16-bit words for 128
  bytes, 257 for 256 bytes; rate about 1/2), no scrambler, no CRC.
* ``"SMOG-P Signalling"``: the short frames SMOG-P sends to announce its
  next downlink mode. The 64-bit sync word 0x2DD4 97FD D37B 0F1F, then 64
  bytes: 58 bytes continuing a fixed pseudo-random pattern (the sync word's
  last 48 bits are its first 6 bytes: 97 FD D3 7B 0F 1F 6D 08 F7 83 ...)
  and 6 flag bytes, each one flag bit repeated 8 times (0x00 or 0xFF). Flags
  0-2 (MSB first) index the downlink rate (500, 1250, 2500, 5000, 12500
  baud), flags 3-5 the coding (published table: RX, AO-40 short, AO-40,
  RA (260,128), RA (514,256); in the corpus a signalling frame with coding
  0 precedes AO-40 short frames, so take the names with care).

RA receive side, in batches of new positions: the 16-bit sync word, by its
soft correlation z-score ``sum(sign_i y_i) / sqrt(sum(y_i^2))`` >= 2 (noise:
N(0, 1), 2.3 % of positions per polarity; a sync word at Eb/N0 = 2 dB scores
3.1 +- 0.6) or by its bit errors (``syncword_threshold``, default 3), in both
polarities; then for all hits at once the
code's 1056 / 2064 parity checks of at most 8 bits (``RaCode.checks``) on
the hard decisions (kernel, microseconds per hit; random bits satisfy half of
them, a hit goes on when the excess is 1.5 sigma), then the soft z-score of
the same checks (``check_score``, at least 3; about N(0, 1) on noise, 4 to
13 for real frames from Eb/N0 = 1.5 dB on), and only then the
belief-propagation decoder (Cython kernel ``ra_code.pyx``). White noise
costs about 0.7 / 1.1 us per symbol (128 / 256 bytes; the sync word
search, the hard checks of 4.6 % of the positions and the soft checks of
a tenth of those). A frame is valid when
the decoder settled (hard decisions unchanged for three iterations) on a
packet whose re-encoding disagrees with the received hard decisions in at
most 18 % of the channel bits: over 25000 noise candidates the lowest
disagreement was 28 %, while the decoder does not succeed above about 15 %
(its threshold is near Eb/N0 = 1 dB). The 16-bit sync word, not the code,
limits the sensitivity: ``tests/benchmarks/bench_ao40_sensitivity.py``
measures both.

The code is linear and nothing scrambles it, and since rotating 0x0000 or
0xFFFF gives the same word, an accumulator that is 0x0000 or 0xFFFF stays so
over zero data words: long runs of constant symbols (a demodulator sitting
on a carrier or on silence; the corpus recordings' FSK chains show
thousands of them) are close to codewords of packets that are zero but for
a 0xFFFF word here and there, and the decoder finds those. Such decodes are
refused: the all-zero packet (SMOG-P never sends it: its packets start with
a nonzero type byte), and any packet whose codeword has more than 8 words
0x0000 or 0xFFFF after the leading zero words of each pass (for a packet of
real data the accumulator is then random: 2 in 65536 per word). The price:
a packet that really has 0xFFFF words between runs of zero words (erased
flash in a file fragment, say) may be refused.

Frames delivered (RA): ``data`` the 128/256 bytes, ``crc_ok`` True (the
decoder check passed; False only with ``keep_invalid``), ``corrected`` the
channel bits the decoder corrected, ``meta["ra"] = {"iterations",
"sync_errors", "check_score"}``.

Signalling: the search word is all the frame's known bits, the 64-bit sync
word and the 58 pattern bytes (528 bits), ``syncword_threshold`` errors
tolerated (default 110, 21 %: noise has 264 +- 11.5, so a false hit is a
13-sigma event; a real frame is found up to about 15 % channel bit errors,
and when the demodulator settles only during the sync word, which the
corpus shows: the 1250-baud frame in smog_p_5k.wav after a 5000-baud burst
has 13 errors in its first 64 bits). The frame is valid when both indices
are in their tables. ``data`` is the 64 bytes after the sync word as sent:
the pattern and each flag byte as its majority decision (0x00 / 0xFF);
``crc_ok`` None (no CRC), ``corrected`` the flag bits the majority vote
overrode, ``meta["smogp_signalling"] = {"downlink_baud", "coding",
"coding_index", "pattern_bit_errors"}`` (errors in the 528 known bits).

Framers: ``SMOG-P RA``: ``frame(payload)`` (exactly ``frame_size`` bytes) ->
sync word + codeword. ``SMOG-P Signalling``: ``frame(payload)`` with the 64
bytes a deframer delivers (``signalling_packet(downlink_baud, coding_index)``
builds them) -> sync word + packet.
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError
from . import Deframer, Frame, Framer, FramingSpec, Option, register
from ._sync import SyncDeframer, bits_from_bytes, bits_from_int

try:
    from ..dsp.ra_code import RaCode
except ImportError:  # kernel not built (``make setup``): the reference gives the same results
    from ..dsp.ra_code_ref import RaCode

RA_SYNC = 0x2DD4
RA_SYNC_BITS = bits_from_int(RA_SYNC, 16)
RA_FRAME_SIZES = (128, 256)
RA_DEFAULT_SYNC_ERRORS = 3
RA_MAX_ERROR_FRACTION = 0.18
RA_MIN_SYNC_SCORE = 2.0      # soft correlation z-score of the sync word
RA_MIN_HARD_SCORE = 1.5      # z-score of the parity checks on hard decisions
RA_MIN_CHECK_SCORE = 3.0     # z-score of the parity checks on soft decisions
RA_MIN_BATCH = 2048          # sync positions searched at once
RA_MAX_CONSTANT_WORDS = 8    # code words 0x0000 / 0xFFFF after a pass's start (see the docstring)

# the signalling pattern: its first 6 bytes end the sync word
SIGNALLING_PATTERN = bytes.fromhex(
    "97fdd37b0f1f6d08f7835d9e5982c0fd1dcaad3b5bebd493e14a04d228ddf90153d2e66c"
    "5b256531c57ce7f138612d5c033ac68890db8c8c42f3517543a08393")
SIGNALLING_SYNC_BITS = np.concatenate([RA_SYNC_BITS, bits_from_bytes(SIGNALLING_PATTERN[:6])])
SIGNALLING_BYTES = 64
SIGNALLING_FLAG_BYTES = 6
SIGNALLING_DEFAULT_SYNC_ERRORS = 110      # of the 528 known bits (noise: 264 +- 11.5)
SIGNALLING_MAX_SYNC_ERRORS = 200
DOWNLINK_BAUD = (500, 1250, 2500, 5000, 12500)
CODINGS = ("RX", "AO-40 short", "AO-40", "RA (260, 128)", "RA (514, 256)")
_PATTERN_BITS = bits_from_bytes(SIGNALLING_PATTERN[6:])


def _check_threshold(name: str, value, default: int, hi: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value <= hi:
        raise InputError(f"{name} syncword_threshold must be 0..{hi} bit errors, not {value!r}")
    return int(value)


def _check_frame_size(frame_size) -> int:
    if isinstance(frame_size, bool) or frame_size not in RA_FRAME_SIZES:
        raise InputError(f"SMOG-P RA frame_size must be one of {list(RA_FRAME_SIZES)}, "
                         f"not {frame_size!r}")
    return int(frame_size)


# --- RA -------------------------------------------------------------------------------------

def constant_code_words(code: RaCode, data: bytes) -> int:
    """Code words 0x0000 or 0xFFFF in the packet's codeword, not counting each pass's
    leading zero words (the accumulator is 0 until the pass meets a nonzero word)."""
    words = code.encode_words(data)
    L, C = code.data_words, code.check_words
    n = 0
    for a, b in ((0, L), (L, L + C), (L + C, L + 2 * C), (L + 2 * C, L + 3 * C)):
        w = words[a:b]
        nz = np.flatnonzero(w)
        if nz.size:
            w = w[nz[0]:]
            n += int(np.count_nonzero((w == 0) | (w == 0xFFFF)))
    return n


class SmogpRaDeframer(Deframer):
    """Soft symbols in, RA-decoded SMOG-P packets out.

    Fixed-length frames, searched in batches: sync word hits (both
    polarities) over every new position, then, for all hits at once, the
    parity checks on the hard decisions (kernel ``hard_check_counts``: a few
    microseconds per hit), then for the survivors the soft check score, and
    only then the iterative decoder.
    """

    def __init__(self, frame_size: int = 128, syncword_threshold: int | None = None,
                 keep_invalid: bool = False):
        self.code = RaCode(_check_frame_size(frame_size))
        self.max_sync_errors = _check_threshold("SMOG-P RA", syncword_threshold,
                                                RA_DEFAULT_SYNC_ERRORS, 6)
        self.keep_invalid = bool(keep_invalid)
        self.allow_inverted = True
        self._n = self.code.code_bits
        self._nchecks = len(self.code.checks)
        self._sync_pm = (2.0 * RA_SYNC_BITS.astype(np.float32) - 1.0)[::-1].copy()
        self._soft = np.zeros(0, np.float32)
        self._hard = np.zeros(0, np.uint8)
        self._start = 0              # absolute index of the buffers' first symbol
        self._searched = 0           # next sync start position to test
        self._busy_until = 0         # end of the last valid frame

    def process(self, soft: np.ndarray) -> list[Frame]:
        x = np.asarray(soft, dtype=np.float32).ravel()
        if x.size:
            x = np.where(np.isfinite(x), x, np.float32(0.0)).astype(np.float32)
            self._soft = np.concatenate([self._soft, x]) if self._soft.size else x.copy()
            self._hard = np.concatenate([self._hard, (x > 0).astype(np.uint8)])
        return self._run(final=False)

    def flush(self) -> list[Frame]:
        return self._run(final=True)

    def _run(self, final: bool) -> list[Frame]:
        out: list[Frame] = []
        nsync = len(RA_SYNC_BITS)
        end = self._start + len(self._soft)
        m = end - (nsync + self._n) - self._searched + 1       # sync starts with a whole frame
        if m <= 0 or (m < RA_MIN_BATCH and not final):
            return out
        lo = self._searched - self._start
        seg = 2.0 * self._hard[lo:lo + m + nsync - 1].astype(np.float32) - 1.0
        corr = np.convolve(seg, self._sync_pm, mode="valid")          # = correlation
        ys = self._soft[lo:lo + m + nsync - 1]
        energy = np.convolve(ys * ys, np.ones(nsync, np.float32), mode="valid")
        z = np.convolve(ys, self._sync_pm, mode="valid") / np.sqrt(np.maximum(energy, 1e-30))
        need = nsync - 2 * self.max_sync_errors
        if self.allow_inverted:
            hits = np.flatnonzero((np.abs(corr) >= need) | (np.abs(z) >= RA_MIN_SYNC_SCORE))
        else:
            hits = np.flatnonzero((corr >= need) | (z >= RA_MIN_SYNC_SCORE))
        if hits.size:
            inv = np.where(np.abs(corr[hits]) >= need, corr[hits] < 0, z[hits] < 0)
            cw = lo + hits + nsync                                    # codeword starts (buffer)
            sat = self.code.hard_check_counts(self._hard, cw, inv)
            z = (2.0 * sat - self._nchecks) / np.sqrt(self._nchecks)
            for i in np.flatnonzero(z >= RA_MIN_HARD_SCORE).tolist():
                fr = self._candidate(int(cw[i]), bool(inv[i]), int(corr[hits[i]]))
                if fr is not None:
                    out.append(fr)
        self._searched += m
        cut = self._searched - self._start
        self._soft = self._soft[cut:]
        self._hard = self._hard[cut:]
        self._start = self._searched
        return out

    def _candidate(self, cw: int, inverted: bool, corr: int) -> Frame | None:
        nsync = len(RA_SYNC_BITS)
        if self._start + cw - nsync < self._busy_until:
            return None
        block = self._soft[cw:cw + self._n]
        if inverted:
            block = -block
        score = self.code.check_score(block)
        if score < RA_MIN_CHECK_SCORE:
            return None
        res = self.code.decode(block, max_error_fraction=RA_MAX_ERROR_FRACTION)
        valid = res.valid and any(res.data) and \
            constant_code_words(self.code, res.data) <= RA_MAX_CONSTANT_WORDS
        if not valid and not self.keep_invalid:
            return None
        fr = Frame(data=res.data, end_symbol=self._start + cw + self._n, crc_ok=bool(valid),
                   corrected=int(res.errors), inverted=inverted,
                   meta={"ra": {"iterations": int(res.iterations),
                                "sync_errors": (nsync - abs(corr)) // 2,
                                "check_score": round(float(score), 2)}})
        if valid:
            self._busy_until = fr.end_symbol
        return fr


class SmogpRaFramer(Framer):
    def __init__(self, frame_size: int = 128, syncword_threshold: int | None = None):
        self.code = RaCode(_check_frame_size(frame_size))
        _check_threshold("SMOG-P RA", syncword_threshold, RA_DEFAULT_SYNC_ERRORS, 6)

    def frame(self, payload: bytes) -> np.ndarray:
        return np.concatenate([RA_SYNC_BITS, self.code.encode(bytes(payload))])


# --- signalling ------------------------------------------------------------------------------

def signalling_packet(downlink_baud: int, coding_index: int) -> bytes:
    """The 64 bytes after the sync word announcing a downlink mode."""
    if downlink_baud not in DOWNLINK_BAUD:
        raise InputError(f"SMOG-P signalling: downlink rate must be one of {list(DOWNLINK_BAUD)}, "
                         f"not {downlink_baud!r}")
    if isinstance(coding_index, bool) or coding_index not in range(len(CODINGS)):
        raise InputError(f"SMOG-P signalling: coding index must be 0..{len(CODINGS) - 1}, "
                         f"not {coding_index!r}")
    v = (DOWNLINK_BAUD.index(downlink_baud) << 3) | coding_index
    flags = bytes(0xFF if (v >> (5 - i)) & 1 else 0x00 for i in range(SIGNALLING_FLAG_BYTES))
    return SIGNALLING_PATTERN[6:] + flags


class SmogpSignallingDeframer(SyncDeframer):
    """Soft symbols in, SMOG-P signalling packets out.

    The search word is everything known in a signalling frame: the 64-bit
    sync word and the 58 pattern bytes (528 bits); what follows it is the 6
    flag bytes.
    """

    sync_bits = np.concatenate([SIGNALLING_SYNC_BITS, _PATTERN_BITS])
    max_frame_symbols = 8 * SIGNALLING_FLAG_BYTES

    def __init__(self, syncword_threshold: int | None = None, keep_invalid: bool = False):
        self.max_sync_errors = _check_threshold("SMOG-P Signalling", syncword_threshold,
                                                SIGNALLING_DEFAULT_SYNC_ERRORS,
                                                SIGNALLING_MAX_SYNC_ERRORS)
        self.keep_invalid = bool(keep_invalid)
        super().__init__()

    def decode_frame(self, soft: np.ndarray, start_symbol: int):
        flag_soft = soft.reshape(SIGNALLING_FLAG_BYTES, 8)
        flags = (flag_soft.sum(axis=1) > 0).astype(np.uint8)
        flag_hard = (flag_soft > 0).astype(np.uint8)
        corrected = int(np.count_nonzero(flag_hard != flags[:, None]))
        speed = (int(flags[0]) << 2) | (int(flags[1]) << 1) | int(flags[2])
        coding = (int(flags[3]) << 2) | (int(flags[4]) << 1) | int(flags[5])
        ok = speed < len(DOWNLINK_BAUD) and coding < len(CODINGS)
        if not ok and not self.keep_invalid:
            return None
        data = SIGNALLING_PATTERN[6:] + bytes(0xFF if f else 0 for f in flags)
        meta = {"smogp_signalling": {
            "downlink_baud": DOWNLINK_BAUD[speed] if speed < len(DOWNLINK_BAUD) else None,
            "coding": CODINGS[coding] if coding < len(CODINGS) else None,
            "coding_index": coding,
            "pattern_bit_errors": int(self.sync_errors)}}
        return Frame(data=data, end_symbol=0, crc_ok=None if ok else False, corrected=corrected,
                     meta=meta)


class SmogpSignallingFramer(Framer):
    def __init__(self, syncword_threshold: int | None = None):
        _check_threshold("SMOG-P Signalling", syncword_threshold, SIGNALLING_DEFAULT_SYNC_ERRORS,
                         SIGNALLING_MAX_SYNC_ERRORS)

    def frame(self, payload: bytes) -> np.ndarray:
        p = bytes(payload)
        if len(p) != SIGNALLING_BYTES:
            raise InputError(f"SMOG-P signalling packets are {SIGNALLING_BYTES} bytes, not {len(p)}")
        return np.concatenate([SIGNALLING_SYNC_BITS, bits_from_bytes(p)])


register(FramingSpec(
    name="SMOG-P RA",
    description="SMOG-P/ATL-1 repeat-accumulate coded packets (128 or 256 bytes) after "
                "the sync word 0x2DD4",
    deframer=SmogpRaDeframer,
    framer=SmogpRaFramer,
    options={
        "frame_size": Option(int, 128, RA_FRAME_SIZES, "packet size in bytes before coding"),
        "syncword_threshold": Option(int, None, help="sync word bit errors tolerated (default 3)"),
    },
    module=__name__,
))

register(FramingSpec(
    name="SMOG-P Signalling",
    description="SMOG-P signalling frames announcing the next downlink rate and coding "
                "(64-bit sync word, repetition-coded flags)",
    deframer=SmogpSignallingDeframer,
    framer=SmogpSignallingFramer,
    options={
        "syncword_threshold": Option(int, None, help="bit errors tolerated in the 528 known bits "
                                                     "(sync word and pattern; default 110)"),
    },
    module=__name__,
))

__all__ = ["SmogpRaDeframer", "SmogpRaFramer", "constant_code_words", "SmogpSignallingDeframer", "SmogpSignallingFramer",
           "signalling_packet", "RA_SYNC", "SIGNALLING_PATTERN", "DOWNLINK_BAUD", "CODINGS"]

"""LilacSat-1 (HIT, also BY02): "LilacSat-1" framing, convolutionally coded telemetry + Codec2 voice.

9600 baud BPSK. From gr-satellites' LilacSat-1 deframer and demultiplexer
(facts only) and the corpus recordings. Transmit side: a continuous stream
of 120-byte frames, each::

    ASM 1ACFFC1D | 116 bytes XORed with the CCSDS randomizer (x^8+x^7+x^5+x^3+1,
                   all-ones seed, restarted after every ASM)

then differential encoding (``y[n] = x[n] ^ y[n-1]``) and the K=7 r=1/2
convolutional code in the CCSDS convention (0o171, 0o133 with the second
output inverted), not terminated. The code is transparent and the
differential coding removes the resulting complement, so the BPSK phase
ambiguity needs no handling; the pairing of channel symbols is unknown, so
two Viterbi decoders run, one per pairing.

The 120 bytes (ASM included) are five 24-byte chunks: bytes 0..16 of each
chunk belong to the data channel, bytes 17..23 to the voice channel, so a
frame carries 5 * 17 - 4 = 81 data bytes (a chunk of the KISS stream on
LilacSat-1, a CCSDS-like TM frame on BY02) and five 7-byte Codec2 frames
(1300 bit/s mode).

There is no CRC. What vouches for a frame: its ASM (``max_sync_errors``,
default 3 of 32 bits) and the Viterbi decoder's agreement with the channel
(the decoded bits are re-encoded and compared with the received symbols:
at most ``max_channel_errors``, default 10 %, may differ over the frame,
and at most 28 in any 128 symbols, which catches a frame whose end was
lost when the signal dropped; the wrong pairing gives about 13 %, noise
30 % or more). This measures the channel, not the decoder's success (an
ML decoding error agrees with the received symbols better than the truth
does): the limits sit where the code still decodes (10 % is Eb/N0 3.2 dB,
where ML decoding loses about 1 frame in 10) and below the wrong pairing.
A candidate overlapping a frame already delivered is dropped (a false ASM
inside good data would pass both tests).

Frames delivered: the 81 data bytes, ``crc_ok`` None (no check),
``corrected`` = channel symbols the Viterbi decoder disagreed with;
``meta``: ``codec2`` (hex of the 35 voice bytes), ``channel_errors``,
``channel_error_rate``, ``burst_errors`` (the most in 128 symbols),
``sync_errors``, ``pairing`` (0/1).
"""
from __future__ import annotations

import numpy as np

from ..dsp import fec
from ..errors import InputError
from . import Deframer, Frame, Framer, FramingSpec, Option, register
from ._sync import bits_from_bytes, bits_from_int

ASM = 0x1ACFFC1D
FRAME_BYTES = 116                     # after the ASM
CHUNK_BYTES, VOICE_BYTES, CHUNKS = 24, 7, 5
DATA_BYTES = CHUNKS * (CHUNK_BYTES - VOICE_BYTES) - 4        # 81
CODEC2_BYTES = CHUNKS * VOICE_BYTES                          # 35
CONVENTION = "CCSDS"
_ASM_BITS = bits_from_int(ASM, 32)
_ASM_PM = 2.0 * _ASM_BITS.astype(np.float32) - 1.0
_FRAME_BITS = 8 * FRAME_BYTES
_SPAN_BITS = 32 + _FRAME_BITS          # ASM + frame, in decoded bits
_K = fec.K
VITERBI_BLOCK = 2048                   # channel symbols per Viterbi call (even)
WINDOW_SYMBOLS, MAX_WINDOW_ERRORS = 128, 28   # a stretch this bad: the signal was lost there


def demux(frame116: bytes) -> tuple[bytes, bytes]:
    """116 derandomized bytes -> (81 data bytes, 35 Codec2 bytes)."""
    full = bytes(4) + bytes(frame116)
    chunks = [full[i:i + CHUNK_BYTES] for i in range(0, len(full), CHUNK_BYTES)]
    data = b"".join(c[:CHUNK_BYTES - VOICE_BYTES] for c in chunks)[4:]
    return data, b"".join(c[CHUNK_BYTES - VOICE_BYTES:] for c in chunks)


def mux(data: bytes, codec2: bytes) -> bytes:
    """(81 data bytes, 35 Codec2 bytes) -> the 116 bytes after the ASM (not randomized)."""
    d = bytes(4) + bytes(data)
    out = b"".join(d[17 * k:17 * (k + 1)] + codec2[VOICE_BYTES * k:VOICE_BYTES * (k + 1)]
                   for k in range(CHUNKS))
    return out[4:]


class _Pairing:
    """One Viterbi decoder and its decoded, differentially decoded bit stream."""

    def __init__(self, offset: int):
        self.offset = offset                  # channel symbol of decoded bit 0's first symbol
        self.vit = fec.ViterbiDecoder(CONVENTION)
        self.bits = np.zeros(0, np.uint8)     # Viterbi output (before differential decoding)
        self.start = 0                        # absolute index of bits[0]
        self.searched = 1                     # next ASM start to look at (decoded bit index)
        self.pending: list[tuple[int, int]] = []   # (ASM start, sync errors)
        self._skip = offset                   # channel symbols still to drop before pairing
        self._held = np.zeros(0, np.float32)  # channel symbols waiting for a whole block

    def feed(self, x: np.ndarray, final: bool) -> None:
        """Decode in fixed blocks, so that the output does not depend on the chunking."""
        if self._skip and len(x):
            k = min(self._skip, len(x))
            x, self._skip = x[k:], self._skip - k
        self._held = np.concatenate([self._held, x]) if len(x) else self._held
        n = len(self._held) if final else len(self._held) // VITERBI_BLOCK * VITERBI_BLOCK
        new = [self.vit.decode_stream(self._held[i:i + VITERBI_BLOCK])
               for i in range(0, n, VITERBI_BLOCK)]
        self._held = self._held[n:]
        if final:
            new.append(self.vit.flush())
        if new:
            self.bits = np.concatenate([self.bits, *new])

    @property
    def end(self) -> int:
        return self.start + len(self.bits)


class LilacSat1Deframer(Deframer):
    def __init__(self, max_sync_errors: int = 3, max_channel_errors: float = 0.10,
                 keep_invalid: bool = False):
        if isinstance(max_sync_errors, bool) or not isinstance(max_sync_errors, int) \
                or not 0 <= max_sync_errors <= 8:
            raise InputError(f"LilacSat-1 max_sync_errors must be an integer 0..8, not {max_sync_errors!r}")
        if isinstance(max_channel_errors, bool) or not isinstance(max_channel_errors, (int, float)) \
                or not 0.0 <= max_channel_errors <= 0.5:
            raise InputError(f"LilacSat-1 max_channel_errors must be a fraction 0..0.5, "
                             f"not {max_channel_errors!r}")
        self.max_sync_errors = max_sync_errors
        self.max_channel_errors = float(max_channel_errors)
        self.keep_invalid = bool(keep_invalid)
        self._pairings = [_Pairing(0), _Pairing(1)]
        self._ch = np.zeros(0, np.float32)     # channel symbols kept for the re-encoding check
        self._ch_start = 0
        self._taken: list[tuple[int, int]] = []   # channel spans of frames delivered

    def process(self, soft: np.ndarray) -> list[Frame]:
        return self._run(np.ascontiguousarray(soft, dtype=np.float32).reshape(-1), False)

    def flush(self) -> list[Frame]:
        return self._run(np.zeros(0, np.float32), True)

    def _run(self, x: np.ndarray, final: bool) -> list[Frame]:
        if len(x):
            self._ch = np.concatenate([self._ch, x]) if len(self._ch) else x.copy()
        out: list[Frame] = []
        for p in self._pairings:
            p.feed(x, final)
            self._search(p)
            out += self._decode_pending(p)
            # keep the bits still needed: pending frames and the next search window
            keep = min([s for s, _ in p.pending] + [p.searched]) - 1 - _K
            cut = keep - p.start
            if cut > 0:
                p.bits = p.bits[cut:]
                p.start = keep
        # channel symbols older than any bit a pairing may still re-encode
        keep_ch = min(2 * p.start + p.offset for p in self._pairings)
        cut = keep_ch - self._ch_start
        if cut > 0:
            self._ch = self._ch[cut:]
            self._ch_start = keep_ch
        out.sort(key=lambda f: f.end_symbol)
        return out

    def _search(self, p: _Pairing) -> None:
        lo = p.searched
        hi = p.end - 32                        # last ASM start with all its bits decoded
        if hi < lo:
            return
        e = p.bits[lo - 1 - p.start:hi + 32 - p.start]
        d = (e[1:] ^ e[:-1]).astype(np.float32) * 2.0 - 1.0
        corr = np.correlate(d, _ASM_PM, mode="valid")
        for i in np.flatnonzero(corr >= 32 - 2 * self.max_sync_errors).tolist():
            p.pending.append((lo + i, int((32 - corr[i]) // 2)))
        p.searched = hi + 1

    def _decode_pending(self, p: _Pairing) -> list[Frame]:
        out, still = [], []
        for start, sync_errors in p.pending:
            if start + _SPAN_BITS > p.end:
                still.append((start, sync_errors))
                continue
            fr = self._decode(p, start, sync_errors)
            if fr is not None:
                out.append(fr)
        p.pending = still
        return out

    def _decode(self, p: _Pairing, start: int, sync_errors: int) -> Frame | None:
        a = start + 32 - p.start
        e = p.bits[a - 1:a + _FRAME_BITS]
        frame = np.packbits(e[1:] ^ e[:-1])
        ch_lo, ch_hi = 2 * start + p.offset, 2 * (start + _SPAN_BITS) + p.offset
        if any(min(ch_hi, hi) - max(ch_lo, lo) > 64 for lo, hi in self._taken):
            return None
        # re-encode the decoded bits of the span (from K-1 bits before: the encoder state)
        b0 = max(p.start, start - (_K - 1))
        enc = fec.conv_encode(p.bits[b0 - p.start:start + _SPAN_BITS - p.start], CONVENTION,
                              terminate=False)[2 * (start - b0):]
        rx = self._ch[ch_lo - self._ch_start:ch_hi - self._ch_start]
        if len(rx) != len(enc):
            return None
        wrong = ((rx > 0) != enc.astype(bool)).astype(np.int32)
        errors = int(wrong.sum())
        rate = errors / len(enc)
        burst = int(np.convolve(wrong, np.ones(WINDOW_SYMBOLS, np.int32), "valid").max())
        ok = rate <= self.max_channel_errors and burst <= MAX_WINDOW_ERRORS
        if not ok and not self.keep_invalid:
            return None
        if ok:
            self._taken = (self._taken + [(ch_lo, ch_hi)])[-8:]
        data, codec2 = demux(fec.ccsds_derandomize(frame).tobytes())
        return Frame(data=data, end_symbol=ch_hi, crc_ok=None if ok else False, corrected=errors,
                     meta={"codec2": codec2.hex(), "channel_errors": errors,
                           "channel_error_rate": round(rate, 4), "burst_errors": burst,
                           "sync_errors": sync_errors,
                           "pairing": p.offset})


class LilacSat1Framer(Framer):
    """81 data bytes (+ 35 Codec2 bytes) -> ASM + randomized frame -> differential -> K=7 code.

    The encoder states carry across frames as in the satellite's continuous
    stream; ``preamble_bits``/``tail_bits`` zero bits are sent before and
    after each frame so that a lone frame decodes too.
    """

    def __init__(self, preamble_bits: int = 32, tail_bits: int = 32, **deframer_options):
        unknown = set(deframer_options) - set(OPTIONS)
        if unknown:
            raise InputError(f"unknown LilacSat-1 framer option(s): {', '.join(sorted(unknown))}")
        for name, v in (("preamble_bits", preamble_bits), ("tail_bits", tail_bits)):
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 4096:
                raise InputError(f"LilacSat-1 {name} must be 0..4096, not {v!r}")
        self.preamble_bits, self.tail_bits = preamble_bits, tail_bits
        self._diff = fec.DifferentialEncoder()
        self._conv = fec.ConvEncoder(CONVENTION)

    def frame(self, payload: bytes, codec2: bytes = b"") -> np.ndarray:
        payload, codec2 = bytes(payload), bytes(codec2)
        if len(payload) > DATA_BYTES or len(codec2) > CODEC2_BYTES:
            raise InputError(f"a LilacSat-1 frame holds {DATA_BYTES} data and {CODEC2_BYTES} Codec2 "
                             f"bytes, not {len(payload)} and {len(codec2)}")
        body = mux(payload.ljust(DATA_BYTES, b"\x00"), codec2.ljust(CODEC2_BYTES, b"\x00"))
        bits = np.concatenate([np.zeros(self.preamble_bits, np.uint8), _ASM_BITS,
                               bits_from_bytes(fec.ccsds_randomize(body).tobytes()),
                               np.zeros(self.tail_bits, np.uint8)])
        return self._conv.encode(self._diff.encode(bits))


OPTIONS = {
    "max_sync_errors": Option(int, 3, tuple(range(9)), "bit errors tolerated in the ASM (after Viterbi)"),
}

register(FramingSpec(
    name="LilacSat-1",
    description="LilacSat-1/BY02: K=7 r=1/2 code (CCSDS), differential coding, ASM, CCSDS "
                "randomizer; 81 data bytes + 35 Codec2 bytes per frame; no CRC",
    deframer=LilacSat1Deframer,
    framer=LilacSat1Framer,
    options=OPTIONS,
    module=__name__,
))

__all__ = ["LilacSat1Deframer", "LilacSat1Framer", "demux", "mux", "DATA_BYTES", "CODEC2_BYTES", "ASM"]

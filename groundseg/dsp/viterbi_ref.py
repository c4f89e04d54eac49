"""Convolutional code K=7 rate 1/2 and its soft-decision Viterbi decoder: reference.

The code: a 7-bit shift register ``sr`` whose bit 6 is the newest input bit;
for each input bit ``b``::

    sr = (b << 6) | state                # state = the 6 previous bits, bit 5 newest
    out[i] = parity(sr & polys[i]) ^ ((invert >> i) & 1)     for i = 0, 1 (sent in that order)
    state = sr >> 1

with the polynomials written as in CCSDS 131.0-B (0o171 = 1111001: the MSB is
the tap on the newest bit). Conventions in use (``CONVENTIONS``, the names
follow gr-satellites' SatYAML):

=====================  ==================  =========================
name                   polys (1st, 2nd)    invert (bit i: output i)
=====================  ==================  =========================
"CCSDS"                (0o171, 0o133)      0b10 (G2 inverted)
"NASA-DSN"             (0o133, 0o171)      0b01 (first output inverted)
"CCSDS uninverted"     (0o171, 0o133)      0
"NASA-DSN uninverted"  (0o133, 0o171)      0  (libfec/GNU Radio default order)
=====================  ==================  =========================

Soft symbols: float (any scale, > 0 for a 1) or int8 (-127..127, > 0 for a 1,
0 = erasure/puncture). Float input is quantised to int8 by
:func:`quantize_soft`: ``q = clip(rint(y * scale), -127, 127)`` in float32 with
``scale = 48 / mean(|y|)`` (over the finite values) unless given; NaN becomes 0. The decoder minimises the integer path
cost, per symbol ``127 + q`` when the branch expects a 0 and ``127 - q`` when it
expects a 1 (a correlation metric). Ties go to the predecessor whose oldest bit
is 0; the best end state is the lowest-numbered state of minimum cost.

Block decoding: ``terminated=True`` means the encoder was flushed with 6 zero
tail bits (traceback from state 0, the tail is dropped from the output);
``False`` traces back from the best state. ``start_state`` is the encoder
state at the start (0 for a block code) or ``None`` when unknown.

Streaming: :meth:`ViterbiDecoder.decode_stream` keeps the trellis between
calls and returns the bits older than ``traceback`` pairs, traced back from the
best state at the end of each call; :meth:`flush` returns the held-back ones.

Public API (identical in ``viterbi.pyx``; use it through ``groundseg.dsp.fec``)::

    K = 7
    CONVENTIONS: dict[str, tuple[tuple[int, int], int]]
    conv_params(convention="CCSDS", polys=None, invert=None) -> ((p0, p1), invert)
    quantize_soft(symbols, scale=None) -> np.int8 array
    conv_encode(bits, convention="CCSDS", *, polys=None, invert=None, terminate=True)
        -> np.uint8 symbols (0/1), 2 per input bit (+12 with terminate)
    class ConvEncoder(convention="CCSDS", *, polys=None, invert=None, state=0):
        .encode(bits) -> symbols;  .state
    viterbi_decode(symbols, convention="CCSDS", *, polys=None, invert=None,
                   terminated=True, start_state=0, scale=None) -> np.uint8 bits
        # len(symbols) even; n_pairs - 6 bits when terminated, n_pairs otherwise
    class ViterbiDecoder(convention="CCSDS", *, polys=None, invert=None, traceback=96):
        .decode_block(symbols, terminated=True, start_state=0, scale=None) -> bits
        .decode_stream(symbols, scale=None) -> bits   # odd leftover symbol kept for next call
        .flush(terminated=False) -> bits              # and reset the stream
        .reset()
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError

__all__ = ["K", "CONVENTIONS", "conv_params", "quantize_soft", "conv_encode", "ConvEncoder",
           "viterbi_decode", "ViterbiDecoder", "START_PENALTY"]

K = 7
NSTATES = 64
CONVENTIONS: dict[str, tuple[tuple[int, int], int]] = {
    "CCSDS": ((0o171, 0o133), 0b10),
    "NASA-DSN": ((0o133, 0o171), 0b01),
    "CCSDS uninverted": ((0o171, 0o133), 0),
    "NASA-DSN uninverted": ((0o133, 0o171), 0),
}
START_PENALTY = 8192      # initial cost of the states other than a known start state
AUTO_SCALE_TARGET = 48.0  # mean |q| after automatic scaling


def conv_params(convention: str | None = "CCSDS", polys=None, invert=None) -> tuple[tuple[int, int], int]:
    """Resolve a convention name or explicit ``polys``/``invert`` (explicit wins)."""
    if polys is None:
        if convention not in CONVENTIONS:
            raise InputError(f"unknown convolutional convention {convention!r} "
                             f"(known: {', '.join(CONVENTIONS)})")
        polys, inv0 = CONVENTIONS[convention]
        if invert is None:
            invert = inv0
    if invert is None:
        invert = 0
    p = tuple(int(x) for x in polys)
    if len(p) != 2 or any(not 0 < x < 128 for x in p):
        raise InputError(f"need two 7-bit polynomials, got {polys!r}")
    if any(not (x & 0o100 and x & 1) for x in p):
        raise InputError(f"polynomials {tuple(oct(x) for x in p)} must tap the newest and "
                         "the oldest bit (K=7)")
    if not 0 <= int(invert) <= 3:
        raise InputError(f"invert must be a 2-bit mask, got {invert!r}")
    return (p[0], p[1]), int(invert)


def quantize_soft(symbols, scale: float | None = None) -> np.ndarray:
    """Soft symbols -> int8 in -127..127 (int8 input: only -128 is clipped)."""
    y = np.asarray(symbols).reshape(-1)
    if y.dtype == np.int8:
        return np.maximum(y, np.int8(-127))
    y = y.astype(np.float32, copy=False)
    if scale is None:
        a = np.abs(y)
        a = a[np.isfinite(a)]
        m = float(np.mean(a, dtype=np.float64)) if a.size else 0.0
        scale = AUTO_SCALE_TARGET / m if m > 0 else 1.0
    with np.errstate(invalid="ignore", over="ignore"):
        q = np.rint(y * np.float32(scale))
    q = np.nan_to_num(q, nan=0.0)           # NaN: an erasure
    return np.clip(q, -127, 127).astype(np.int8)


def _parity(x: int) -> int:
    return bin(x).count("1") & 1


def _as_bits(bits) -> np.ndarray:
    b = np.asarray(bits).reshape(-1)
    if b.size and (b.min() < 0 or b.max() > 1):
        raise InputError("bit arrays must hold only 0 and 1")
    return b.astype(np.uint8)


class ConvEncoder:
    def __init__(self, convention: str | None = "CCSDS", *, polys=None, invert=None, state: int = 0):
        self.polys, self.invert = conv_params(convention, polys, invert)
        self.state = int(state) & 63

    def encode(self, bits) -> np.ndarray:
        b = _as_bits(bits)
        out = np.empty(2 * b.size, np.uint8)
        p0, p1 = self.polys
        i0, i1 = self.invert & 1, (self.invert >> 1) & 1
        st = self.state
        for n, x in enumerate(b.tolist()):
            sr = (x << 6) | st
            out[2 * n] = _parity(sr & p0) ^ i0
            out[2 * n + 1] = _parity(sr & p1) ^ i1
            st = sr >> 1
        self.state = st
        return out


def conv_encode(bits, convention: str | None = "CCSDS", *, polys=None, invert=None,
                terminate: bool = True) -> np.ndarray:
    b = _as_bits(bits)
    if terminate:
        b = np.concatenate([b, np.zeros(K - 1, np.uint8)])
    return ConvEncoder(convention, polys=polys, invert=invert).encode(b)


class _Trellis:
    """The ACS recursion on exact integers, with every decision kept."""

    def __init__(self, polys, invert):
        # for new state j: predecessors P0 = 2*(j & 31), P1 = P0 + 1, input b = j >> 5
        j = np.arange(NSTATES)
        self.pred0 = 2 * (j & 31)
        self.pred1 = self.pred0 + 1
        b = j >> 5
        self.exp = np.zeros((2, NSTATES, 2), np.int64)  # [x, j, output i] expected bit
        for x in (0, 1):
            sr = (b << 6) | (self.pred0 + x)
            for i in (0, 1):
                par = np.array([_parity(int(v) & polys[i]) for v in sr])
                self.exp[x, :, i] = par ^ ((invert >> i) & 1)

    def run(self, q: np.ndarray, metrics: np.ndarray, decisions: list) -> np.ndarray:
        qi = q.astype(np.int64).reshape(-1, 2)
        for q0, q1 in qi:
            c = [np.where(self.exp[x, :, 0] == 1, 127 - q0, 127 + q0)
                 + np.where(self.exp[x, :, 1] == 1, 127 - q1, 127 + q1) for x in (0, 1)]
            a = metrics[self.pred0] + c[0]
            bb = metrics[self.pred1] + c[1]
            dec = bb < a
            metrics = np.where(dec, bb, a)
            decisions.append(dec)
        return metrics


def _best_state(metrics: np.ndarray) -> int:
    return int(np.argmin(metrics))  # first (lowest) index among ties


def _traceback(decisions: list, end_state: int, n_out: int, start: int) -> np.ndarray:
    """Bits for steps start..start+n_out-1, tracing back from the end of ``decisions``."""
    out = np.zeros(len(decisions) - start, np.uint8)
    st = end_state
    for t in range(len(decisions) - 1, start - 1, -1):
        out[t - start] = st >> 5
        x = int(decisions[t][st])
        st = 2 * (st & 31) + x
    return out[:n_out]


def _initial_metrics(start_state) -> np.ndarray:
    m = np.zeros(NSTATES, np.int64)
    if start_state is not None:
        if not 0 <= int(start_state) < NSTATES:
            raise InputError(f"start_state must be 0..63 or None, got {start_state}")
        m[:] = START_PENALTY
        m[int(start_state)] = 0
    return m


class ViterbiDecoder:
    def __init__(self, convention: str | None = "CCSDS", *, polys=None, invert=None,
                 traceback: int = 96):
        self.polys, self.invert = conv_params(convention, polys, invert)
        if not 6 <= int(traceback) <= 4096:
            raise InputError(f"traceback must be 6..4096 pairs, got {traceback}")
        self.traceback = int(traceback)
        self._trellis = _Trellis(self.polys, self.invert)
        self.reset()

    def reset(self) -> None:
        self._metrics = _initial_metrics(None)
        self._decisions: list = []
        self._pending = np.zeros(0, np.int8)

    def decode_block(self, symbols, terminated: bool = True, start_state=0,
                     scale: float | None = None) -> np.ndarray:
        q = quantize_soft(symbols, scale)
        if q.size % 2:
            raise InputError(f"odd number of soft symbols ({q.size}): need pairs")
        npairs = q.size // 2
        if terminated and npairs < K:
            raise InputError(f"a terminated block needs at least {K} pairs, got {npairs}")
        decisions: list = []
        metrics = self._trellis.run(q, _initial_metrics(start_state), decisions)
        end = 0 if terminated else _best_state(metrics)
        n_out = npairs - (K - 1) if terminated else npairs
        return _traceback(decisions, end, n_out, 0)

    def decode_stream(self, symbols, scale: float | None = None) -> np.ndarray:
        q = np.concatenate([self._pending, quantize_soft(symbols, scale)])
        usable = q.size - (q.size % 2)
        self._pending = q[usable:]
        self._metrics = self._trellis.run(q[:usable], self._metrics, self._decisions)
        n_out = len(self._decisions) - self.traceback
        if n_out <= 0:
            return np.zeros(0, np.uint8)
        bits = _traceback(self._decisions, _best_state(self._metrics), n_out, 0)
        del self._decisions[:n_out]
        return bits

    def flush(self, terminated: bool = False) -> np.ndarray:
        end = 0 if terminated else _best_state(self._metrics)
        bits = _traceback(self._decisions, end, len(self._decisions), 0) if self._decisions \
            else np.zeros(0, np.uint8)
        self.reset()
        return bits


def viterbi_decode(symbols, convention: str | None = "CCSDS", *, polys=None, invert=None,
                   terminated: bool = True, start_state=0, scale: float | None = None) -> np.ndarray:
    return ViterbiDecoder(convention, polys=polys, invert=invert).decode_block(
        symbols, terminated=terminated, start_state=start_state, scale=scale)

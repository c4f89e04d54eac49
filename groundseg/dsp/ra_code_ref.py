"""Repeat-accumulate code of SMOG-P / ATL-1 (BME, Miklos Maroti's design): reference.

The readable specification that ``ra_code.pyx`` is tested against (same
class, same results, about a hundred times slower).

The code (facts from the SMOG-P/ATL-1 ground software and gr-satellites):

* The packet is ``L = data_bytes / 2`` 16-bit words, word ``i`` =
  ``byte[2i] | byte[2i+1] << 8``.
* Four passes ``p = 0..3`` each run through all ``L`` words in a pseudo-random
  order given by a Galois LFSR: ``highbit`` is 4 plus the number of halvings
  that bring ``L`` below 32; ``mask`` is ``MASKS[highbit][p]``; ``offset = L >>
  (1 + p)``; the state starts at ``1 + p + offset`` and steps as ``b = state &
  1; state >>= 1; if b: state ^= mask``, skipping states above ``L``; each
  state gives the word index ``(state - 1 - offset) mod L``. The last index of
  a pass is ``p`` (the LFSR is back at its start).
* Each pass accumulates from zero: ``acc = rotr16(acc, 1) ^ word``. Pass 0
  sends ``acc`` after every word (``L`` code words); passes 1 to 3 after every
  ``PUNCTURE = 3`` words and after the last word of the pass (``C = ceil(L /
  3)`` code words each). Code words: ``L + 3 C`` (130 for 128-byte packets,
  257 for 256-byte packets), rate about 1/2.
* A code word goes on the air low byte first, each byte MSB first.

The decoder (written for groundseg, not the satellite's) is iterative belief
propagation in LLRs, ``log P(0) / P(1)``. Bit ``j`` of the accumulator
before the rotation feeds bit ``j - 1`` after it, so a pass is sixteen
independent accumulator chains (the diagonals ``(j + k) mod 16``), each decoded
exactly by the forward-backward algorithm on its two states given the
channel LLRs of its sent bits and the a-priori LLRs of its data bits (the sum
of what the other three passes said about each bit). Passes are updated one
after the other (a serial, turbo-like schedule). ``boxplus(a, b) = sign(a)
sign(b) min(|a|, |b|) + c(|a + b|) - c(|a - b|)`` with ``c(x) = log(1 +
exp(-x))`` from a table (step 1/16 up to 8, linear interpolation, 0 beyond).
Decoding stops when the hard decisions on the data have not changed for
``STABLE_ITERATIONS`` iterations, when they are still far from the received
symbols after a multiple of ``ABORT_EVERY`` iterations (``abort_bound``), or
after ``max_iterations``; the result is
valid when the re-encoded packet disagrees with the hard channel decisions
in at most ``max_error_fraction`` of the bits (random symbols: about half)
and no data bit is left undecided (LLR exactly 0, as with no signal at all).

A cheap test of "is this a codeword at all" before decoding: the code has
``16 x 3 x C`` parity checks of at most 8 sent bits each (``parity_checks``);
``check_score`` is ``sum(P) / sqrt(sum(P^2))`` over the checks with ``P =
prod tanh(LLR / 2)`` of each check's bits: about N(0, 1) for symbols that are
not a codeword, above 4 for 128-byte codewords from Eb/N0 = 1.5 dB on.

Channel LLRs from soft symbols (> 0 is a 1): ``-2 A y / s^2`` with the
amplitude ``A`` and noise variance ``s^2`` estimated per frame from the second
and fourth moments (``channel_llr``), ``A^2 / s^2`` kept within -10..+3 dB.

API (identical in ``ra_code.pyx``)::

    PUNCTURE, MASKS, LLR_MAX, STABLE_ITERATIONS
    lfsr_order(data_words, seqno) -> int32 array (the word order of a pass)
    channel_llr(soft) -> float32 LLRs (log P(0)/P(1))
    abort_bound(llr) -> float
    parity_checks(code) -> int32 (n_checks, CHECK_WEIGHT), -1 padded
    class RaCode(data_bytes):
        .data_bytes, .data_words, .check_words, .code_words, .code_bits
        .checks (parity_checks), .check_score(soft) -> z-score of the checks
        .hard_check_counts(bits, starts, inverted) -> int32 checks satisfied per codeword
        .encode(data) -> uint8 channel bits (0/1), code_bits of them
        .decode(soft, max_iterations=50, max_error_fraction=0.2)
            -> RaResult(data: bytes, valid: bool, errors: int, iterations: int,
                        llr: float32 array of the data bits' final LLRs)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError

__all__ = ["PUNCTURE", "MASKS", "LLR_MAX", "STABLE_ITERATIONS", "CHECK_WEIGHT", "lfsr_order",
           "channel_llr", "abort_bound", "parity_checks", "RaCode", "RaResult", "boxplus", "TX_BIT"]

PUNCTURE = 3
BITS = 16
# Galois LFSR masks by highbit (4..12) and pass, from Koopman's maximal-length tables.
MASKS = {
    4: (0x12, 0x17, 0x1B, 0x1E),
    5: (0x21, 0x2D, 0x30, 0x39),
    6: (0x41, 0x53, 0x69, 0x7B),
    7: (0x8E, 0xAF, 0xC3, 0xE7),
    8: (0x108, 0x13B, 0x168, 0x1DC),
    9: (0x204, 0x2E3, 0x369, 0x3AA),
    10: (0x415, 0x4BF, 0x553, 0x62B),
    11: (0x83E, 0x939, 0xAF5, 0xD70),
    12: (0x1013, 0x109D, 0x117D, 0x1271),
}
MIN_WORDS, MAX_WORDS = 4, 2048
LLR_MAX = 40.0
SNR_MAX = 2.0              # A^2/s^2 (3 dB) the channel LLRs assume at most
STABLE_ITERATIONS = 3
# Give up early on what is not a codeword: every ABORT_EVERY iterations, the
# packet decided so far is re-encoded; decoding stops when it disagrees with
# the hard channel decisions in more than ABORT_SLOPE * p + ABORT_MARGIN of
# the bits, p being the bit error rate the channel LLRs predict. A real
# frame is below that by then (at high SNR it has converged, at low SNR the
# bound is near 0.5); strong signals that are no RA codeword (another
# framing's frames) would otherwise keep the decoder oscillating to the limit.
ABORT_EVERY = 8
# Parity checks: every bit a punctured pass sends is the XOR of at most 8 sent
# bits (see ``parity_checks``); ``check_score`` is the z-score of their soft
# agreement, about N(0, 1) for what is not a codeword.
CHECK_WEIGHT = 8
ABORT_SLOPE = 3.0
ABORT_MARGIN = 0.15
# bit of the word sent as the t-th channel bit: low byte first, MSB first
TX_BIT = np.array([7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8], dtype=np.int64)
# log(1 + exp(-x)) table for boxplus
CORR_STEP = 16.0
CORR_N = 128
CORR_TABLE = np.log1p(np.exp(-np.arange(CORR_N + 1, dtype=np.float64) / CORR_STEP)).astype(np.float32)
CORR_TABLE[CORR_N] = 0.0


def _corr(x: np.ndarray) -> np.ndarray:
    """log(1 + exp(-x)) for x >= 0, from the table (linear interpolation, 0 from 8 on)."""
    t = x * np.float32(CORR_STEP)
    i = np.minimum(t.astype(np.int64), CORR_N)
    frac = t - i
    lo = CORR_TABLE[i]
    hi = CORR_TABLE[np.minimum(i + 1, CORR_N)]
    return np.where(i >= CORR_N, np.float32(0.0), lo + frac * (hi - lo)).astype(np.float32)


def boxplus(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """LLR of the XOR of two bits with LLRs a and b."""
    a = np.asarray(a, np.float32)
    b = np.asarray(b, np.float32)
    m = np.minimum(np.abs(a), np.abs(b))
    s = np.where((a < 0) != (b < 0), np.float32(-1.0), np.float32(1.0))
    return (s * m + _corr(np.abs(a + b)) - _corr(np.abs(a - b))).astype(np.float32)


def _highbit(words: int) -> int:
    hb = 4
    while words >= 32:
        words //= 2
        hb += 1
    return hb


def lfsr_order(data_words: int, seqno: int) -> np.ndarray:
    """The order in which pass ``seqno`` visits the data words."""
    if not MIN_WORDS <= data_words <= MAX_WORDS:
        raise InputError(f"RA code: {data_words} data words outside {MIN_WORDS}..{MAX_WORDS}")
    mask = MASKS[_highbit(data_words)][seqno]
    offset = data_words >> (1 + seqno)
    state = 1 + seqno + offset
    out = np.empty(data_words, np.int32)
    for k in range(data_words):
        while True:
            b = state & 1
            state >>= 1
            if b:
                state ^= mask
            if state <= data_words:
                break
        pos = state - 1
        if pos < offset:
            pos += data_words
        out[k] = pos - offset
    return out


def channel_llr(soft) -> np.ndarray:
    """LLRs log P(0)/P(1) of soft symbols (> 0 is a 1), scaled for their SNR."""
    y = np.asarray(soft, np.float64).ravel()
    if not np.isfinite(y).all():
        y = np.where(np.isfinite(y), y, 0.0)
    if not y.size:
        return np.zeros(0, np.float32)
    y2 = y * y
    m2 = float(y2.sum()) / y.size
    if m2 <= 0.0:
        return np.zeros(y.size, np.float32)
    m4 = float(np.dot(y2, y2)) / y.size
    a2 = np.sqrt(max(0.0, (3.0 * m2 * m2 - m4) / 2.0))
    # keep the estimated A^2/s^2 between -10 dB and +3 dB: above that the code
    # corrects everything anyway, and a lower bound on the noise keeps hard
    # (+-1) symbols from looking error-free (over-confident LLRs make belief
    # propagation fail on the few errors there are)
    a2 = min(max(a2, m2 / 11.0), m2 * (SNR_MAX / (1.0 + SNR_MAX)))
    s2 = m2 - a2
    scale = 2.0 * np.sqrt(a2) / s2
    out = y * -scale
    np.clip(out, -LLR_MAX, LLR_MAX, out=out)
    return out.astype(np.float32)


def abort_bound(llr: np.ndarray) -> float:
    """Fraction of disagreeing channel bits above which decoding gives up."""
    a = np.abs(np.asarray(llr, np.float64))
    p = float(np.mean(1.0 / (1.0 + np.exp(a)))) if a.size else 0.5
    return ABORT_SLOPE * p + ABORT_MARGIN


def parity_checks(code: "RaCode") -> np.ndarray:
    """Sparse parity checks on the channel bits: int32 (n_checks, CHECK_WEIGHT), -1 padded.

    Pass 0 sends its accumulator after every word, so each data bit is the
    XOR of two pass-0 bits: ``d[j] = s_k[j] ^ s_(k-1)[j+1]`` (just ``s_0[j]`` at
    the first step). Between two words a punctured pass sends, at steps ``a <
    b``, ``s_b[j] = s_a[j + b - a] ^ XOR_(m = a+1..b) d_m[j + b - m]`` (indices
    mod 16; no ``s_a`` term before the first): with the data bits written as
    pass-0 bits, a check on at most 1 + 1 + 3 x 2 channel bits. There are
    ``16 x 3 x check_words`` of them, as many as the code has redundant bits.
    """
    L = code.data_words
    tx_pos = np.argsort(TX_BIT)                  # channel position of word bit j

    def cb(w: int, j: int) -> int:
        return int(w) * BITS + int(tx_pos[j % BITS])

    inv0 = np.empty(L, np.int64)
    inv0[code.orders[0]] = np.arange(L)

    def data_bits(i: int, j: int) -> list[int]:
        k = int(inv0[i])
        if k == 0:
            return [cb(code.sent[0, 0], j)]
        return [cb(code.sent[0, k], j), cb(code.sent[0, k - 1], j + 1)]

    rows = []
    for p in range(1, 4):
        a = -1
        for b in range(L):
            if code.sent[p, b] < 0:
                continue
            for j in range(BITS):
                bits = [cb(code.sent[p, b], j)]
                if a >= 0:
                    bits.append(cb(code.sent[p, a], j + b - a))
                for m in range(a + 1, b + 1):
                    bits += data_bits(int(code.orders[p, m]), j + b - m)
                odd = sorted(x for x in set(bits) if bits.count(x) % 2)
                rows.append(odd + [-1] * (CHECK_WEIGHT - len(odd)))
            a = b
    return np.array(rows, np.int32)


def _check_score(llr: np.ndarray, checks: np.ndarray) -> float:
    t = np.append(np.tanh(np.asarray(llr, np.float64) / 2.0), 1.0)
    prod = t[checks].prod(axis=1)
    den = float(np.sqrt(np.sum(prod * prod)))
    return float(np.sum(prod) / den) if den > 0.0 else 0.0


@dataclass
class RaResult:
    data: bytes
    valid: bool
    errors: int          # channel bits the re-encoded packet disagrees with
    iterations: int
    llr: np.ndarray      # final LLRs of the data bits (word-major, bit 0 first)


class RaCode:
    """The SMOG-P RA code for ``data_bytes``-byte packets (even, 8..4096)."""

    def __init__(self, data_bytes: int):
        if isinstance(data_bytes, bool) or not isinstance(data_bytes, (int, np.integer)) \
                or data_bytes % 2 or not 2 * MIN_WORDS <= data_bytes <= 2 * MAX_WORDS:
            raise InputError(f"RA code: packet size must be an even number of bytes "
                             f"{2 * MIN_WORDS}..{2 * MAX_WORDS}, not {data_bytes!r}")
        self.data_bytes = int(data_bytes)
        self.data_words = L = self.data_bytes // 2
        self.check_words = C = (L + PUNCTURE - 1) // PUNCTURE
        self.code_words = L + 3 * C
        self.code_bits = BITS * self.code_words
        self.orders = np.stack([lfsr_order(L, p) for p in range(4)])        # (4, L)
        # code word sent after step k of pass p, or -1
        sent = np.full((4, L), -1, np.int64)
        sent[0] = np.arange(L)
        for p in range(1, 4):
            base = L + (p - 1) * C
            for k in range(L):
                if (k + 1) % PUNCTURE == 0:
                    sent[p, k] = base + k // PUNCTURE
            sent[p, L - 1] = base + C - 1
        self.sent = sent
        self.checks = parity_checks(self)

    def check_score(self, soft) -> float:
        """z-score of the parity checks on these soft symbols (random: about N(0, 1))."""
        return _check_score(channel_llr(self._check_soft(soft)), self.checks)

    def hard_check_counts(self, bits, starts, inverted) -> np.ndarray:
        """Parity checks satisfied by hard bits (0/1) of codewords starting at ``starts``.

        ``inverted[i]``: take codeword i's bits inverted. Random bits satisfy
        about half of the ``len(checks)`` checks (binomial).
        """
        b = np.asarray(bits, np.uint8)
        st = np.asarray(starts, np.int64).ravel()
        inv = np.asarray(inverted, bool).ravel()
        if st.size and (st.min() < 0 or st.max() + self.code_bits > b.size):
            raise InputError("RA code: codeword outside the bits given")
        h = self.checks
        mask = h >= 0
        weight_odd = (mask.sum(axis=1) & 1).astype(np.uint8)
        idx = st[:, None, None] + np.where(mask, h, 0)[None]
        par = (b[idx] & mask[None]).sum(axis=2) & 1
        par = par ^ (inv[:, None] * weight_odd[None])
        return (par == 0).sum(axis=1).astype(np.int32)

    # -- encoder ---------------------------------------------------------------
    def _words(self, data) -> np.ndarray:
        d = np.frombuffer(bytes(data), np.uint8) if isinstance(data, (bytes, bytearray)) \
            else np.asarray(data, np.uint8)
        if d.size != self.data_bytes:
            raise InputError(f"RA code: packet must be {self.data_bytes} bytes, not {d.size}")
        return d[0::2].astype(np.int64) | (d[1::2].astype(np.int64) << 8)

    def encode_words(self, data) -> np.ndarray:
        """The code words (uint16), in the order they are sent."""
        w = self._words(data)
        out = np.zeros(self.code_words, np.uint16)
        for p in range(4):
            acc = 0
            for k in range(self.data_words):
                acc = ((acc >> 1) | (acc << 15)) & 0xFFFF
                acc ^= int(w[self.orders[p, k]])
                if self.sent[p, k] >= 0:
                    out[self.sent[p, k]] = acc
        return out

    def encode(self, data) -> np.ndarray:
        """Channel bits (0/1), ``code_bits`` of them."""
        words = self.encode_words(data).astype(np.int64)
        bits = (words[:, None] >> TX_BIT[None, :]) & 1
        return bits.astype(np.uint8).ravel()

    # -- decoder ---------------------------------------------------------------
    def _check_soft(self, soft) -> np.ndarray:
        y = np.asarray(soft, np.float32).ravel()
        if y.size != self.code_bits:
            raise InputError(f"RA code: {self.code_bits} soft symbols needed, not {y.size}")
        return y

    def _pass(self, p: int, u: np.ndarray, ch: np.ndarray) -> np.ndarray:
        """Extrinsic LLRs of pass p's data bits (by step), given priors u and channel ch."""
        L = self.data_words
        inf = np.float32(LLR_MAX)
        alpha = np.empty((L, BITS), np.float32)
        a = u[0] + ch[0]
        alpha[0] = a
        for k in range(1, L):
            a = boxplus(np.roll(a, -1), u[k]) + ch[k]
            a = np.clip(a, -inf, inf)
            alpha[k] = a
        ext = np.empty((L, BITS), np.float32)
        beta = np.zeros(BITS, np.float32)
        for k in range(L - 1, -1, -1):
            obs = ch[k] + beta
            ext[k] = obs if k == 0 else boxplus(np.roll(alpha[k - 1], -1), obs)
            beta = np.clip(np.roll(boxplus(obs, u[k]), 1), -inf, inf)
        return np.clip(ext, -inf, inf)

    def decode(self, soft, max_iterations: int = 50,
               max_error_fraction: float = 0.2) -> RaResult:
        y = self._check_soft(soft)
        L = self.data_words
        llr = channel_llr(y)
        chw = np.zeros((self.code_words, BITS), np.float32)
        chw[:, TX_BIT] = llr.reshape(self.code_words, BITS)
        hard_rx = (y > 0).astype(np.uint8)
        ch = np.zeros((4, L, BITS), np.float32)
        for p in range(4):
            m = self.sent[p] >= 0
            ch[p, m] = chw[self.sent[p, m]]
        ext = np.zeros((4, L, BITS), np.float32)          # by data word
        bound = abort_bound(llr) * self.code_bits
        prev = None
        stable = 0
        it = 0
        for it in range(1, max(1, int(max_iterations)) + 1):
            for p in range(4):
                total = ext.sum(axis=0) - ext[p]
                u = np.clip(total[self.orders[p]], -LLR_MAX, LLR_MAX)
                e = self._pass(p, u, ch[p])
                ext[p, self.orders[p]] = e
            post = ext.sum(axis=0)
            hard = (post < 0).astype(np.uint8)            # (L, 16)
            stable = stable + 1 if prev is not None and np.array_equal(hard, prev) else 0
            prev = hard
            if stable >= STABLE_ITERATIONS:
                break
            if it % ABORT_EVERY == 0 and \
                    np.count_nonzero(self.encode(_pack(hard)) != hard_rx) > bound:
                break
        post = ext.sum(axis=0)
        data = _pack((post < 0).astype(np.uint8))
        errors = int(np.count_nonzero(self.encode(data) != hard_rx))
        # valid: settled, every data bit decided, and close to what was received
        valid = errors <= max_error_fraction * self.code_bits and stable >= STABLE_ITERATIONS \
            and bool(np.all(post != 0))
        return RaResult(data=data, valid=bool(valid), errors=errors, iterations=it,
                        llr=np.clip(post, -1e6, 1e6).astype(np.float32).ravel())


def _pack(hard: np.ndarray) -> bytes:
    """Data bytes from hard decisions (L, 16) by word and bit (bit 0 = LSB)."""
    weights = (1 << np.arange(BITS, dtype=np.int64))
    words = (hard.astype(np.int64) * weights).sum(axis=1)
    out = np.empty(2 * len(words), np.uint8)
    out[0::2] = words & 0xFF
    out[1::2] = words >> 8
    return out.tobytes()

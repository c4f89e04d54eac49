# cython: language_level=3
"""Repeat-accumulate code of SMOG-P / ATL-1: encoder and belief-propagation decoder.

Same classes, functions and results as ``ra_code_ref.py`` (the readable
specification, where the code and the decoder are described); the encoder
and the decoder's iterations run in C loops over buffers allocated once per
``RaCode``. The per-frame set-up that is not a loop over bits (the LFSR
orders, the channel LLR scaling) is the reference's own code.
"""
import numpy as np
cimport numpy as cnp
from libc.math cimport fabsf, sqrt, tanh
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t

from ..errors import InputError
from .ra_code_ref import (ABORT_EVERY, BITS, CHECK_WEIGHT, CORR_N, CORR_STEP,  # noqa: F401
                          CORR_TABLE, LLR_MAX, MASKS, MAX_WORDS, MIN_WORDS, PUNCTURE,
                          STABLE_ITERATIONS, TX_BIT, RaResult, abort_bound, channel_llr,
                          lfsr_order, parity_checks)

cnp.import_array()

__all__ = ["PUNCTURE", "MASKS", "LLR_MAX", "STABLE_ITERATIONS", "CHECK_WEIGHT", "lfsr_order",
           "channel_llr", "abort_bound", "parity_checks", "RaCode", "RaResult", "boxplus", "TX_BIT"]

cdef float _T[129]
cdef int _i
for _i in range(CORR_N + 1):
    _T[_i] = CORR_TABLE[_i]
cdef float _LMAX = LLR_MAX
cdef int _CW = CHECK_WEIGHT
cdef int _TXBIT[16]
for _i in range(16):
    _TXBIT[_i] = TX_BIT[_i]


cdef inline float _corr(float x) noexcept nogil:
    cdef float t = x * <float>16.0
    cdef int i
    if t >= 128.0:
        return 0.0
    i = <int>t
    return _T[i] + (t - <float>i) * (_T[i + 1] - _T[i])


cdef inline float _bp(float a, float b) noexcept nogil:
    cdef float fa = fabsf(a), fb = fabsf(b)
    cdef float m = fa if fa < fb else fb
    if (a < 0) != (b < 0):
        m = -m
    return m + _corr(fabsf(a + b)) - _corr(fabsf(a - b))


cdef inline float _clip(float x) noexcept nogil:
    if x > _LMAX:
        return _LMAX
    if x < -_LMAX:
        return -_LMAX
    return x


def boxplus(a, b):
    """LLR of the XOR of two bits with LLRs a and b (elementwise)."""
    av = np.ascontiguousarray(np.broadcast_to(np.asarray(a, np.float32), np.broadcast(a, b).shape)).ravel()
    bv = np.ascontiguousarray(np.broadcast_to(np.asarray(b, np.float32), np.broadcast(a, b).shape)).ravel()
    out = np.empty(av.size, np.float32)
    cdef const float[::1] x = av
    cdef const float[::1] y = bv
    cdef float[::1] o = out
    cdef Py_ssize_t i
    for i in range(av.size):
        o[i] = _bp(x[i], y[i])
    return out.reshape(np.broadcast(a, b).shape)


def _pack(hard):
    weights = (1 << np.arange(BITS, dtype=np.int64))
    words = (np.asarray(hard).astype(np.int64) * weights).sum(axis=1)
    out = np.empty(2 * len(words), np.uint8)
    out[0::2] = words & 0xFF
    out[1::2] = words >> 8
    return out.tobytes()


cdef class RaCode:
    """The SMOG-P RA code for ``data_bytes``-byte packets (even, 8..4096)."""

    cdef readonly int data_bytes, data_words, check_words, code_words, code_bits
    cdef readonly object orders, sent, checks
    cdef object _ext, _ch, _alpha, _u, _hard, _prev, _words, _code, _tanh
    cdef int32_t[:, ::1] ov
    cdef int32_t[:, ::1] sv

    def __init__(self, data_bytes):
        if isinstance(data_bytes, bool) or not isinstance(data_bytes, (int, np.integer)) \
                or data_bytes % 2 or not 2 * MIN_WORDS <= data_bytes <= 2 * MAX_WORDS:
            raise InputError(f"RA code: packet size must be an even number of bytes "
                             f"{2 * MIN_WORDS}..{2 * MAX_WORDS}, not {data_bytes!r}")
        self.data_bytes = int(data_bytes)
        cdef int L = self.data_bytes // 2
        self.data_words = L
        self.check_words = (L + PUNCTURE - 1) // PUNCTURE
        self.code_words = L + 3 * self.check_words
        self.code_bits = BITS * self.code_words
        self.orders = np.ascontiguousarray(np.stack([lfsr_order(L, p) for p in range(4)]), np.int32)
        sent = np.full((4, L), -1, np.int32)
        sent[0] = np.arange(L)
        cdef int p, k, base
        for p in range(1, 4):
            base = L + (p - 1) * self.check_words
            for k in range(L):
                if (k + 1) % PUNCTURE == 0:
                    sent[p, k] = base + k // PUNCTURE
            sent[p, L - 1] = base + self.check_words - 1
        self.sent = sent
        self.ov = self.orders
        self.sv = self.sent
        self._ext = np.zeros((4, L, BITS), np.float32)
        self._ch = np.zeros((4, L, BITS), np.float32)
        self._alpha = np.zeros((L, BITS), np.float32)
        self._u = np.zeros((L, BITS), np.float32)
        self._hard = np.zeros((L, BITS), np.uint8)
        self._prev = np.zeros((L, BITS), np.uint8)
        self._words = np.zeros(L, np.uint16)
        self._code = np.zeros(self.code_words, np.uint16)
        self.checks = np.ascontiguousarray(parity_checks(self), np.int32)
        self._tanh = np.zeros(self.code_bits, np.float64)

    def check_score(self, soft):
        """z-score of the parity checks on these soft symbols (random: about N(0, 1))."""
        y = np.asarray(soft, np.float32).ravel()
        if y.size != self.code_bits:
            raise InputError(f"RA code: {self.code_bits} soft symbols needed, not {y.size}")
        llr = channel_llr(y)
        cdef const float[::1] lv = llr
        cdef double[::1] t = self._tanh
        cdef const int32_t[:, ::1] H = self.checks
        cdef Py_ssize_t i, c, n = self.code_bits, m = H.shape[0]
        cdef int q, idx
        cdef double prod, tot = 0.0, sq = 0.0
        for i in range(n):
            t[i] = tanh(<double>lv[i] / 2.0)
        for c in range(m):
            prod = 1.0
            for q in range(_CW):
                idx = H[c, q]
                if idx >= 0:
                    prod *= t[idx]
            tot += prod
            sq += prod * prod
        if sq <= 0.0:
            return 0.0
        return tot / sqrt(sq)

    def hard_check_counts(self, bits, starts, inverted):
        """Parity checks satisfied by hard bits (0/1) of codewords starting at ``starts``."""
        b = np.ascontiguousarray(bits, np.uint8)
        st = np.ascontiguousarray(np.asarray(starts, np.int64).ravel())
        inv = np.ascontiguousarray(np.asarray(inverted, bool).ravel(), np.uint8)
        if st.size and (st.min() < 0 or st.max() + self.code_bits > b.size):
            raise InputError("RA code: codeword outside the bits given")
        out = np.zeros(st.size, np.int32)
        cdef const uint8_t[::1] bv = b
        cdef const int64_t[::1] sv = st
        cdef const uint8_t[::1] iv = inv
        cdef int32_t[::1] ov = out
        cdef const int32_t[:, ::1] H = self.checks
        cdef Py_ssize_t i, c, m = H.shape[0], n = st.size
        cdef int q, par, cnt, odd
        cdef const uint8_t* p
        cdef const int32_t* h
        for i in range(n):
            p = &bv[sv[i]]
            cnt = 0
            for c in range(m):
                h = &H[c, 0]
                par = 0
                odd = 0
                for q in range(_CW):
                    if h[q] < 0:
                        break
                    par ^= p[h[q]]
                    odd ^= 1
                if iv[i]:
                    par ^= odd
                cnt += 1 - (par & 1)
            ov[i] = cnt
        return out

    # -- encoder ---------------------------------------------------------------
    def _load_words(self, data):
        d = np.frombuffer(bytes(data), np.uint8) if isinstance(data, (bytes, bytearray)) \
            else np.asarray(data, np.uint8)
        if d.size != self.data_bytes:
            raise InputError(f"RA code: packet must be {self.data_bytes} bytes, not {d.size}")
        self._words[:] = d[0::2].astype(np.uint16) | (d[1::2].astype(np.uint16) << 8)

    cdef void _encode(self) noexcept:
        cdef uint16_t[::1] w = self._words
        cdef uint16_t[::1] out = self._code
        cdef int p, k, s, L = self.data_words
        cdef uint16_t acc
        for p in range(4):
            acc = 0
            for k in range(L):
                acc = <uint16_t>((acc >> 1) | (acc << 15))
                acc ^= w[self.ov[p, k]]
                s = self.sv[p, k]
                if s >= 0:
                    out[s] = acc

    def encode_words(self, data):
        """The code words (uint16), in the order they are sent."""
        self._load_words(data)
        self._encode()
        return np.array(self._code, copy=True)

    def encode(self, data):
        """Channel bits (0/1), ``code_bits`` of them."""
        self._load_words(data)
        self._encode()
        out = np.empty(self.code_bits, np.uint8)
        cdef uint8_t[::1] o = out
        cdef uint16_t[::1] c = self._code
        cdef int i, t
        for i in range(self.code_words):
            for t in range(16):
                o[16 * i + t] = (c[i] >> _TXBIT[t]) & 1
        return out

    # -- decoder ---------------------------------------------------------------
    cdef void _pass(self, int p) noexcept:
        cdef float[:, :, ::1] E = self._ext
        cdef float[:, :, ::1] CH = self._ch
        cdef float[:, ::1] A = self._alpha
        cdef float[:, ::1] U = self._u
        cdef int L = self.data_words
        cdef int k, j, q, d
        cdef float t
        cdef float beta[16]
        cdef float nb[16]
        cdef float obs[16]
        cdef float e
        # priors: what the other passes say about each data bit, in this pass's order
        for k in range(L):
            d = self.ov[p, k]
            for j in range(16):
                t = E[0, d, j] + E[1, d, j] + E[2, d, j] + E[3, d, j] - E[p, d, j]
                U[k, j] = _clip(t)
        for j in range(16):
            A[0, j] = U[0, j] + CH[p, 0, j]
        for k in range(1, L):
            for j in range(16):
                A[k, j] = _clip(_bp(A[k - 1, (j + 1) & 15], U[k, j]) + CH[p, k, j])
        for j in range(16):
            beta[j] = 0.0
        for k in range(L - 1, -1, -1):
            d = self.ov[p, k]
            for j in range(16):
                obs[j] = CH[p, k, j] + beta[j]
            for j in range(16):
                if k == 0:
                    e = obs[j]
                else:
                    e = _bp(A[k - 1, (j + 1) & 15], obs[j])
                E[p, d, j] = _clip(e)
            for j in range(16):
                nb[(j + 1) & 15] = _clip(_bp(obs[j], U[k, j]))
            for j in range(16):
                beta[j] = nb[j]

    def decode(self, soft, max_iterations=50, max_error_fraction=0.2):
        y = np.asarray(soft, np.float32).ravel()
        if y.size != self.code_bits:
            raise InputError(f"RA code: {self.code_bits} soft symbols needed, not {y.size}")
        cdef int L = self.data_words
        llr = channel_llr(y)
        cdef const float[::1] lv = llr
        cdef float[:, :, ::1] CH = self._ch
        cdef float[:, :, ::1] E = self._ext
        cdef uint8_t[:, ::1] H = self._hard
        cdef uint8_t[:, ::1] P = self._prev
        cdef int p, k, j, w, t, it = 0, stable = 0, same
        cdef int maxit = max(1, int(max_iterations))
        cdef float s
        for p in range(4):
            for k in range(L):
                w = self.sv[p, k]
                for j in range(16):
                    CH[p, k, j] = 0.0
                if w >= 0:
                    for t in range(16):
                        CH[p, k, _TXBIT[t]] = lv[16 * w + t]
        self._ext[...] = 0.0
        hard_rx = (y > 0).astype(np.uint8)
        bound = abort_bound(llr) * self.code_bits
        for it in range(1, maxit + 1):
            for p in range(4):
                self._pass(p)
            same = 1
            for k in range(L):
                for j in range(16):
                    s = E[0, k, j] + E[1, k, j] + E[2, k, j] + E[3, k, j]
                    H[k, j] = 1 if s < 0 else 0
                    if H[k, j] != P[k, j]:
                        same = 0
                    P[k, j] = H[k, j]
            stable = stable + 1 if (same and it > 1) else 0
            if stable >= STABLE_ITERATIONS:
                break
            if it % ABORT_EVERY == 0 and \
                    np.count_nonzero(self.encode(_pack(self._hard)) != hard_rx) > bound:
                break
        post = self._ext.sum(axis=0)
        data = _pack((post < 0).astype(np.uint8))
        errors = int(np.count_nonzero(self.encode(data) != hard_rx))
        valid = errors <= max_error_fraction * self.code_bits and stable >= STABLE_ITERATIONS \
            and bool(np.all(post != 0))
        return RaResult(data=data, valid=bool(valid), errors=errors, iterations=it,
                        llr=np.clip(post, -1e6, 1e6).astype(np.float32).ravel())

# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Convolutional code K=7 rate 1/2 and soft-decision Viterbi decoder (Cython kernel).

Same API and results as ``viterbi_ref`` (read its docstring for the code
conventions, the metric and the tie rules); tested against it bit for bit.

Implementation: 64 uint16 path costs. States are kept bit-reversed relative
to the reference (newest bit in bit 0), so a step reads the two halves of the
old costs contiguously: the 32 butterflies are one data-parallel operation.
Two add-compare-select cores, same decisions:

* with AVX-512BW (the station build uses -march=native): GCC/Clang vector
  types of 32 x uint16 held in registers across steps, an unsigned min on the
  critical path, the compare masks taken directly as the 32 decision bits, and
  the costs re-centred every 32 steps so that they never wrap;
* otherwise plain loops the C compiler vectorises (SSE2/AVX2), with costs that
  wrap around and are compared as ``(int16)(a - b)`` (their spread stays below
  6*508 + START_PENALTY < 32768), decisions packed 8 per multiplication.

Decisions are packed 64 per step in a uint64 (even new states in the low 32
bits, odd ones in the high 32) in buffers owned by the decoder and reused.
Float input is quantised by a branch-free loop (round half to even like
``np.rint``). Decoding releases the GIL; a decoder object holds state and
buffers, so use one per thread (``viterbi_decode`` makes its own).
"""
cimport cython
from libc.stdint cimport uint8_t, int8_t, uint16_t, int16_t, uint32_t, uint64_t
from libc.string cimport memcpy, memmove
from libc.math cimport fabsf

import numpy as np
cimport numpy as cnp

from ..errors import InputError
from .viterbi_ref import (AUTO_SCALE_TARGET, CONVENTIONS, K, START_PENALTY,  # noqa: F401
                          conv_params)

cnp.import_array()

__all__ = ["K", "CONVENTIONS", "conv_params", "quantize_soft", "conv_encode", "ConvEncoder",
           "viterbi_decode", "ViterbiDecoder", "START_PENALTY"]

cdef uint8_t _BITREV6[64]
cdef uint8_t _PARITY[128]
cdef int _i, _j, _v
for _i in range(64):
    _v = 0
    for _j in range(6):
        if _i & (1 << _j):
            _v |= 1 << (5 - _j)
    _BITREV6[_i] = _v
for _i in range(128):
    _v = 0
    for _j in range(7):
        _v ^= (_i >> _j) & 1
    _PARITY[_i] = _v


# ---------------------------------------------------------------- soft input

cdef void _quantize_f32(const float* y, Py_ssize_t n, float scale, int8_t* out) noexcept nogil:
    """q = clip(rint(y * scale), -127, 127), NaN -> 0; branch-free so that it vectorises.

    Rounding half to even like np.rint by the float32 1.5 * 2^23 trick (|v| <= 127).
    """
    cdef Py_ssize_t i
    cdef float v
    cdef float M = 12582912.0
    for i in range(n):
        v = y[i] * scale
        v = v if v == v else <float>0.0
        v = v if v < <float>127.0 else <float>127.0
        v = v if v > <float>-127.0 else <float>-127.0
        v = (v + M) - M
        out[i] = <int8_t><int>v


cdef void _clip_i8(const int8_t* y, Py_ssize_t n, int8_t* out) noexcept nogil:
    cdef Py_ssize_t i
    cdef int8_t v
    for i in range(n):
        v = y[i]
        out[i] = -127 if v == -128 else v


cdef double _mean_abs(const float* y, Py_ssize_t n) noexcept nogil:
    """Mean of |y| over the finite values (0 if none); 8 partial sums so that it vectorises."""
    cdef double acc[8]
    cdef Py_ssize_t cnt[8]
    cdef Py_ssize_t i, j, tot = 0
    cdef float v
    cdef double total = 0.0
    for j in range(8):
        acc[j] = 0.0
        cnt[j] = 0
    for i in range(0, n - n % 8, 8):
        for j in range(8):
            v = fabsf(y[i + j])
            acc[j] += v if v - v == 0 else 0.0
            cnt[j] += v - v == 0
    for i in range(n - n % 8, n):
        v = fabsf(y[i])
        if v - v == 0:
            acc[0] += v
            cnt[0] += 1
    for j in range(8):
        total += acc[j]
        tot += cnt[j]
    return total / tot if tot else 0.0


cdef object _soft_array(symbols):
    y = np.asarray(symbols).reshape(-1)
    if y.dtype == np.int8:
        return np.ascontiguousarray(y)
    return np.ascontiguousarray(y, dtype=np.float32)


cdef void _quantize_into(object y, object scale, int8_t* out):
    """y: contiguous int8 or float32 array (from _soft_array)."""
    cdef const int8_t[::1] yi
    cdef const float[::1] yf
    cdef float s
    cdef double m
    cdef Py_ssize_t n = y.size
    if n == 0:
        return
    if y.dtype == np.int8:
        yi = y
        with nogil:
            _clip_i8(&yi[0], n, out)
    else:
        yf = y
        if scale is None:
            with nogil:
                m = _mean_abs(&yf[0], n)
            s = <float>(AUTO_SCALE_TARGET / m) if m > 0 else 1.0
        else:
            s = <float>float(scale)
        with nogil:
            _quantize_f32(&yf[0], n, s, out)


def quantize_soft(symbols, scale=None):
    """Soft symbols -> int8 in -127..127 (see viterbi_ref.quantize_soft)."""
    y = _soft_array(symbols)
    out = np.empty(y.size, np.int8)
    cdef int8_t[::1] o = out
    if y.size:
        _quantize_into(y, scale, &o[0])
    return out


# ---------------------------------------------------------------- encoder

cdef object _as_bits(bits):
    b = np.ascontiguousarray(np.asarray(bits).reshape(-1))
    if b.size and (b.min() < 0 or b.max() > 1):
        raise InputError("bit arrays must hold only 0 and 1")
    return b.astype(np.uint8, copy=False)


cdef class ConvEncoder:
    """Stateful encoder (state as in the reference: 6 previous bits, bit 5 newest)."""
    cdef public object polys
    cdef public int invert
    cdef public int state
    cdef int p0, p1

    def __init__(self, convention="CCSDS", *, polys=None, invert=None, int state=0):
        self.polys, self.invert = conv_params(convention, polys, invert)
        self.p0, self.p1 = self.polys
        self.state = state & 63

    def encode(self, bits):
        b = _as_bits(bits)
        cdef const uint8_t[::1] bv = b
        cdef Py_ssize_t n = b.size, t
        out = np.empty(2 * n, np.uint8)
        cdef uint8_t[::1] o = out
        cdef int st = self.state, sr
        cdef int i0 = self.invert & 1, i1 = (self.invert >> 1) & 1
        cdef int p0 = self.p0, p1 = self.p1
        with nogil:
            for t in range(n):
                sr = (bv[t] << 6) | st
                o[2 * t] = _PARITY[sr & p0] ^ i0
                o[2 * t + 1] = _PARITY[sr & p1] ^ i1
                st = sr >> 1
        self.state = st
        return out


def conv_encode(bits, convention="CCSDS", *, polys=None, invert=None, terminate=True):
    b = _as_bits(bits)
    if terminate:
        b = np.concatenate([b, np.zeros(K - 1, np.uint8)])
    return ConvEncoder(convention, polys=polys, invert=invert).encode(b)


# ---------------------------------------------------------------- decoder core

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    #if defined(__GNUC__) && !defined(GS_VIT_NO_VECTOR) && defined(__AVX512BW__) && \
        (defined(__clang__) || __GNUC__ >= 9)
    #define GS_VIT_VECTOR 1
    typedef uint16_t gs_v32u __attribute__((vector_size(64)));
    typedef int16_t gs_v32s __attribute__((vector_size(64)));
    typedef uint8_t gs_v32b __attribute__((vector_size(32)));
    typedef uint64_t gs_v4q __attribute__((vector_size(32)));
    #if defined(__clang__)
    #define GS_SHUF(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
    #else
    #define GS_SHUF(a, b, ...) __builtin_shuffle(a, b, (gs_v32u){__VA_ARGS__})
    #endif
    #if defined(__AVX512BW__) || defined(__AVX2__)
    #include <immintrin.h>
    #endif
    /* lane i of m (0 or -1) -> bit i */
    static inline uint32_t gs_pack32(gs_v32s m) {
    #if defined(__AVX512BW__)
        __m512i x;
        memcpy(&x, &m, 64);
        return (uint32_t)_mm512_movepi16_mask(x);
    #elif defined(__AVX2__)
        __m256i x0, x1;
        memcpy(&x0, &m, 32);
        memcpy(&x1, (const char*)&m + 32, 32);
        __m256i p = _mm256_permute4x64_epi64(_mm256_packs_epi16(x0, x1), 0xD8);
        return (uint32_t)_mm256_movemask_epi8(p);
    #else
        gs_v32b by = __builtin_convertvector(m, gs_v32b);   /* 0xFF or 0 per lane */
        gs_v4q w;
        memcpy(&w, &by, 32);
        w = ((w & 0x0101010101010101ULL) * 0x0102040810204080ULL) >> 56;
        return (uint32_t)w[0] | ((uint32_t)w[1] << 8) | ((uint32_t)w[2] << 16) | ((uint32_t)w[3] << 24);
    #endif
    }
    /* unsigned 16-bit lane-wise minimum */
    static inline gs_v32u gs_min(gs_v32u a, gs_v32u b) {
    #if defined(__AVX512BW__)
        __m512i x, y; memcpy(&x, &a, 64); memcpy(&y, &b, 64);
        x = _mm512_min_epu16(x, y); memcpy(&a, &x, 64); return a;
    #else
        gs_v32u m = (gs_v32u)(b < a);
        return (a & ~m) | (b & m);
    #endif
    }
    static void gs_acs_vec(const int8_t* q, ptrdiff_t npairs, uint16_t* metrics, uint64_t* dec,
                           const uint16_t* mask0, const uint16_t* mask1) {
        /* Costs stay below 65536 without wrapping: every 32 steps they are shifted so
           that state 0 sits at 12000 (the spread is < 11240, growth < 32 * 508). The
           comparisons are then plain unsigned ones, the minimum an unsigned min. */
        gs_v32u lo, hi, M0, M1;
        memcpy(&lo, metrics, 64); memcpy(&hi, metrics + 32, 64);
        memcpy(&M0, mask0, 64); memcpy(&M1, mask1, 64);
        uint16_t off = (uint16_t)(lo[0] - 12000);
        lo -= off; hi -= off;
        for (ptrdiff_t t = 0; t < npairs; t++) {
            int u0 = q[2 * t] + 127, u1 = q[2 * t + 1] + 127;
            uint16_t m00 = (uint16_t)(u0 + u1);
            uint16_t d0 = (uint16_t)(254 - 2 * u0), d1 = (uint16_t)(254 - 2 * u1);
            gs_v32u bm = m00 + (M0 & d0) + (M1 & d1);
            gs_v32u bmc = (uint16_t)508 - bm;
            gs_v32u a = lo + bm, b = hi + bmc, c = lo + bmc, e = hi + bm;
            gs_v32s s0 = (gs_v32s)(b < a);
            gs_v32s s1 = (gs_v32s)(e < c);
            gs_v32u n0 = gs_min(a, b);
            gs_v32u n1 = gs_min(c, e);
            lo = GS_SHUF(n0, n1, 0,32,1,33,2,34,3,35,4,36,5,37,6,38,7,39,8,40,9,41,10,42,11,43,12,44,13,45,14,46,15,47);
            hi = GS_SHUF(n0, n1, 16,48,17,49,18,50,19,51,20,52,21,53,22,54,23,55,24,56,25,57,26,58,27,59,28,60,29,61,30,62,31,63);
            dec[t] = ((uint64_t)gs_pack32(s1) << 32) | gs_pack32(s0);
            if ((t & 31) == 31) {
                uint16_t o = (uint16_t)(lo[0] - 12000);
                lo -= o; hi -= o;
            }
        }
        memcpy(metrics, &lo, 64); memcpy(metrics + 32, &hi, 64);
    }
    #else
    #define GS_VIT_VECTOR 0
    static void gs_acs_vec(const int8_t* q, ptrdiff_t npairs, uint16_t* metrics, uint64_t* dec,
                           const uint16_t* mask0, const uint16_t* mask1) {}
    #endif
    """
    int GS_VIT_VECTOR
    void gs_acs_vec(const int8_t* q, Py_ssize_t npairs, uint16_t* metrics, uint64_t* dec,
                    const uint16_t* mask0, const uint16_t* mask1) noexcept nogil


VECTOR_CORE = bool(GS_VIT_VECTOR)   # the AVX-512 vector core was compiled in


cdef void _acs(const int8_t* q, Py_ssize_t npairs, uint16_t* metrics, uint64_t* dec,
               const uint16_t* mask0, const uint16_t* mask1, bint vector) noexcept nogil:
    if GS_VIT_VECTOR and vector:
        gs_acs_vec(q, npairs, metrics, dec, mask0, mask1)
    else:
        _acs_loop(q, npairs, metrics, dec, mask0, mask1)


cdef void _acs_loop(const int8_t* q, Py_ssize_t npairs, uint16_t* metrics, uint64_t* dec,
                    const uint16_t* mask0, const uint16_t* mask1) noexcept nogil:
    """Run npairs trellis steps on the int8 soft pairs q, filling dec[0..npairs-1].

    Plain loops the compiler vectorises with whatever SIMD the target has; the
    costs wrap around and are compared as (int16)(a - b).
    """
    cdef uint16_t lo[32]
    cdef uint16_t hi[32]
    cdef uint8_t dlo[32]
    cdef uint8_t dhi[32]
    cdef uint16_t m00, d0, d1, bm, bmc, a, b, c, e
    cdef int u0, u1
    cdef Py_ssize_t t, i
    cdef uint64_t w, packed
    cdef uint64_t MAGIC = 0x0102040810204080ULL
    for t in range(npairs):
        u0 = q[2 * t] + 127
        u1 = q[2 * t + 1] + 127
        m00 = <uint16_t>(u0 + u1)
        d0 = <uint16_t>(254 - 2 * u0)
        d1 = <uint16_t>(254 - 2 * u1)
        for i in range(32):
            bm = m00 + (mask0[i] & d0) + (mask1[i] & d1)
            bmc = 508 - bm
            a = metrics[i] + bm
            b = metrics[i + 32] + bmc
            c = metrics[i] + bmc
            e = metrics[i + 32] + bm
            dlo[i] = (<int16_t>(b - a)) < 0
            dhi[i] = (<int16_t>(e - c)) < 0
            lo[i] = b if (<int16_t>(b - a)) < 0 else a
            hi[i] = e if (<int16_t>(e - c)) < 0 else c
        for i in range(32):
            metrics[2 * i] = lo[i]
            metrics[2 * i + 1] = hi[i]
        packed = 0
        for i in range(4):              # 8 bytes of 0/1 -> 8 bits, by one multiplication
            memcpy(&w, &dlo[8 * i], 8)
            packed |= ((w * MAGIC) >> 56) << (8 * i)
            memcpy(&w, &dhi[8 * i], 8)
            packed |= ((w * MAGIC) >> 56) << (8 * i + 32)
        dec[t] = packed


cdef inline int _dec_bit(uint64_t d, int r) noexcept nogil:
    return <int>((d >> ((r >> 1) | ((r & 1) << 5))) & 1)


cdef void _traceback(const uint64_t* dec, Py_ssize_t nsteps, int end_r, uint8_t* out,
                     Py_ssize_t nout) noexcept nogil:
    """Bits of steps 0..nout-1 from a traceback over dec[0..nsteps-1] ending in state end_r."""
    cdef int r = end_r, x
    cdef Py_ssize_t t
    for t in range(nsteps - 1, -1, -1):
        if t < nout:
            out[t] = r & 1
        x = _dec_bit(dec[t], r)
        r = (r >> 1) | (x << 5)


cdef int _best_r(const uint16_t* m) noexcept nogil:
    """Bit-reversed label of the best state (lowest reference label among ties)."""
    cdef int s, r, best_r = _BITREV6[0]
    cdef uint16_t best = m[best_r]
    for s in range(1, 64):
        r = _BITREV6[s]
        if (<int16_t>(m[r] - best)) < 0:
            best = m[r]
            best_r = r
    return best_r


cdef class ViterbiDecoder:
    """K=7 r=1/2 soft Viterbi decoder; buffers are kept and reused across calls."""
    cdef public object polys
    cdef public int invert
    cdef public int traceback
    cdef public bint vector_core  # use the AVX-512 core when compiled in (tests switch it off)
    cdef uint16_t mask0[32]
    cdef uint16_t mask1[32]
    cdef uint16_t metrics[64]
    cdef uint16_t bmetrics[64]
    cdef object _dec          # uint64 stream decisions (grows, never shrinks)
    cdef object _bdec         # uint64 block decisions (grows, never shrinks)
    cdef object _q            # int8 quantised symbols (grows)
    cdef Py_ssize_t ndec      # stream: decisions held
    cdef int8_t pending       # stream: odd leftover symbol
    cdef bint has_pending

    def __init__(self, convention="CCSDS", *, polys=None, invert=None, int traceback=96):
        self.polys, self.invert = conv_params(convention, polys, invert)
        if not 6 <= traceback <= 4096:
            raise InputError(f"traceback must be 6..4096 pairs, got {traceback}")
        self.traceback = traceback
        self.vector_core = GS_VIT_VECTOR
        cdef int p0 = self.polys[0], p1 = self.polys[1], i, s
        for i in range(32):
            s = _BITREV6[i]            # reference label of old state R=i (oldest bit 0), input 0
            self.mask0[i] = 0xFFFF if (_PARITY[s & p0] ^ (self.invert & 1)) else 0
            self.mask1[i] = 0xFFFF if (_PARITY[s & p1] ^ ((self.invert >> 1) & 1)) else 0
        self._dec = np.empty(0, np.uint64)
        self._bdec = np.empty(0, np.uint64)
        self._q = np.empty(0, np.int8)
        self.reset()

    def reset(self):
        cdef int i
        for i in range(64):
            self.metrics[i] = 0
        self.ndec = 0
        self.has_pending = False

    cdef uint64_t* _dec_room(self, Py_ssize_t n):
        """Stream decisions: room for n, keeping the ndec held ones."""
        cdef uint64_t[::1] d
        if self._dec.size < n:
            new = np.empty(max(n, 2 * self._dec.size, 1024), np.uint64)
            new[: self.ndec] = self._dec[: self.ndec]
            self._dec = new
        d = self._dec
        return &d[0]

    cdef uint64_t* _bdec_room(self, Py_ssize_t n):
        """Block decisions (separate from the stream's)."""
        cdef uint64_t[::1] d
        if self._bdec.size < n:
            self._bdec = np.empty(max(n, 2 * self._bdec.size, 1024), np.uint64)
        d = self._bdec
        return &d[0]

    cdef int8_t* _q_room(self, Py_ssize_t n):
        cdef int8_t[::1] q
        if self._q.size < n:
            self._q = np.empty(max(n, 2 * self._q.size, 2048), np.int8)
        q = self._q
        return &q[0]

    def decode_block(self, symbols, bint terminated=True, start_state=0, scale=None):
        y = _soft_array(symbols)
        cdef Py_ssize_t nsym = y.size
        if nsym % 2:
            raise InputError(f"odd number of soft symbols ({nsym}): need pairs")
        cdef Py_ssize_t npairs = nsym // 2
        if terminated and npairs < K:
            raise InputError(f"a terminated block needs at least {K} pairs, got {npairs}")
        cdef int i, r
        if start_state is None:
            for i in range(64):
                self.bmetrics[i] = 0
        else:
            if not 0 <= int(start_state) < 64:
                raise InputError(f"start_state must be 0..63 or None, got {start_state}")
            for i in range(64):
                self.bmetrics[i] = START_PENALTY
            self.bmetrics[_BITREV6[int(start_state)]] = 0
        cdef Py_ssize_t nout = npairs - (K - 1) if terminated else npairs
        out = np.empty(nout, np.uint8)
        if npairs == 0:
            return out
        cdef int8_t* q = self._q_room(nsym)
        _quantize_into(y, scale, q)
        cdef uint64_t* dec = self._bdec_room(npairs)
        cdef uint8_t[::1] o = out
        with nogil:
            _acs(q, npairs, self.bmetrics, dec, self.mask0, self.mask1, self.vector_core)
            r = 0 if terminated else _best_r(self.bmetrics)
            _traceback(dec, npairs, r, &o[0] if nout else NULL, nout)
        return out

    def decode_stream(self, symbols, scale=None):
        y = _soft_array(symbols)
        cdef Py_ssize_t n = y.size
        cdef Py_ssize_t extra = 1 if self.has_pending else 0
        cdef int8_t* q = self._q_room(n + 1)
        if self.has_pending:
            q[0] = self.pending
        if n:
            _quantize_into(y, scale, q + extra)
        cdef Py_ssize_t total = n + extra
        cdef Py_ssize_t npairs = total // 2
        self.has_pending = (total % 2) == 1
        if self.has_pending:
            self.pending = q[total - 1]
        cdef uint64_t* dec = self._dec_room(self.ndec + npairs)
        cdef Py_ssize_t nd = self.ndec + npairs
        cdef Py_ssize_t nout = nd - self.traceback
        cdef int r
        if nout < 0:
            nout = 0
        out = np.empty(nout, np.uint8)
        cdef uint8_t[::1] o = out
        with nogil:
            _acs(q, npairs, self.metrics, dec + self.ndec, self.mask0, self.mask1, self.vector_core)
            if nout > 0:
                r = _best_r(self.metrics)
                _traceback(dec, nd, r, &o[0], nout)
                memmove(dec, dec + nout, (nd - nout) * sizeof(uint64_t))
        self.ndec = nd - nout
        return out

    def flush(self, bint terminated=False):
        cdef Py_ssize_t nd = self.ndec
        out = np.empty(nd, np.uint8)
        cdef uint8_t[::1] o = out
        cdef uint64_t* dec
        cdef int r
        if nd:
            dec = self._dec_room(nd)
            r = 0 if terminated else _best_r(self.metrics)
            with nogil:
                _traceback(dec, nd, r, &o[0], nd)
        self.reset()
        return out


def viterbi_decode(symbols, convention="CCSDS", *, polys=None, invert=None, terminated=True,
                   start_state=0, scale=None):
    return ViterbiDecoder(convention, polys=polys, invert=invert).decode_block(
        symbols, terminated=terminated, start_state=start_state, scale=scale)

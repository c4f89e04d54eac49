# cython: language_level=3
"""HDLC deframing/framing kernels for AX.25: G3RUH, NRZI, flags, bit stuffing, CRC-16/X.25.

Same functions and results as ``hdlc_ref.py`` (the readable specification);
see there for the bit-level definitions. The per-bit work of the receive
side (descramble, NRZI, flag search, unstuffing, byte assembly) runs in one
C loop over a chunk; Python is touched only once per completed frame.

Soft repair (``repair``) looks for the combination of up to ``max_flips`` of
the ``n_candidates`` weakest channel bits of a failed frame that makes it
valid. It gives the same answer as the reference's brute force, faster:

* For a flip set that cannot change the bit-stuffing/flag structure
  ("safe": no run of five or more 1s next to any bit it changes, before or
  after, and flips of different candidates at least 7 bits apart), the
  decoded frame changes by a fixed set of bit flips and the CRC, being
  linear, by the XOR of precomputed single-bit syndromes: only combinations
  whose syndromes XOR to the observed one are decoded again, to confirm.
* Combinations that may change the structure (and all combinations for a
  span that is not a byte-aligned frame: misaligned, or holding a flag or
  an abort that a bit error may have made) are decoded again, each, from a
  checkpoint of the unrepaired decode at their first flipped bit; skipped
  without decoding when all their flips come after the point where the
  unrepaired decode failed, or all well before a flag or abort that would
  then still be there.
"""
import numpy as np
cimport numpy as cnp
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy
from cpython.bytes cimport PyBytes_FromStringAndSize

cnp.import_array()

cdef enum:
    ST_OK = 0
    ST_CRC = 1
    ST_ALIGN = 2
    ST_ABORT = 3
    ST_SHORT = 4
    ONES_SAT = 7
    MAX_K = 8

# frame status, as in hdlc_ref
STATUS_OK, STATUS_CRC, STATUS_ALIGN, STATUS_ABORT, STATUS_SHORT = ST_OK, ST_CRC, ST_ALIGN, ST_ABORT, ST_SHORT
CRC_POLY_REFLECTED = 0x8408
CRC_INIT = 0xFFFF
CRC_XOROUT = 0xFFFF
CRC_GOOD_RESIDUE = 0xF0B8
SPAN_MARGIN = 32
HIST_MASK = 0x1FFFF
G3RUH_TAPS = (0, 12, 17)
_NO_TAPS = (0,)

cdef uint16_t _CRC_TABLE[256]


cdef void _init_crc_table():
    cdef int i, k
    cdef uint16_t c
    for i in range(256):
        c = <uint16_t>i
        for k in range(8):
            if c & 1:
                c = (c >> 1) ^ 0x8408
            else:
                c = c >> 1
        _CRC_TABLE[i] = c


_init_crc_table()


cdef inline uint16_t _crc_update(uint16_t crc, const uint8_t* p, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        crc = (crc >> 8) ^ _CRC_TABLE[(crc ^ p[i]) & 0xFF]
    return crc


def crc_register(const uint8_t[::1] data, int crc=0xFFFF):
    """The CRC-16/X.25 shift register after ``data`` (no final xor)."""
    if data.shape[0] == 0:
        return crc
    return _crc_update(<uint16_t>crc, &data[0], data.shape[0])


def fcs(data):
    """CRC-16/X.25 of ``data`` (the FCS value; sent low byte first)."""
    return crc_register(bytes(data)) ^ 0xFFFF


def append_fcs(data):
    f = fcs(data)
    return bytes(data) + bytes((f & 0xFF, f >> 8))


def check_fcs(frame):
    """True when ``frame`` (data followed by its FCS) is intact."""
    return len(frame) >= 2 and crc_register(bytes(frame)) == 0xF0B8


_SYNDROMES = np.zeros(0, dtype=np.uint16)


def single_bit_syndromes(Py_ssize_t nbits):
    """``T[m]``: CRC register change caused by flipping the bit m places before the end."""
    global _SYNDROMES
    cdef Py_ssize_t m
    cdef uint16_t s
    cdef uint16_t[::1] t
    if _SYNDROMES.shape[0] < nbits:
        arr = np.zeros(max(nbits, 8 * 1100), dtype=np.uint16)
        t = arr
        s = 0x8408
        for m in range(arr.shape[0]):
            t[m] = s
            s = (s >> 1) ^ (0x8408 if s & 1 else 0)
        _SYNDROMES = arr
    return _SYNDROMES[:nbits]


# --- receive ----------------------------------------------------------------------

cdef class HdlcDecoder:
    """Streaming HDLC deframer on soft symbols; state kept between ``process`` calls."""

    cdef readonly bint g3ruh
    cdef readonly Py_ssize_t min_bytes, max_bytes
    cdef public bint emit_bad
    cdef int64_t pos, start, alt, alt2
    cdef int aborts
    cdef uint32_t hist, acc
    cdef int prev_d, ones, nacc
    cdef bint in_frame
    cdef Py_ssize_t nbytes
    cdef uint8_t* buf

    def __cinit__(self, g3ruh=False, Py_ssize_t min_bytes=17, Py_ssize_t max_bytes=1026,
                  emit_bad=False):
        if min_bytes < 3 or max_bytes < min_bytes:
            raise ValueError("need 3 <= min_bytes <= max_bytes")
        self.buf = <uint8_t*>malloc(max_bytes)
        if self.buf == NULL:
            raise MemoryError()
        self.g3ruh = bool(g3ruh)
        self.min_bytes = min_bytes
        self.max_bytes = max_bytes
        self.emit_bad = bool(emit_bad)
        self.reset()

    def __dealloc__(self):
        free(self.buf)

    def reset(self):
        self.pos = 0
        self.hist = 0
        self.prev_d = 0
        self.ones = 0
        self.in_frame = False
        self.acc = 0
        self.nacc = 0
        self.nbytes = 0
        self.start = 0
        self.alt = -1
        self.alt2 = -1
        self.aborts = 0

    def state(self):
        return (self.pos, self.hist, self.prev_d, self.ones, int(self.in_frame),
                self.acc, self.nacc, self.nbytes, self.start, self.alt, self.alt2,
                self.aborts)

    cdef void _close(self, list out, int64_t end, bint in_frame, int nacc):
        """A flag ends at ``end``: report what it closes (see the reference)."""
        cdef uint16_t crc
        cdef int status = -1
        cdef int64_t min_bits = 8 * self.min_bytes
        cdef int64_t earliest = self.alt2 if self.alt2 >= 0 else self.alt
        if not in_frame:
            if self.aborts == 1:
                status = ST_ABORT
                if self.emit_bad and (end - self.start >= min_bits or
                                      (earliest >= 0 and end - earliest >= min_bits)):
                    out.append((b"", self.start, end, status, self.alt, self.alt2))
        elif self.nbytes >= self.min_bytes:
            if nacc != 7:
                status = ST_ALIGN
                if self.emit_bad:
                    out.append((b"", self.start, end, status, self.alt, self.alt2))
            else:
                crc = _crc_update(0xFFFF, self.buf, self.nbytes)
                status = ST_OK if crc == 0xF0B8 else ST_CRC
                if status == ST_OK or self.emit_bad:
                    out.append((PyBytes_FromStringAndSize(<char*>self.buf, self.nbytes),
                                self.start, end, status, self.alt, self.alt2))
        elif end - self.start > 8:
            status = ST_SHORT
            if self.emit_bad and earliest >= 0 and end - earliest >= min_bits:
                out.append((b"", self.start, end, status, self.alt, self.alt2))
        # the next segments may be the rest of this one, split by false flags or
        # aborts: remember its start, unless it was a good frame, a lone flag,
        # aborted twice or too long
        if status == -1 or status == ST_OK:
            self.alt = -1
            self.alt2 = -1
        else:
            self.alt2 = self.alt
            self.alt = self.start

    def process(self, soft):
        """Consume soft symbols (float32, > 0 is 1); return ``[(data, start, end, status)]``."""
        cdef const float[::1] s = np.ascontiguousarray(soft, dtype=np.float32).reshape(-1)
        cdef Py_ssize_t n = s.shape[0], i
        cdef list out = []
        cdef uint32_t hist = self.hist, acc = self.acc, h, c, d
        cdef int prev_d = self.prev_d, ones = self.ones, nacc = self.nacc, run
        cdef bint in_frame = self.in_frame, g3ruh = self.g3ruh
        cdef Py_ssize_t nbytes = self.nbytes, max_bytes = self.max_bytes
        cdef Py_ssize_t min_bytes = self.min_bytes
        cdef uint8_t* buf = self.buf
        cdef int aborts = self.aborts
        for i in range(n):
            c = 1 if s[i] > 0 else 0
            h = (hist << 1) | c
            if g3ruh:
                d = c ^ ((h >> 12) & 1) ^ ((h >> 17) & 1)
            else:
                d = c
            hist = h & 0x1FFFF
            if d == <uint32_t>prev_d:          # no transition: a 1
                if ones < ONES_SAT:
                    ones += 1
                    if ones == ONES_SAT:       # abort: hunt for the next flag
                        in_frame = False
                        if aborts < 2:
                            aborts += 1
                if in_frame:
                    acc = (acc >> 1) | 0x80
                    nacc += 1
                    if nacc == 8:
                        if nbytes >= max_bytes:
                            in_frame = False
                            aborts = 2
                        else:
                            buf[nbytes] = <uint8_t>acc
                            nbytes += 1
                        acc = 0
                        nacc = 0
            else:                              # a transition: a 0
                run = ones
                ones = 0
                if run == 6:                   # flag
                    if in_frame or aborts == 1 or self.alt >= 0:
                        self.nbytes = nbytes
                        self.aborts = aborts
                        self._close(out, self.pos + i + 1, in_frame, nacc)
                    in_frame = True
                    acc = 0
                    nacc = 0
                    nbytes = 0
                    aborts = 0
                    self.start = self.pos + i + 1
                elif run != 5 and in_frame:
                    acc = acc >> 1
                    nacc += 1
                    if nacc == 8:
                        if nbytes >= max_bytes:
                            in_frame = False
                            aborts = 2
                        else:
                            buf[nbytes] = <uint8_t>acc
                            nbytes += 1
                        acc = 0
                        nacc = 0
            prev_d = d
        self.pos += n
        self.hist = hist
        self.acc = acc
        self.prev_d = prev_d
        self.ones = ones
        self.nacc = nacc
        self.in_frame = in_frame
        self.nbytes = nbytes
        self.aborts = aborts
        return out


cdef void _descramble_nrzi(const float* s, Py_ssize_t n, bint g3ruh, uint8_t* x) noexcept nogil:
    """Decoded bits of a span, starting from a zero state (as the reference does)."""
    cdef uint32_t hist = 0, h, c, d, prev_d = 0
    cdef Py_ssize_t i
    for i in range(n):
        c = 1 if s[i] > 0 else 0
        h = (hist << 1) | c
        if g3ruh:
            d = c ^ ((h >> 12) & 1) ^ ((h >> 17) & 1)
        else:
            d = c
        hist = h & 0x1FFFF
        x[i] = 1 if d == prev_d else 0
        prev_d = d


cdef Py_ssize_t _hdlc_span(const uint8_t* x, Py_ssize_t q0, Py_ssize_t end, int ones, int nacc,
                           uint32_t acc, Py_ssize_t nbytes, Py_ssize_t min_bytes,
                           Py_ssize_t max_bytes, uint8_t* out, uint32_t* rec,
                           Py_ssize_t* stop) noexcept nogil:
    """HDLC over ``x[q0:end]`` from the given state (``out[:nbytes]`` already filled).

    Returns the frame length when a flag ending at ``end`` closes a
    byte-aligned frame of allowed length with a good CRC and nothing happened
    before it but (optionally) more flags right at the start; else -1.
    ``rec`` (when not NULL) gets the state before each bit, packed as
    ``ones | nacc << 3 | acc << 7 | nbytes << 15``; ``*stop`` the position
    where the decision was made.
    """
    cdef int run
    cdef Py_ssize_t q
    stop[0] = end
    for q in range(q0, end):
        if rec != NULL:
            rec[q] = <uint32_t>ones | (<uint32_t>nacc << 3) | (acc << 7) | (<uint32_t>nbytes << 15)
        if x[q]:
            ones += 1
            if ones == 7:
                stop[0] = q
                return -1
            acc = (acc >> 1) | 0x80
            nacc += 1
        else:
            run = ones
            ones = 0
            if run == 6:
                if q == end - 1:
                    if nacc != 7 or nbytes < min_bytes or nbytes > max_bytes:
                        return -1
                    if _crc_update(0xFFFF, out, nbytes) != 0xF0B8:
                        return -1
                    return nbytes
                if nbytes != 0 or nacc != 7:
                    stop[0] = q
                    return -1
                acc = 0                        # a leading flag: start again
                nacc = 0
                continue
            if run == 5:
                continue
            acc = acc >> 1
            nacc += 1
        if nacc == 8:
            if nbytes >= max_bytes:
                stop[0] = q
                return -1
            out[nbytes] = <uint8_t>acc
            nbytes += 1
            acc = 0
            nacc = 0
    return -1


cdef inline Py_ssize_t _decode_span(const uint8_t* x, Py_ssize_t start, Py_ssize_t end,
                                    Py_ssize_t min_bytes, Py_ssize_t max_bytes,
                                    uint8_t* out) noexcept nogil:
    """HDLC over ``x[start:end]`` just after an opening flag: frame length or -1."""
    cdef Py_ssize_t stop
    return _hdlc_span(x, start, end, 0, 0, 0, 0, min_bytes, max_bytes, out, NULL, &stop)


def decode_bits_span(const uint8_t[::1] x, Py_ssize_t start, Py_ssize_t end,
                     Py_ssize_t min_bytes, Py_ssize_t max_bytes):
    """HDLC over decoded bits ``x[start:end]`` (see the reference): frame with FCS or None."""
    if start < 0 or end > x.shape[0] or end <= start:
        return None
    out = bytearray(max_bytes + 1)
    cdef uint8_t[::1] o = out
    cdef Py_ssize_t n = _decode_span(&x[0], start, end, min_bytes, max_bytes, &o[0])
    return bytes(out[:n]) if n >= 0 else None


# --- soft repair ------------------------------------------------------------------

cdef inline int _run_through(const uint8_t* w, Py_ssize_t j, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """Length of the run of 1s containing ``w[j]`` (0 when it is a 0), within [lo, hi)."""
    cdef Py_ssize_t a, b
    if j < lo or j >= hi or not w[j]:
        return 0
    a = j
    while a > lo and w[a - 1]:
        a -= 1
    b = j
    while b + 1 < hi and w[b + 1]:
        b += 1
    return <int>(b - a + 1)


cdef inline int _near_run(const uint8_t* w, Py_ssize_t q, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    cdef int r = _run_through(w, q - 1, lo, hi), t
    t = _run_through(w, q, lo, hi)
    if t > r:
        r = t
    t = _run_through(w, q + 1, lo, hi)
    if t > r:
        r = t
    return r


def flip_positions(Py_ssize_t p, bint g3ruh):
    """Decoded-bit positions changed by flipping channel bit ``p``."""
    taps = G3RUH_TAPS if g3ruh else _NO_TAPS
    return [p + t + k for t in taps for k in (0, 1)]


def repair_candidates(soft, Py_ssize_t start, Py_ssize_t end, bint g3ruh, int n):
    """The ``n`` weakest channel bits whose flip stays inside the frame (by |soft|, then index)."""
    r = Repairer(g3ruh, 1, n, 3, max(3, (end - start) // 8 + 1))
    return r.candidates(soft, start, end)


def repair(soft, Py_ssize_t start, Py_ssize_t end, bint g3ruh, int max_flips, int n_candidates,
           Py_ssize_t min_bytes=17, Py_ssize_t max_bytes=1026, accept=None):
    """Soft repair of one frame span: ``(data_with_fcs, flips)`` or None (see ``Repairer``)."""
    if max_flips < 1:
        return None
    return Repairer(g3ruh, max_flips, n_candidates, min_bytes, max_bytes).repair(
        soft, start, end, accept)


cdef class Repairer:
    """Soft repair of failed frame spans, with its work buffers allocated once.

    ``repair(soft, start, end)``: ``soft`` holds the channel symbols of a span,
    ``start`` is the index of the frame's first bit (at least ``SPAN_MARGIN``
    into the span), ``end`` the index just past its closing flag. Among the
    combinations of up to ``max_flips`` of the ``n_candidates`` weakest channel
    bits that make the span decode as one valid frame closing at ``end``,
    returns the one with the smallest total |soft| (then the first in
    enumeration order: by size, then lexicographic in candidate rank) that
    ``accept(data_without_fcs)`` agrees with, as ``(data_with_fcs, flips)``;
    None when there is none. Same results as ``hdlc_ref.repair`` (brute force).
    """

    cdef readonly bint g3ruh
    cdef readonly int max_flips, n_candidates
    cdef readonly Py_ssize_t min_bytes, max_bytes
    cdef int ntap
    cdef int taps[3]
    cdef Py_ssize_t cap
    cdef object _x0, _w, _fb, _rec, _out, _out0, _syn_table
    cdef uint8_t[::1] x0, w, out, out0
    cdef int32_t[::1] fb
    cdef uint32_t[::1] rec
    cdef uint16_t[::1] T
    # per candidate (at most 64)
    cdef int64_t cpos[64]
    cdef int64_t cmax[64]
    cdef float cmag[64]
    cdef int64_t F[64][6]
    cdef uint8_t safe[64]
    cdef uint16_t syn[64]
    cdef uint8_t far[64][64]

    def __init__(self, g3ruh, int max_flips, int n_candidates, Py_ssize_t min_bytes=17,
                 Py_ssize_t max_bytes=1026):
        if not 0 <= max_flips <= MAX_K or not 0 <= n_candidates <= 64:
            raise ValueError(f"repair limited to {MAX_K} flips among 64 candidates")
        if min_bytes < 3 or max_bytes < min_bytes:
            raise ValueError("need 3 <= min_bytes <= max_bytes")
        self.g3ruh = bool(g3ruh)
        self.max_flips = max_flips
        self.n_candidates = n_candidates
        self.min_bytes = min_bytes
        self.max_bytes = max_bytes
        if self.g3ruh:
            self.ntap = 6
            self.taps[0], self.taps[1], self.taps[2] = 0, 12, 17
        else:
            self.ntap = 2
            self.taps[0], self.taps[1], self.taps[2] = 0, 0, 0
        self.cap = 0
        self._out = np.zeros(max_bytes + 1, dtype=np.uint8)
        self.out = self._out
        self._out0 = np.zeros(max_bytes + 1, dtype=np.uint8)
        self.out0 = self._out0
        self._syn_table = single_bit_syndromes(8 * max_bytes)
        self.T = self._syn_table

    cdef void _grow(self, Py_ssize_t n):
        if n <= self.cap:
            return
        self.cap = max(n, 2 * self.cap)
        self._x0 = np.zeros(self.cap, dtype=np.uint8)
        self._w = np.zeros(self.cap, dtype=np.uint8)
        self._fb = np.zeros(self.cap, dtype=np.int32)
        self._rec = np.zeros(self.cap, dtype=np.uint32)
        self.x0 = self._x0
        self.w = self._w
        self.fb = self._fb
        self.rec = self._rec

    cdef int _select(self, const float* s, Py_ssize_t start, Py_ssize_t end) noexcept nogil:
        """Fill cpos/cmag with the weakest eligible bits, sorted; return how many."""
        cdef Py_ssize_t p
        cdef int t, k, nc = 0, ok, nmax = self.n_candidates
        cdef float m, mmin = 1e38, mmax = -1.0
        cdef int64_t q
        for p in range(start, end - 8):
            ok = 1
            for t in range(self.ntap // 2):
                # the flip must not touch the closing flag [end-8, end)
                q = p + self.taps[t]
                if not (q + 1 < end - 8 or q >= end):
                    ok = 0
            if not ok:
                continue
            m = s[p] if s[p] >= 0 else -s[p]
            if m < mmin:
                mmin = m
            if m > mmax:
                mmax = m
            if nc == nmax and not m < self.cmag[nc - 1]:
                continue                   # ties keep the earlier index
            k = nc if nc < nmax else nmax - 1
            while k > 0 and m < self.cmag[k - 1]:
                self.cmag[k] = self.cmag[k - 1]
                self.cpos[k] = self.cpos[k - 1]
                k -= 1
            self.cmag[k] = m
            self.cpos[k] = p
            if nc < nmax:
                nc += 1
        if nc == 0 or mmin == mmax:
            return 0                       # hard decisions: nothing tells which bits are weak
        return nc

    def candidates(self, soft, Py_ssize_t start, Py_ssize_t end):
        cdef const float[::1] s = np.ascontiguousarray(soft, dtype=np.float32).reshape(-1)
        if start < 0 or end > s.shape[0] or end - 8 <= start or self.n_candidates == 0:
            return []
        cdef int nc = self._select(&s[0], start, end)
        return [int(self.cpos[i]) for i in range(nc)]

    def repair(self, soft, Py_ssize_t start, Py_ssize_t end, accept=None):
        cdef const float[::1] s = np.ascontiguousarray(soft, dtype=np.float32).reshape(-1)
        cdef Py_ssize_t n = s.shape[0], q, L = 0
        cdef int nc, ntap = self.ntap, i, j, a, b, k, t, ones = 0, ok, order = 0, csafe, nb
        cdef int kmax
        cdef int idx[MAX_K]
        cdef bint aligned, linear = True
        cdef uint16_t S = 0, sy, acc_syn
        cdef uint32_t acc = 0
        cdef int64_t da, pq, qmin, pmax, M, chain, lastflag = -100
        cdef int r
        cdef Py_ssize_t qstop, qstop2, nb0
        cdef uint32_t st
        cdef double cost
        if (self.max_flips < 1 or start < SPAN_MARGIN or end > n
                or end - start < 8 * self.min_bytes):
            return None
        self._grow(n)
        nc = self._select(&s[0], start, end)
        if nc == 0:
            return None
        _descramble_nrzi(&s[0], n, self.g3ruh, &self.x0[0])
        memcpy(&self.w[0], &self.x0[0], n)

        # flip sets (positions >= end dropped: they are after the closing flag)
        for i in range(nc):
            for t in range(ntap // 2):
                for j in range(2):
                    pq = self.cpos[i] + self.taps[t] + j
                    self.F[i][2 * t + j] = pq if pq < end else -1
            self.cmax[i] = self.cpos[i]
            for j in range(ntap):
                if self.F[i][j] > self.cmax[i]:
                    self.cmax[i] = self.F[i][j]

        # the frame's bit structure: frame-bit index of each decoded bit (-1:
        # stuffed), the frame bytes and its CRC syndrome. A span holding a flag
        # or an abort is not linear: only a structure change can make it valid.
        for q in range(start, end - 8):
            if self.x0[q]:
                ones += 1
                if ones >= 7:
                    linear = False
                b = 1
            else:
                if ones == 6:
                    linear = False
                b = 0 if ones != 5 else -1
                ones = 0
            if b < 0:
                self.fb[q] = -1
                continue
            self.fb[q] = <int32_t>L
            if L < 8 * self.max_bytes:
                acc = (acc >> 1) | (<uint32_t>b << 7)
                if L % 8 == 7:
                    self.out[L // 8] = <uint8_t>acc
            L += 1
        aligned = linear and (L % 8 == 0) and 8 * self.min_bytes <= L <= 8 * self.max_bytes
        if aligned:
            S = _crc_update(0xFFFF, &self.out[0], L // 8) ^ 0xF0B8
        # the unrepaired decode, with its state before each bit: a trial resumes
        # from its first flipped bit; a trial whose flips all come after the
        # point where the unrepaired decode failed early cannot change that
        _hdlc_span(&self.x0[0], start, end, 0, 0, 0, 0, self.min_bytes, self.max_bytes,
                   &self.out0[0], &self.rec[0], &qstop)
        # ... and one whose flips all come well before a flag or abort of the
        # unrepaired span (other than its closing flag) meets that event too: the
        # 8 bits that make an event are then unchanged. A flag may still be a
        # harmless leading flag if a chain of flags links it to a flag the flips
        # made at the start: it is certain only past the chain's start - 8.
        M = -1
        r = 0
        chain = -1
        for q in range(start, end - 1):
            if self.x0[q]:
                r += 1
                if r >= 7 and q - 7 > M:
                    M = q - 7
            else:
                if r == 6:
                    if chain < 0 or self.x0[q - 8] != 0 or q - 8 != lastflag:
                        chain = q - 7
                    lastflag = q
                    if chain - 8 > M:
                        M = chain - 8
                r = 0

        # per candidate: safe (cannot change the stuffing/flag structure)? its syndrome
        for i in range(nc):
            ok = 1
            for j in range(ntap):
                q = self.F[i][j]
                if q >= 0 and _near_run(&self.x0[0], q, 0, n) >= 5:
                    ok = 0
            for j in range(ntap):
                if self.F[i][j] >= 0:
                    self.w[self.F[i][j]] ^= 1
            for j in range(ntap):
                q = self.F[i][j]
                if q >= 0 and _near_run(&self.w[0], q, 0, n) >= 5:
                    ok = 0
            for j in range(ntap):
                if self.F[i][j] >= 0:
                    self.w[self.F[i][j]] ^= 1
            self.safe[i] = ok
            sy = 0
            if ok and aligned:
                for j in range(ntap):
                    q = self.F[i][j]
                    if q >= 0:
                        sy ^= self.T[L - 1 - self.fb[q]]
            self.syn[i] = sy

        # pairs of candidates whose flips are far enough apart not to interact
        for a in range(nc):
            self.far[a][a] = 1
            for b in range(a + 1, nc):
                ok = 1
                for i in range(ntap):
                    for j in range(ntap):
                        if self.F[a][i] >= 0 and self.F[b][j] >= 0:
                            da = self.F[a][i] - self.F[b][j]
                            if -7 < da < 7:
                                ok = 0
                self.far[a][b] = ok
                self.far[b][a] = ok

        found = []
        kmax = self.max_flips if self.max_flips < nc else nc
        for k in range(1, kmax + 1):
            for i in range(k):
                idx[i] = i
            while True:
                csafe = 1
                acc_syn = 0
                for i in range(k):
                    if not self.safe[idx[i]]:
                        csafe = 0
                    acc_syn ^= self.syn[idx[i]]
                    for j in range(i):
                        if not self.far[idx[i]][idx[j]]:
                            csafe = 0
                # a safe combination changes the CRC linearly: decode only on a
                # syndrome match; any other is decoded again to see what it gives
                if (not csafe) or (aligned and acc_syn == S):
                    qmin = self.cpos[idx[0]]
                    pmax = self.cmax[idx[0]]
                    for i in range(1, k):
                        if self.cpos[idx[i]] < qmin:
                            qmin = self.cpos[idx[i]]
                        if self.cmax[idx[i]] > pmax:
                            pmax = self.cmax[idx[i]]
                    if qmin <= qstop and pmax >= M:
                        for i in range(k):
                            for j in range(ntap):
                                if self.F[idx[i]][j] >= 0:
                                    self.w[self.F[idx[i]][j]] ^= 1
                        st = self.rec[qmin]
                        nb0 = <Py_ssize_t>(st >> 15)
                        if nb0 > 0:
                            memcpy(&self.out[0], &self.out0[0], nb0)
                        nb = <int>_hdlc_span(&self.w[0], qmin, end, st & 7, (st >> 3) & 15,
                                             (st >> 7) & 0xFF, nb0, self.min_bytes,
                                             self.max_bytes, &self.out[0], NULL, &qstop2)
                        for i in range(k):
                            for j in range(ntap):
                                if self.F[idx[i]][j] >= 0:
                                    self.w[self.F[idx[i]][j]] ^= 1
                        if nb >= 0:
                            cost = 0.0
                            for i in range(k):
                                cost += <double>self.cmag[idx[i]]
                            found.append((cost, order, self._out[:nb].tobytes(), k))
                order += 1
                # next combination of k out of nc, in lexicographic order
                i = k - 1
                while i >= 0 and idx[i] == nc - k + i:
                    i -= 1
                if i < 0:
                    break
                idx[i] += 1
                for j in range(i + 1, k):
                    idx[j] = idx[j - 1] + 1
        if not found:
            return None
        found.sort(key=lambda f: (f[0], f[1]))
        for f in found:
            data = f[2]
            if accept is None or accept(data[:len(data) - 2]):
                return data, f[3]
        return None


# --- transmit -----------------------------------------------------------------------

cdef class HdlcEncoder:
    """Frame (FCS included) -> flags + stuffed bits -> NRZI -> [G3RUH]; state carries over."""

    cdef readonly bint g3ruh
    cdef public int level
    cdef public uint32_t hist

    def __init__(self, g3ruh=False):
        self.g3ruh = bool(g3ruh)
        self.level = 0
        self.hist = 0

    def encode(self, frame, int preamble_flags, int postamble_flags):
        cdef const uint8_t[::1] f = bytes(frame)
        cdef Py_ssize_t nf = f.shape[0]
        cdef Py_ssize_t cap = 8 * (preamble_flags + postamble_flags) + (nf * 8 * 6) // 5 + 8
        outa = np.empty(cap, dtype=np.uint8)
        cdef uint8_t[::1] o = outa
        cdef Py_ssize_t n = 0, i
        cdef int k, b, ones = 0, level = self.level
        cdef uint32_t hist = self.hist, c
        cdef bint g3ruh = self.g3ruh
        cdef int byte, seg, nbits
        # three segments: preamble flags, stuffed frame, postamble flags
        for seg in range(3):
            nbits = 8 * (preamble_flags if seg == 0 else (nf if seg == 1 else postamble_flags))
            for i in range(nbits):
                if seg == 1:
                    b = (f[i >> 3] >> (i & 7)) & 1
                else:
                    b = (0x7E >> (i & 7)) & 1
                while True:
                    if not b:
                        level ^= 1
                    c = <uint32_t>level
                    if g3ruh:
                        c ^= ((hist >> 11) & 1) ^ ((hist >> 16) & 1)
                    hist = ((hist << 1) | c) & 0x1FFFF
                    o[n] = <uint8_t>c
                    n += 1
                    if seg != 1:
                        break
                    if b:
                        ones += 1
                        if ones == 5:
                            ones = 0
                            b = 0          # insert the stuffed zero
                            continue
                    else:
                        ones = 0
                    break
        self.level = level
        self.hist = hist
        return outa[:n]

# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Reed-Solomon over GF(2^8) (Cython kernel): same API and results as ``reedsolomon_ref``.

Read the reference's docstring for the code conventions. Implementation:

* encoding and the first decoding step run the generator-polynomial LFSR with
  a 256 x nroots product table (one table row XORed per input symbol, a loop
  the compiler vectorises);
* decoding first compares the recomputed parity with the received one: a
  clean codeword costs just that. Otherwise the syndromes come from that
  nroots-symbol remainder (nroots^2 products, not n*nroots), then
  Berlekamp-Massey with erasure initialisation, a Chien search over the real
  (non-padding) positions only with early exit, and Forney's formula;
* every work buffer lives in the code object, nothing is allocated per symbol.
  The methods keep the GIL (a decode takes microseconds), so one code object can
  be shared between threads, as the ``ccsds_rs()`` instances are.
"""
cimport cython
from libc.stdint cimport uint8_t, int32_t
from libc.string cimport memset, memcpy

import numpy as np
cimport numpy as cnp

from ..errors import InputError
from .crc_ref import as_u8
from .reedsolomon_ref import (CCSDS_FCR, CCSDS_GFPOLY, CCSDS_NROOTS, CCSDS_PRIM, TAL,  # noqa: F401
                              TAL_INV, _check_depth, _check_params, conventional_to_dual,
                              dual_to_conventional, gf_tables)

cnp.import_array()

__all__ = [
    "CCSDS_GFPOLY", "CCSDS_FCR", "CCSDS_PRIM", "CCSDS_NROOTS", "TAL", "TAL_INV",
    "conventional_to_dual", "dual_to_conventional", "ReedSolomon", "ccsds_rs",
]

cdef inline cnp.ndarray _u8(data):
    """as_u8 with a fast path for contiguous uint8 arrays."""
    if cnp.PyArray_Check(data) and cnp.PyArray_TYPE(<cnp.ndarray>data) == cnp.NPY_UINT8 \
            and cnp.PyArray_NDIM(<cnp.ndarray>data) == 1 \
            and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>data):
        return <cnp.ndarray>data
    return as_u8(data)


cdef enum:
    NN = 255
    A0 = 255          # log of zero
    MAXR = 256        # work-array size for polynomials (nroots <= 254)


cdef class ReedSolomon:
    """A Reed-Solomon code over GF(256); see reedsolomon_ref.ReedSolomon."""
    cdef readonly int n, k, nroots, fcr, prim, gfpoly
    cdef readonly bint dual_basis
    cdef uint8_t alpha_to[512]      # alpha_to[i] = alpha^(i mod 255) for 0 <= i < 510
    cdef uint8_t index_of[256]
    cdef uint8_t tal[256]
    cdef uint8_t tal_inv[256]
    cdef object _gtab_arr           # uint8[256, nroots]: row fb = fb * g_1..g_nroots
    cdef uint8_t* gtab
    cdef object _etab_arr           # uint8[nroots, nroots]: [deg, j] = ((fcr+j)*prim*deg) % 255
    cdef uint8_t* etab
    cdef object _ptab_arr           # uint8[nroots+1, 255]: [k, d] = (-prim*k*d) % 255
    cdef uint8_t* ptab
    # work buffers
    cdef uint8_t r[256]
    cdef uint8_t reg[256]
    cdef int S[MAXR]
    cdef int lam[2 * MAXR]
    cdef int B[2 * MAXR]
    cdef int T[2 * MAXR]
    cdef int omega[MAXR]
    cdef int tk[MAXR]
    cdef int root_pos[MAXR]
    cdef int root_d[MAXR]
    cdef object _eras_arr

    def __init__(self, int nroots=CCSDS_NROOTS, int fcr=CCSDS_FCR, int prim=CCSDS_PRIM,
                 int gfpoly=CCSDS_GFPOLY, dual_basis=False):
        _check_params(nroots, fcr, prim, gfpoly)
        if dual_basis and gfpoly != CCSDS_GFPOLY:
            raise InputError("the dual basis transform is defined for the CCSDS field (0x187)")
        self.n = NN
        self.nroots, self.fcr, self.prim, self.gfpoly = nroots, fcr, prim, gfpoly
        self.k = NN - nroots
        self.dual_basis = bool(dual_basis)
        alpha_to, index_of = gf_tables(gfpoly)
        cdef int i, j
        for i in range(512):
            self.alpha_to[i] = alpha_to[i % NN]
        for i in range(256):
            self.index_of[i] = index_of[i]
            self.tal[i] = TAL[i]
            self.tal_inv[i] = TAL_INV[i]
        # generator polynomial, g[0] = 1 is the highest-degree coefficient
        g = [1]
        for j in range(nroots):
            root = alpha_to[(prim * (fcr + j)) % NN]
            ng = g + [0]
            for i in range(1, len(ng)):
                ng[i] ^= self._mul(g[i - 1], root)
            g = ng
        gt = np.zeros((256, nroots), np.uint8)
        for i in range(1, 256):
            for j in range(nroots):
                gt[i, j] = self._mul(i, g[j + 1])
        self._gtab_arr = gt
        cdef uint8_t[:, ::1] gv = gt
        self.gtab = &gv[0, 0]
        et = np.zeros((nroots, nroots), np.uint8)
        for i in range(nroots):
            for j in range(nroots):
                et[i, j] = ((fcr + j) * prim * i) % NN
        self._etab_arr = et
        cdef uint8_t[:, ::1] ev = et
        self.etab = &ev[0, 0]
        kd = np.arange(nroots + 1)[:, None] * np.arange(NN)[None, :]
        pt = np.ascontiguousarray(((-prim * kd) % NN).astype(np.uint8))
        self._ptab_arr = pt
        cdef uint8_t[:, ::1] pv = pt
        self.ptab = &pv[0, 0]
        self._eras_arr = np.zeros(256, np.int32)

    cdef inline int _mul(self, int a, int b) noexcept nogil:
        if a == 0 or b == 0:
            return 0
        return self.alpha_to[self.index_of[a] + self.index_of[b]]

    # ------------------------------------------------------------ encoding
    cdef void _divide(self, uint8_t* w, Py_ssize_t n) noexcept nogil:
        """Long division in place: w[0..n+nroots) holds d(x) x^nroots + p(x); afterwards
        w[n..n+nroots) = (d(x) x^nroots + p(x)) mod g(x) (the quotient part is left dirty)."""
        cdef int nr = self.nroots, j
        cdef uint8_t fb
        cdef const uint8_t* row
        cdef uint8_t* dst
        cdef Py_ssize_t i
        for i in range(n):
            fb = w[i]
            if fb:
                row = self.gtab + fb * nr
                dst = w + i + 1
                for j in range(nr):
                    dst[j] ^= row[j]

    def _check_data(self, data):
        d = _u8(data)
        if not 1 <= d.size <= self.k:
            raise InputError(f"RS({self.n},{self.k}) data must be 1..{self.k} bytes, got {d.size}")
        return d

    cdef void _encode_into(self, const uint8_t* d, Py_ssize_t stride, Py_ssize_t n,
                           uint8_t* par, Py_ssize_t pstride) noexcept nogil:
        cdef Py_ssize_t i
        cdef int j, nr = self.nroots
        cdef uint8_t* w = self.r
        if self.dual_basis:
            for i in range(n):
                w[i] = self.tal_inv[d[i * stride]]
        else:
            for i in range(n):
                w[i] = d[i * stride]
        memset(w + n, 0, nr)
        self._divide(w, n)
        if self.dual_basis:
            for j in range(nr):
                par[j * pstride] = self.tal[w[n + j]]
        else:
            for j in range(nr):
                par[j * pstride] = w[n + j]

    def encode(self, data):
        d = self._check_data(data)
        out = np.empty(self.nroots, np.uint8)
        cdef const uint8_t[::1] dv = d
        cdef uint8_t[::1] ov = out
        self._encode_into(&dv[0], 1, dv.shape[0], &ov[0], 1)
        return out

    def encode_codeword(self, data):
        d = self._check_data(data)
        cdef Py_ssize_t kk = d.size
        out = np.empty(kk + self.nroots, np.uint8)
        out[:kk] = d
        cdef uint8_t[::1] ov = out
        self._encode_into(&ov[0], 1, kk, &ov[kk], 1)
        return out

    # ------------------------------------------------------------ decoding
    cdef int _decode(self, uint8_t* cw, Py_ssize_t stride, int length, const int32_t* eras,
                     int neras) noexcept nogil:
        """Correct the codeword cw[i*stride], i < length, in place (wire basis).

        Returns the number of symbols changed, or -1 (cw untouched).
        """
        cdef int nr = self.nroots, pad = NN - length
        cdef int i, j, step, L, deg, nfound, changed, d, p, kk, lr, nb
        cdef int delta, X, num, den, lg, v, q, hi
        cdef uint8_t* r = self.r
        cdef uint8_t* w = self.reg
        cdef const uint8_t* prow
        cdef const uint8_t* erow
        cdef const uint8_t* atab = self.alpha_to
        cdef bint nz
        cdef uint8_t ch[256]                # locals: the compiler knows they alias nothing
        cdef int Sl[MAXR]
        # received word in the conventional basis, and a copy to divide in place
        if self.dual_basis:
            for i in range(length):
                r[i] = self.tal_inv[cw[i * stride]]
        else:
            for i in range(length):
                r[i] = cw[i * stride]
        memcpy(w, r, length)
        self._divide(w, length - nr)
        w = w + (length - nr)               # remainder R(x), w[i] has degree nr-1-i
        nz = False
        for j in range(nr):
            nz = nz | (w[j] != 0)
        if not nz:
            return 0
        # syndromes S_j = R(beta^(fcr+j)) = sum_i R_i beta^((fcr+j)(nr-1-i))
        for j in range(nr):
            Sl[j] = 0
        for i in range(nr):
            if w[i]:
                lr = self.index_of[w[i]]
                erow = self.etab + (nr - 1 - i) * nr
                for j in range(nr):
                    Sl[j] ^= atab[lr + erow[j]]
        memcpy(self.S, Sl, sizeof(int) * nr)
        # erasure locator Gamma(x) = prod (1 + X_e x)
        memset(self.lam, 0, sizeof(int) * (2 * nr + 2))
        memset(self.B, 0, sizeof(int) * (2 * nr + 2))
        self.lam[0] = 1
        for kk in range(neras):
            d = NN - 1 - (eras[kk] + pad)
            X = self.alpha_to[(self.prim * d) % NN]
            for i in range(kk + 1, 0, -1):
                self.lam[i] ^= self._mul(X, self.lam[i - 1])
        memcpy(self.B, self.lam, sizeof(int) * (neras + 1))
        L = neras
        hi = neras + 1                      # lam[i] = B[i] = 0 for i >= hi
        # Berlekamp-Massey (same steps as the reference)
        for step in range(neras, nr):
            delta = 0
            for i in range(min(L, step) + 1):
                delta ^= self._mul(self.lam[i], self.S[step - i])
            if hi < 2 * nr + 1:
                hi += 1
            if delta == 0:
                for i in range(hi - 1, 0, -1):
                    self.B[i] = self.B[i - 1]
                self.B[0] = 0
                continue
            lg = self.index_of[delta]
            self.T[0] = self.lam[0]
            for i in range(1, hi):
                nb = self.B[i - 1]
                self.T[i] = self.lam[i] ^ (self.alpha_to[lg + self.index_of[nb]] if nb else 0)
            if 2 * L <= step + neras:
                L = step + 1 + neras - L
                lg = NN - lg                    # log(1/delta)
                for i in range(hi):
                    if self.lam[i]:
                        self.B[i] = self.alpha_to[self.index_of[self.lam[i]] + lg]
                    else:
                        self.B[i] = 0
            else:
                for i in range(hi - 1, 0, -1):
                    self.B[i] = self.B[i - 1]
                self.B[0] = 0
            memcpy(self.lam, self.T, sizeof(int) * hi)
        deg = 0
        for i in range(hi):
            if self.lam[i]:
                deg = i
        if deg == 0 or deg > nr:
            return -1
        # Chien search over the real positions: d = degree of the symbol = 254 - (p + pad),
        # Lambda(beta^-d) = sum_k lam_k alpha^(log lam_k + ptab[k][d])
        for d in range(length):
            ch[d] = 1                           # lam_0 = 1
        for kk in range(1, deg + 1):
            if self.lam[kk]:
                lr = self.index_of[self.lam[kk]]
                prow = self.ptab + kk * NN
                for d in range(length):
                    ch[d] ^= atab[lr + prow[d]]
        nfound = 0
        for d in range(length):
            if ch[d] == 0:
                if nfound == deg:
                    return -1
                self.root_d[nfound] = d
                nfound += 1
        if nfound != deg:
            return -1
        # Omega = S(x) Lambda(x) mod x^nr, kept as logs
        for i in range(nr):
            self.omega[i] = 0
        for i in range(deg + 1):
            if self.lam[i]:
                lg = self.index_of[self.lam[i]]
                for j in range(nr - i):
                    if self.S[j]:
                        self.omega[i + j] ^= self.alpha_to[lg + self.index_of[self.S[j]]]
        for i in range(nr):
            self.omega[i] = self.index_of[self.omega[i]]
        # Forney (all values first: nothing is changed if one fails)
        for kk in range(deg):
            d = self.root_d[kk]
            num = 0
            for i in range(nr):
                if self.omega[i] != A0:
                    num ^= self.alpha_to[self.omega[i] + self.ptab[i * NN + d]]
            den = 0
            for i in range(1, deg + 1, 2):
                if self.lam[i]:
                    den ^= self.alpha_to[self.index_of[self.lam[i]] + self.ptab[(i - 1) * NN + d]]
            if den == 0:
                return -1
            lg = ((self.prim * d) % NN) * (1 - self.fcr)
            lg %= NN
            if lg < 0:
                lg += NN
            if num:
                self.tk[kk] = self.alpha_to[lg + (self.index_of[num] + NN - self.index_of[den]) % NN]
            else:
                self.tk[kk] = 0
        changed = 0
        for kk in range(deg):
            v = self.tk[kk]
            if v:
                p = NN - 1 - self.root_d[kk] - pad
                q = r[p] ^ v
                cw[p * stride] = self.tal[q] if self.dual_basis else q
                changed += 1
        return changed

    cdef cnp.ndarray _check_codeword(self, codeword):
        cdef cnp.ndarray c = _u8(codeword)
        cdef Py_ssize_t n = cnp.PyArray_SIZE(c)
        if not self.nroots < n <= self.n:
            raise InputError(f"RS({self.n},{self.k}) codeword must be {self.nroots + 1}..{self.n} "
                             f"bytes, got {n}")
        return c

    cdef object _erasures(self, erasures, Py_ssize_t length):
        if erasures is None:
            return None
        e = np.unique(np.asarray(erasures, dtype=np.int64).reshape(-1))
        if e.size and (e.min() < 0 or e.max() >= length):
            raise InputError(f"erasure positions must be within 0..{length - 1}")
        if e.size > self.nroots:
            raise InputError(f"at most {self.nroots} erasures, got {e.size}")
        return e.astype(np.int32)

    cdef int _decode_arr(self, cnp.ndarray buf, Py_ssize_t offset, Py_ssize_t stride,
                         int length, eras):
        """buf: writable contiguous uint8 (checked by the callers)."""
        cdef uint8_t* bp = <uint8_t*>cnp.PyArray_DATA(buf)
        cdef const int32_t* ep = NULL
        cdef int ne = 0, res
        if eras is not None and eras.size:
            ep = <const int32_t*>cnp.PyArray_DATA(<cnp.ndarray>eras)
            ne = eras.size
        res = self._decode(bp + offset, stride, length, ep, ne)
        return res

    def decode(self, codeword, erasures=None):
        cdef cnp.ndarray buf = cnp.PyArray_NewCopy(self._check_codeword(codeword), cnp.NPY_CORDER)
        cdef int length = cnp.PyArray_SIZE(buf)
        e = self._erasures(erasures, length) if erasures is not None else None
        res = self._decode_arr(buf, 0, 1, length, e)
        return buf[: length - self.nroots], res

    def decode_inplace(self, buf, erasures=None):
        if not (cnp.PyArray_Check(buf) and cnp.PyArray_TYPE(<cnp.ndarray>buf) == cnp.NPY_UINT8
                and cnp.PyArray_NDIM(<cnp.ndarray>buf) == 1
                and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>buf)
                and cnp.PyArray_ISWRITEABLE(<cnp.ndarray>buf)):
            raise InputError("decode_inplace needs a writable contiguous 1-D uint8 array")
        cdef cnp.ndarray b = self._check_codeword(buf)
        cdef int length = cnp.PyArray_SIZE(b)
        e = self._erasures(erasures, length) if erasures is not None else None
        return self._decode_arr(b, 0, 1, length, e)

    # ------------------------------------------------------------ CCSDS interleaving
    def encode_interleaved(self, data, depth):
        d = _u8(data)
        cdef int I = _check_depth(depth)
        if d.size % I:
            raise InputError(f"interleaved data length {d.size} is not a multiple of depth {I}")
        cdef Py_ssize_t kk = d.size // I
        if not 1 <= kk <= self.k:
            raise InputError(f"RS({self.n},{self.k}) data must be 1..{self.k} bytes per codeword, "
                             f"got {kk}")
        block = np.empty(d.size + I * self.nroots, np.uint8)
        block[: d.size] = d
        cdef uint8_t[::1] bv = block
        cdef int i
        for i in range(I):
            self._encode_into(&bv[i], I, kk, &bv[kk * I + i], I)
        return block

    def decode_interleaved(self, block, depth, erasures=None):
        b = _u8(block).copy()
        cdef int I = _check_depth(depth)
        if b.size % I:
            raise InputError(f"interleaved block length {b.size} is not a multiple of depth {I}")
        cdef int length = b.size // I
        if not self.nroots < length <= self.n:
            raise InputError(f"RS({self.n},{self.k}) codewords must be {self.nroots + 1}..{self.n} "
                             f"bytes, got {length} per codeword")
        eras = None
        if erasures is not None:
            eras = np.asarray(erasures, dtype=np.int64).reshape(-1)
            if eras.size and (eras.min() < 0 or eras.max() >= b.size):
                raise InputError(f"erasure positions must be within 0..{b.size - 1}")
        counts = np.zeros(I, np.int32)
        cdef int i
        for i in range(I):
            e = None
            if eras is not None:
                e = self._erasures(eras[eras % I == i] // I, length)
            counts[i] = self._decode_arr(b, i, I, length, e)
        cdef Py_ssize_t ndata = b.size - I * self.nroots
        return b[:ndata], counts


_CCSDS_CACHE = {}


def ccsds_rs(dual_basis=True):
    """The CCSDS (255,223) code (E=16), dual basis by default as in CCSDS 131.0-B."""
    key = bool(dual_basis)
    if key not in _CCSDS_CACHE:
        _CCSDS_CACHE[key] = ReedSolomon(dual_basis=key)
    return _CCSDS_CACHE[key]


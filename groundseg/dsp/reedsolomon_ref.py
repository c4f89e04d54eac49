"""Reed-Solomon codes over GF(2^8): reference encoder and errors-and-erasures decoder.

Code parameters (generic, the CCSDS code by default):

* ``gfpoly``: field polynomial (CCSDS 0x187 = x^8+x^7+x^2+x+1), alpha = x;
* ``prim``: the code's primitive element is beta = alpha^prim (CCSDS 11);
* ``fcr``: first consecutive root, the generator is
  g(x) = prod_{j=0}^{nroots-1} (x - beta^(fcr+j)) (CCSDS 112, nroots 32);
* ``dual_basis``: symbols on the wire are in Berlekamp's dual basis (CCSDS
  131.0-B: basis (l0..l7) dual to (1, b, .., b^7) with b = alpha^117 under the
  trace; bit z0 is the MSB). The transform tables are generated here, not typed.

A codeword is ``data || parity`` with ``data[0]`` the highest-degree
coefficient (the first symbol transmitted). Full length n = 255; a shortened
code (e.g. (160,128) for AO-40 FEC) is handled by virtual zero padding in front:
any data length from 1 to k = 255 - nroots works, the length of what you pass
determines the padding.

Decoding (Berlekamp-Massey with erasure initialisation, Chien search, Forney)
corrects e errors and f erasures when 2e + f <= nroots.

Public API (identical in ``reedsolomon.pyx``; use it through ``groundseg.dsp.fec``)::

    CCSDS_GFPOLY = 0x187; CCSDS_FCR = 112; CCSDS_PRIM = 11; CCSDS_NROOTS = 32
    TAL: np.uint8[256]        # conventional -> dual basis symbol
    TAL_INV: np.uint8[256]    # dual -> conventional
    conventional_to_dual(data) -> np.uint8 array
    dual_to_conventional(data) -> np.uint8 array
    class ReedSolomon(nroots=32, fcr=112, prim=11, gfpoly=0x187, dual_basis=False):
        .n (255), .k (255 - nroots), .nroots, .fcr, .prim, .gfpoly, .dual_basis
        .encode(data) -> parity np.uint8[nroots]        # 1 <= len(data) <= k
        .encode_codeword(data) -> np.uint8[len(data) + nroots]
        .decode(codeword, erasures=None) -> (data np.uint8[len - nroots], n_corrected: int)
            # n_corrected: number of symbols changed (0 for a clean word), or -1 when
            # uncorrectable, in which case data is the received data unchanged.
            # erasures: positions (indices into `codeword`) known to be unreliable.
        .decode_inplace(buf, erasures=None) -> int       # buf: writable uint8 array (full
            # shortened codeword); corrected in place unless the result is -1
        .encode_interleaved(data, depth) -> np.uint8 block of len(data) + depth*nroots
            # len(data) must be a multiple of depth; CCSDS order: block[j*depth + i] is
            # symbol j of codeword i, so the data stays in place at the front.
        .decode_interleaved(block, depth, erasures=None) -> (data, n_corrected: np.int32[depth])
            # erasures: positions in the interleaved block; any -1 in n_corrected means
            # that codeword failed (its data bytes are returned uncorrected)
    ccsds_rs(dual_basis=True) -> ReedSolomon   # shared instances of the CCSDS (255,223) code
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..errors import InputError
from .crc_ref import as_u8

__all__ = [
    "CCSDS_GFPOLY", "CCSDS_FCR", "CCSDS_PRIM", "CCSDS_NROOTS", "TAL", "TAL_INV",
    "conventional_to_dual", "dual_to_conventional", "ReedSolomon", "ccsds_rs",
    "gf_tables", "dual_basis_tables",
]

CCSDS_GFPOLY = 0x187
CCSDS_FCR = 112
CCSDS_PRIM = 11
CCSDS_NROOTS = 32
NN = 255


@lru_cache(maxsize=16)
def gf_tables(gfpoly: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(alpha_to, index_of) for GF(2^8) with ``gfpoly``; index_of[0] = 255 (log of 0).

    InputError when ``gfpoly`` is not a primitive degree-8 polynomial.
    """
    if not 0x100 <= gfpoly <= 0x1FF:
        raise InputError(f"field polynomial 0x{gfpoly:x} is not of degree 8")
    alpha_to = [0] * 256
    index_of = [0] * 256
    index_of[0] = NN
    x = 1
    for i in range(NN):
        if i and x == 1:
            raise InputError(f"field polynomial 0x{gfpoly:x} is not primitive")
        alpha_to[i] = x
        index_of[x] = i
        x <<= 1
        if x & 0x100:
            x ^= gfpoly
    if x != 1:
        raise InputError(f"field polynomial 0x{gfpoly:x} is not primitive")
    alpha_to[NN] = 0
    return tuple(alpha_to), tuple(index_of)


def _gf_mul(a: int, b: int, gfpoly: int = CCSDS_GFPOLY) -> int:
    """Shift-and-add multiplication (independent of the tables)."""
    r = 0
    while b:
        if b & 1:
            r ^= a
        b >>= 1
        a <<= 1
        if a & 0x100:
            a ^= gfpoly
    return r


def dual_basis_tables() -> tuple[np.ndarray, np.ndarray]:
    """(TAL, TAL_INV) from the CCSDS definition: z_j = Tr(u * beta^j), beta = alpha^117.

    ``u`` is the conventional symbol; z_0 becomes the MSB of the dual-basis byte.
    """
    def trace(z: int) -> int:
        s = 0
        for _ in range(8):
            s ^= z
            z = _gf_mul(z, z)
        return s  # 0 or 1

    alpha_to, _ = gf_tables(CCSDS_GFPOLY)
    beta_pows = [alpha_to[(117 * j) % NN] for j in range(8)]
    tal = np.zeros(256, np.uint8)
    for u in range(256):
        z = 0
        for j, bp in enumerate(beta_pows):
            z |= trace(_gf_mul(u, bp)) << (7 - j)
        tal[u] = z
    inv = np.zeros(256, np.uint8)
    inv[tal] = np.arange(256, dtype=np.uint8)
    if len(set(tal.tolist())) != 256:
        raise AssertionError("dual basis transform is not a bijection")
    return tal, inv


TAL, TAL_INV = dual_basis_tables()
TAL.flags.writeable = False
TAL_INV.flags.writeable = False


def conventional_to_dual(data) -> np.ndarray:
    return TAL[as_u8(data)]


def dual_to_conventional(data) -> np.ndarray:
    return TAL_INV[as_u8(data)]


def _check_params(nroots: int, fcr: int, prim: int, gfpoly: int) -> None:
    if not 1 <= nroots <= 254:
        raise InputError(f"nroots must be 1..254, got {nroots}")
    if not 0 <= fcr <= 254:
        raise InputError(f"fcr must be 0..254, got {fcr}")
    if not 1 <= prim <= 254 or np.gcd(prim, NN) != 1:
        raise InputError(f"prim must be 1..254 and coprime with 255, got {prim}")
    gf_tables(gfpoly)


class ReedSolomon:
    """A Reed-Solomon code over GF(256) (see the module docstring)."""

    def __init__(self, nroots: int = CCSDS_NROOTS, fcr: int = CCSDS_FCR, prim: int = CCSDS_PRIM,
                 gfpoly: int = CCSDS_GFPOLY, dual_basis: bool = False):
        _check_params(nroots, fcr, prim, gfpoly)
        if dual_basis and gfpoly != CCSDS_GFPOLY:
            raise InputError("the dual basis transform is defined for the CCSDS field (0x187)")
        self.n = NN
        self.nroots, self.fcr, self.prim, self.gfpoly = nroots, fcr, prim, gfpoly
        self.k = NN - nroots
        self.dual_basis = bool(dual_basis)
        self._alpha_to, self._index_of = gf_tables(gfpoly)
        self._genpoly = self._make_genpoly()

    # --- field helpers (log domain) ---
    def _mul(self, a: int, b: int) -> int:
        if a == 0 or b == 0:
            return 0
        return self._alpha_to[(self._index_of[a] + self._index_of[b]) % NN]

    def _div(self, a: int, b: int) -> int:
        if b == 0:
            raise ZeroDivisionError
        if a == 0:
            return 0
        return self._alpha_to[(self._index_of[a] - self._index_of[b]) % NN]

    def _pow_beta(self, e: int) -> int:
        return self._alpha_to[(self.prim * e) % NN]

    def _make_genpoly(self) -> list[int]:
        g = [1]  # g[0] is the highest-degree coefficient
        for j in range(self.nroots):
            root = self._pow_beta(self.fcr + j)
            ng = g + [0]
            for i in range(1, len(ng)):
                ng[i] ^= self._mul(g[i - 1], root)
            g = ng
        return g

    # --- encoding ---
    def _check_data(self, data) -> np.ndarray:
        d = as_u8(data)
        if not 1 <= d.size <= self.k:
            raise InputError(f"RS({self.n},{self.k}) data must be 1..{self.k} bytes, got {d.size}")
        return d

    def encode(self, data) -> np.ndarray:
        d = self._check_data(data)
        if self.dual_basis:
            d = TAL_INV[d]
        reg = [0] * self.nroots
        g = self._genpoly
        for sym in d.tolist():
            fb = sym ^ reg[0]
            reg = reg[1:] + [0]
            if fb:
                for i in range(self.nroots):
                    reg[i] ^= self._mul(fb, g[i + 1])
        par = np.array(reg, dtype=np.uint8)
        return TAL[par] if self.dual_basis else par

    def encode_codeword(self, data) -> np.ndarray:
        d = self._check_data(data)
        return np.concatenate([d, self.encode(d)])

    # --- decoding ---
    def _check_codeword(self, codeword) -> np.ndarray:
        c = as_u8(codeword)
        if not self.nroots < c.size <= self.n:
            raise InputError(f"RS({self.n},{self.k}) codeword must be {self.nroots + 1}..{self.n} "
                             f"bytes, got {c.size}")
        return c

    def decode(self, codeword, erasures=None) -> tuple[np.ndarray, int]:
        buf = self._check_codeword(codeword).copy()
        n = self.decode_inplace(buf, erasures)
        return buf[: buf.size - self.nroots], n

    def decode_inplace(self, buf, erasures=None) -> int:
        if not (isinstance(buf, np.ndarray) and buf.dtype == np.uint8 and buf.ndim == 1
                and buf.flags.c_contiguous and buf.flags.writeable):
            raise InputError("decode_inplace needs a writable contiguous 1-D uint8 array")
        c = self._check_codeword(buf)
        length = c.size
        pad = self.n - length
        eras = self._erasure_list(erasures, length)
        r = (TAL_INV[c] if self.dual_basis else c).tolist()
        fix = self._decode_positions(r, pad, eras)
        if fix is None:
            return -1
        changed = 0
        for pos, val in fix:
            if val:
                r[pos] ^= val
                changed += 1
        if changed:
            out = np.array(r, dtype=np.uint8)
            c[:] = TAL[out] if self.dual_basis else out
        return changed

    def _erasure_list(self, erasures, length: int) -> list[int]:
        if erasures is None:
            return []
        e = sorted({int(p) for p in np.asarray(erasures).reshape(-1).tolist()})
        if e and (e[0] < 0 or e[-1] >= length):
            raise InputError(f"erasure positions must be within 0..{length - 1}")
        if len(e) > self.nroots:
            raise InputError(f"at most {self.nroots} erasures, got {len(e)}")
        return e

    def _decode_positions(self, r: list[int], pad: int, eras: list[int]):
        """List of (index into r, error value) or None when uncorrectable."""
        nroots, NNm1 = self.nroots, self.n - 1
        # syndromes S_j = r(beta^(fcr+j)), r[0] has degree len-1
        S = []
        for j in range(nroots):
            x = self._pow_beta(self.fcr + j)
            s = 0
            for sym in r:
                s = self._mul(s, x) ^ sym
            S.append(s)
        if not any(S):
            return []
        # erasure locator Gamma(x) = prod (1 - X_e x), X_e = beta^d, d = degree of the symbol
        lam = [1]
        for p in eras:
            d = NNm1 - (p + pad)
            X = self._pow_beta(d)
            nl = lam + [0]
            for i in range(1, len(nl)):
                nl[i] ^= self._mul(X, lam[i - 1])
            lam = nl
        rho = len(eras)
        B = lam[:]
        L = rho
        for step in range(rho, nroots):
            delta = 0
            for i in range(min(L, step) + 1):
                if i < len(lam):
                    delta ^= self._mul(lam[i], S[step - i])
            xB = [0] + B
            if delta == 0:
                B = xB
                continue
            T = lam + [0] * max(0, len(xB) - len(lam))
            for i, b in enumerate(xB):
                T[i] ^= self._mul(delta, b)
            if 2 * L <= step + rho:
                L = step + 1 + rho - L
                B = [self._div(v, delta) for v in lam]
            else:
                B = xB
            lam = T
        while len(lam) > 1 and lam[-1] == 0:
            lam.pop()
        deg = len(lam) - 1
        if deg == 0 or deg > nroots:
            return None
        # Chien search over the real (non-padding) positions
        roots = []
        for p in range(len(r)):
            d = NNm1 - (p + pad)
            xinv = self._pow_beta((-d) % NN)
            v = 0
            for coef in reversed(lam):
                v = self._mul(v, xinv) ^ coef
            if v == 0:
                roots.append((p, d, xinv))
        if len(roots) != deg:
            return None
        # Omega = S(x) Lambda(x) mod x^nroots
        omega = [0] * nroots
        for i, li in enumerate(lam):
            if li:
                for j in range(nroots - i):
                    omega[i + j] ^= self._mul(li, S[j])
        fix = []
        for p, d, xinv in roots:
            num = 0
            for coef in reversed(omega):
                num = self._mul(num, xinv) ^ coef
            den = 0  # Lambda'(x) = sum of odd-degree terms lam_i x^(i-1)
            for i in range(1, len(lam), 2):
                den ^= self._mul(lam[i], self._pow_beta((-d * (i - 1)) % NN))
            if den == 0:
                return None
            X = self._pow_beta(d)
            xf = self._alpha_to[(self._index_of[X] * (1 - self.fcr)) % NN]
            fix.append((p, self._mul(xf, self._div(num, den))))
        return fix

    # --- CCSDS interleaving ---
    def encode_interleaved(self, data, depth: int) -> np.ndarray:
        d = as_u8(data)
        depth = _check_depth(depth)
        if d.size % depth:
            raise InputError(f"interleaved data length {d.size} is not a multiple of depth {depth}")
        block = np.empty(d.size + depth * self.nroots, np.uint8)
        for i in range(depth):
            block[i::depth] = self.encode_codeword(d[i::depth])
        return block

    def decode_interleaved(self, block, depth: int, erasures=None) -> tuple[np.ndarray, np.ndarray]:
        b = as_u8(block).copy()
        depth = _check_depth(depth)
        if b.size % depth:
            raise InputError(f"interleaved block length {b.size} is not a multiple of depth {depth}")
        eras = [] if erasures is None else np.asarray(erasures, dtype=np.int64).reshape(-1).tolist()
        if any(not 0 <= p < b.size for p in eras):
            raise InputError(f"erasure positions must be within 0..{b.size - 1}")
        counts = np.zeros(depth, np.int32)
        for i in range(depth):
            cw = b[i::depth].copy()
            counts[i] = self.decode_inplace(cw, [p // depth for p in eras if p % depth == i])
            if counts[i] > 0:
                b[i::depth] = cw
        return b[: b.size - depth * self.nroots], counts


def _check_depth(depth: int) -> int:
    depth = int(depth)
    if not 1 <= depth <= 16:
        raise InputError(f"interleaving depth must be 1..16, got {depth}")
    return depth


_CCSDS_CACHE: dict[bool, ReedSolomon] = {}


def ccsds_rs(dual_basis: bool = True) -> ReedSolomon:
    """The CCSDS (255,223) code (E=16), dual basis by default as in CCSDS 131.0-B."""
    key = bool(dual_basis)
    if key not in _CCSDS_CACHE:
        _CCSDS_CACHE[key] = ReedSolomon(dual_basis=key)
    return _CCSDS_CACHE[key]

"""Binary BCH codes of length 15, systematic, with soft maximum-likelihood decoding (private).

The three narrow-sense primitive BCH codes of length 15 over GF(16)
(x^4 + x + 1), as S-NET uses them:

=========  ======================================  ==============
(n, k, d)  generator g(x)                          corrects (hard)
=========  ======================================  ==============
(15,11,3)  x^4 + x + 1                             1 bit
(15,7,5)   x^8 + x^7 + x^6 + x^4 + 1               2 bits
(15,5,7)   x^10 + x^8 + x^5 + x^4 + x^2 + x + 1    3 bits
=========  ======================================  ==============

Bit order: a codeword is 15 bits c_0..c_14 of c(x) = sum c_i x^i, c_0 first;
systematic with the data in c_(15-k)..c_14 (the message m(x) times x^(15-k)
plus the remainder mod g(x)); the data bits read MSB first are
c_14, c_13, ..., c_(15-k).

Decoding correlates the soft symbols with all 2^k codewords (at most 2048
for k = 11: one small matrix product per block of codewords) and takes the
best: maximum likelihood on a Gaussian channel, about 2 dB better than
hard-decision bounded-distance decoding at these lengths. The Hamming
distance from the hard decisions to the chosen codeword is reported so the
caller can bound it.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

N = 15
GENERATORS = {3: 0b10011, 5: 0b111010001, 7: 0b10100110111}
K_OF_D = {3: 11, 5: 7, 7: 5}


def _poly_mod(a: int, g: int) -> int:
    dg = g.bit_length() - 1
    while a and a.bit_length() - 1 >= dg:
        a ^= g << (a.bit_length() - 1 - dg)
    return a


def encode_word(data: int, d: int) -> int:
    """The codeword (bit i = c_i) carrying ``data`` (k bits, MSB = c_14)."""
    g = GENERATORS[d]
    k = K_OF_D[d]
    if not 0 <= data < (1 << k):
        raise ValueError(f"BCH(15,{k}) data must fit {k} bits")
    m = data << (N - k)
    return m ^ _poly_mod(m, g)


@lru_cache(maxsize=None)
def codebook(d: int) -> tuple[np.ndarray, np.ndarray]:
    """(codeword bits uint8[2^k, 15] in channel order, +-1 float32 copy)."""
    k = K_OF_D[d]
    words = [encode_word(m, d) for m in range(1 << k)]
    bits = np.array([[(w >> i) & 1 for i in range(N)] for w in words], dtype=np.uint8)
    return bits, (2.0 * bits - 1.0).astype(np.float32)


def encode_bits(data_bits: np.ndarray, d: int) -> np.ndarray:
    """Data bits (multiple of k, MSB first per word) -> codeword bits (15 per word, c_0 first)."""
    k = K_OF_D[d]
    b = np.asarray(data_bits, dtype=np.uint8).reshape(-1, k)
    idx = b.dot(1 << np.arange(k - 1, -1, -1))
    return codebook(d)[0][idx].reshape(-1)


def decode_soft(soft: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray]:
    """ML decoding of words of 15 soft symbols (shape (m, 15)).

    Returns ``(data bits uint8[m, k] MSB first, hard distance int[m])``.
    """
    s = np.asarray(soft, dtype=np.float32).reshape(-1, N)
    bits, pm = codebook(d)
    best = np.argmax(s @ pm.T, axis=1)
    k = K_OF_D[d]
    chosen = bits[best]
    dist = np.count_nonzero(chosen != (s > 0), axis=1)
    data = chosen[:, N - 1:N - 1 - k:-1]
    return np.ascontiguousarray(data), dist


def weight_distribution(d: int) -> dict[int, int]:
    """{weight: number of codewords} (for the union bound)."""
    bits, _ = codebook(d)
    w, c = np.unique(bits.sum(axis=1), return_counts=True)
    return {int(a): int(b) for a, b in zip(w, c) if a}

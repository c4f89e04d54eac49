"""Golay(24,12) kernel (golay.pyx) against its brute-force reference and the code's known structure."""
from __future__ import annotations

import itertools
import json
import pathlib

import numpy as np
import pytest

from groundseg.dsp import golay as kernel
from groundseg.dsp import golay_ref as ref
from groundseg.errors import InputError

VECTORS = pathlib.Path(__file__).parent / "vectors" / "fec_golay.json"
IMPLS = [pytest.param(ref, id="ref"), pytest.param(kernel, id="kernel")]


def _popcount(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.uint32)
    x = x - ((x >> 1) & 0x55555555)
    x = (x & 0x33333333) + ((x >> 2) & 0x33333333)
    x = (x + (x >> 4)) & 0x0F0F0F0F
    return ((x * np.uint32(0x01010101)) >> 24).astype(np.int64)


def test_parity_matrix_is_the_extended_golay_code():
    B = np.array([[(row >> (11 - j)) & 1 for j in range(12)] for row in ref.GOLAY_B])
    assert (B == B.T).all()                              # B symmetric ...
    assert ((B @ B) % 2 == np.eye(12, dtype=int)).all()  # ... and its own inverse
    weights = np.bincount(_popcount(kernel.golay24_encode_array(np.arange(4096))), minlength=25)
    # weight enumerator of the extended Golay code: 1 + 759 z^8 + 2576 z^12 + 759 z^16 + z^24
    expected = np.zeros(25, int)
    expected[[0, 8, 12, 16, 24]] = [1, 759, 2576, 759, 1]
    assert (weights == expected).all()


def test_layout_data_low_parity_high():
    for d in (0x001, 0x0A5, 0x800, 0xFFF):
        w = kernel.golay24_encode(d)
        assert w & 0xFFF == d and w >> 24 == 0


def test_kernel_encoder_matches_reference():
    d = np.arange(4096)
    assert (kernel.golay24_encode_array(d) == ref.golay24_encode_array(d)).all()
    assert all(kernel.golay24_encode(int(x)) == ref.golay24_encode(int(x)) for x in d[::37])


@pytest.mark.parametrize("impl", IMPLS)
def test_all_patterns_up_to_three_errors_corrected(impl):
    patterns = [sum(1 << b for b in bits) for n in (1, 2, 3)
                for bits in itertools.combinations(range(24), n)]
    assert len(patterns) == 24 + 276 + 2024
    for d in (0x000, 0x5A3, 0xFFF):
        cw = impl.golay24_encode(d)
        rx = np.array([cw ^ e for e in patterns], dtype=np.uint32)
        data, nerr = impl.golay24_decode_array(rx)
        assert (data == d).all()
        assert (nerr == _popcount(np.array(patterns, np.uint32))).all()
        assert impl.golay24_decode(int(rx[-1])) == (d, int(nerr[-1]))


def test_every_24_bit_word_exhaustively():
    n_ok = 0
    for start in range(0, 1 << 24, 1 << 21):
        words = np.arange(start, start + (1 << 21), dtype=np.uint32)
        data, nerr = kernel.golay24_decode_array(words)
        ok = nerr >= 0
        n_ok += int(ok.sum())
        assert (nerr[ok] == _popcount(words[ok] ^ kernel.golay24_encode_array(data[ok]))).all()
        assert (nerr[ok] <= 3).all()
        assert (data[~ok] == (words[~ok] & 0xFFF)).all()
    # the 4096 * 2325 words within distance 3 of a codeword decode, the rest are detected
    assert n_ok == 4096 * 2325


def test_kernel_matches_reference_beyond_capability(rng):
    cw = kernel.golay24_encode_array(rng.integers(0, 4096, 300))
    errs = np.zeros(300, np.uint32)
    for i in range(300):
        for b in rng.choice(24, int(rng.integers(4, 9)), replace=False):
            errs[i] |= np.uint32(1 << int(b))
    rx = cw ^ errs
    dk, nk = kernel.golay24_decode_array(rx)
    dr, nr = ref.golay24_decode_array(rx)
    assert (dk == dr).all() and (nk == nr).all()
    assert (nk[_popcount(errs) == 4] == -1).all()    # 4 errors: always detected


@pytest.mark.parametrize("impl", IMPLS)
def test_golden_vectors(impl):
    doc = json.loads(VECTORS.read_text())
    assert [impl.golay24_encode(d) for d in doc["data"]] == doc["codewords"]
    data, nerr = impl.golay24_decode_array(doc["words"])
    assert data.tolist() == doc["decoded"]
    assert nerr.tolist() == doc["n_errors"]


@pytest.mark.parametrize("impl", IMPLS)
def test_bad_inputs_rejected(impl):
    for call, arg in ((impl.golay24_encode, 0x1000), (impl.golay24_encode, -1),
                      (impl.golay24_decode, 1 << 24), (impl.golay24_encode_array, [0, 4096]),
                      (impl.golay24_decode_array, [-1])):
        with pytest.raises(InputError):
            call(arg)

"""Reed-Solomon kernel (reedsolomon.pyx) against its reference, the CCSDS definition and libfec."""
from __future__ import annotations

import ctypes
import ctypes.util
import pathlib

import numpy as np
import pytest

from conftest import need
from groundseg.dsp import reedsolomon as kernel
from groundseg.dsp import reedsolomon_ref as ref
from groundseg.errors import InputError

VECTORS = pathlib.Path(__file__).parent / "vectors" / "fec_rs.npz"
IMPLS = [pytest.param(ref, id="ref"), pytest.param(kernel, id="kernel")]


def _libfec():
    path = ctypes.util.find_library("fec")
    need(path is not None, "libfec (Debian libfec0/libfec-dev) not installed")
    lib = ctypes.CDLL(path)
    for f in ("encode_rs_8", "encode_rs_ccsds"):
        getattr(lib, f).argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
    for f in ("decode_rs_8", "decode_rs_ccsds"):
        getattr(lib, f).argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    return lib


def _corrupt(rng, cw, n_err, n_eras):
    pos = rng.choice(cw.size, n_err + n_eras, replace=False)
    bad = cw.copy()
    bad[pos[:n_err]] ^= rng.integers(1, 256, n_err, dtype=np.uint8)
    bad[pos[n_err:]] = rng.integers(0, 256, n_eras, dtype=np.uint8)
    return bad, pos[n_err:]


def _syndromes_independent(cw: np.ndarray, rs) -> list[int]:
    """Codeword evaluated at the generator roots with shift-and-add arithmetic (no tables)."""
    conv = ref.TAL_INV[cw] if rs.dual_basis else cw
    beta = 1
    for _ in range(rs.prim):
        beta = ref._gf_mul(beta, 2, rs.gfpoly)
    out = []
    for j in range(rs.nroots):
        x = 1
        for _ in range(rs.fcr + j):
            x = ref._gf_mul(x, beta, rs.gfpoly)
        s = 0
        for sym in conv.tolist():
            s = ref._gf_mul(s, x, rs.gfpoly) ^ sym
        out.append(s)
    return out


def test_dual_basis_tables_reproduce_ccsds_annex_f():
    # rows of the two 8x8 transformation matrices of CCSDS 131.0-B Annex F, MSB = first column
    conv_to_dual_rows = [0xFE, 0x69, 0x6B, 0x0D, 0xEF, 0xF2, 0x5B, 0xC7]
    dual_to_conv_rows = [0x9B, 0xDD, 0x3E, 0x1C, 0x37, 0xB3, 0x60, 0x94]

    def rows(table):
        return [sum(((int(table[1 << (7 - i)]) >> (7 - j)) & 1) << (7 - i) for i in range(8))
                for j in range(8)]
    assert rows(ref.TAL) == conv_to_dual_rows
    assert rows(ref.TAL_INV) == dual_to_conv_rows
    assert (ref.TAL_INV[ref.TAL] == np.arange(256)).all()
    assert (kernel.TAL == ref.TAL).all() and (kernel.conventional_to_dual(bytes(range(256))) == ref.TAL).all()


def test_dual_basis_tables_match_libfec():
    lib = _libfec()
    tal = np.frombuffer((ctypes.c_ubyte * 256).in_dll(lib, "Taltab"), np.uint8)
    tal1 = np.frombuffer((ctypes.c_ubyte * 256).in_dll(lib, "Tal1tab"), np.uint8)
    assert (tal == ref.TAL).all() and (tal1 == ref.TAL_INV).all()


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("params", [
    dict(), dict(dual_basis=True), dict(nroots=16, fcr=1, prim=1, gfpoly=0x11D),
    dict(nroots=32, fcr=0, prim=1, gfpoly=0x11D), dict(nroots=8, fcr=120, prim=7, gfpoly=0x12B),
])
def test_encoder_output_is_a_codeword(impl, params, rng):
    rs = impl.ReedSolomon(**params)
    for k in (rs.k, 128, 1):
        cw = rs.encode_codeword(rng.integers(0, 256, k, dtype=np.uint8))
        assert _syndromes_independent(cw, rs) == [0] * rs.nroots
        assert (cw[:k] == cw[:k]).all() and cw.size == k + rs.nroots


@pytest.mark.parametrize("dual", [False, True])
def test_encoder_matches_libfec(dual, rng):
    lib = _libfec()
    enc = lib.encode_rs_ccsds if dual else lib.encode_rs_8
    rs = kernel.ccsds_rs(dual_basis=dual)
    for pad in (0, 95, 200, 222):
        data = rng.integers(0, 256, 223 - pad, dtype=np.uint8)
        par = np.zeros(32, np.uint8)
        enc(data.ctypes.data, par.ctypes.data, pad)
        assert (rs.encode(data) == par).all()


@pytest.mark.parametrize("dual", [False, True])
def test_libfec_decodes_our_words_and_we_decode_its_words(dual, rng):
    lib = _libfec()
    dec = lib.decode_rs_ccsds if dual else lib.decode_rs_8
    rs = kernel.ccsds_rs(dual_basis=dual)
    for pad, n_err in ((0, 16), (95, 10), (0, 7)):
        data = rng.integers(0, 256, 223 - pad, dtype=np.uint8)
        bad, _ = _corrupt(rng, rs.encode_codeword(data), n_err, 0)
        theirs = bad.copy()
        assert dec(theirs.ctypes.data, None, 0, pad) == n_err
        ours, n = rs.decode(bad)
        assert n == n_err and (ours == data).all() and (theirs[: data.size] == data).all()


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dual", [False, True])
def test_round_trip_within_capability(impl, dual, rng):
    rs = impl.ReedSolomon(dual_basis=dual)
    k_values = (223, 128, 50, 1) if impl is kernel else (223, 128)   # (160,128): AO-40 FEC
    for k in k_values:
        for n_err, n_eras in ((0, 0), (1, 0), (16, 0), (8, 16), (15, 2), (0, 32), (3, 0)):
            n_err = min(n_err, k + 32)
            n_eras = min(n_eras, k + 32 - n_err)
            data = rng.integers(0, 256, k, dtype=np.uint8)
            cw = rs.encode_codeword(data)
            bad, eras = _corrupt(rng, cw, n_err, n_eras)
            out, n = rs.decode(bad, erasures=eras if n_eras else None)
            assert (out == data).all(), (k, n_err, n_eras)
            assert n == int((bad != cw).sum())


@pytest.mark.parametrize("impl", IMPLS)
def test_beyond_capability_fails_or_lands_on_a_codeword(impl, rng):
    rs = impl.ReedSolomon()
    fails = 0
    for _ in range(6 if impl is ref else 60):
        data = rng.integers(0, 256, 223, dtype=np.uint8)
        cw = rs.encode_codeword(data)
        bad, _ = _corrupt(rng, cw, int(rng.integers(17, 40)), 0)
        buf = bad.copy()
        n = rs.decode_inplace(buf)
        if n < 0:
            fails += 1
            assert (buf == bad).all()                       # left untouched
        else:                                               # a miscorrection: still a codeword
            assert (rs.encode_codeword(buf[:223]) == buf).all() and n == int((buf != bad).sum())
    assert fails >= (5 if impl is ref else 55)              # miscorrection is rare for t=16


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dual", [False, True])
def test_interleaved_round_trip(impl, dual, rng):
    rs = impl.ReedSolomon(dual_basis=dual)
    depths = range(1, 9) if impl is kernel else (1, 5)
    for depth in depths:
        k = int(rng.integers(1, 224))
        data = rng.integers(0, 256, k * depth, dtype=np.uint8)
        block = rs.encode_interleaved(data, depth)
        assert (block[: data.size] == data).all()                 # data stays in place
        for i in range(depth):                                     # codeword i: every depth-th symbol
            assert (rs.encode_codeword(data[i::depth]) == block[i::depth]).all()
        # a burst of 16*depth consecutive symbols is 16 errors per codeword
        start = int(rng.integers(0, block.size - 16 * depth + 1))
        bad = block.copy()
        bad[start:start + 16 * depth] ^= rng.integers(1, 256, 16 * depth, dtype=np.uint8)
        out, counts = rs.decode_interleaved(bad, depth)
        assert (out == data).all() and (counts == 16).all()
        # per codeword 4 errors and 20 erasures, the erasures given as block positions
        bad, eras = block.copy(), []
        for i in range(depth):
            pos = rng.choice(k + 32, 24, replace=False) * depth + i
            bad[pos[:4]] ^= rng.integers(1, 256, 4, dtype=np.uint8)
            bad[pos[4:]] = 0
            eras += pos[4:].tolist()
        out, counts = rs.decode_interleaved(bad, depth, erasures=eras)
        assert (out == data).all() and (counts >= 4).all()


def test_kernel_matches_reference_everywhere(rng):
    codes = [dict(), dict(dual_basis=True), dict(nroots=16, fcr=1, prim=1, gfpoly=0x11D),
             dict(nroots=7, fcr=5, prim=7, gfpoly=0x12B)]
    for params in codes:
        k_rs, r_rs = kernel.ReedSolomon(**params), ref.ReedSolomon(**params)
        for _ in range(25):
            k = int(rng.integers(1, k_rs.k + 1))
            data = rng.integers(0, 256, k, dtype=np.uint8)
            cw = k_rs.encode_codeword(data)
            assert (cw == r_rs.encode_codeword(data)).all()
            n_err = int(rng.integers(0, k_rs.nroots // 2 + 4))
            n_err = min(n_err, cw.size)
            n_eras = min(int(rng.integers(0, max(1, k_rs.nroots - 2 * n_err + 3))), cw.size - n_err,
                         k_rs.nroots)
            bad, eras = _corrupt(rng, cw, n_err, n_eras)
            e = eras if n_eras else None
            ok, nk = k_rs.decode(bad, erasures=e)
            orr, nr = r_rs.decode(bad, erasures=e)
            assert nk == nr and (ok == orr).all(), (params, k, n_err, n_eras)


@pytest.mark.parametrize("impl", IMPLS)
def test_golden_vectors(impl):
    v = np.load(VECTORS)
    offs = {k: np.concatenate([[0], np.cumsum(v[k + "_len"])]) for k in
            ("data", "block", "received", "erasures", "decoded")}

    def part(key, i):
        return v[key][offs[key][i]:offs[key][i + 1]]

    for i, (dual, dlen, depth, n_err, n_eras, *counts) in enumerate(v["meta"].tolist()):
        rs = impl.ReedSolomon(dual_basis=bool(dual))
        assert (rs.encode_interleaved(part("data", i), depth) == part("block", i)).all()
        out, got = rs.decode_interleaved(part("received", i), depth,
                                         part("erasures", i) if n_eras else None)
        assert (out == part("decoded", i)).all()
        assert got.tolist() == counts[:depth]


@pytest.mark.parametrize("impl", IMPLS)
def test_decode_inplace_contract(impl, rng):
    rs = impl.ccsds_rs(dual_basis=True)
    data = rng.integers(0, 256, 100, dtype=np.uint8)
    cw = rs.encode_codeword(data)
    buf = cw.copy()
    buf[[3, 50, 120]] ^= 0x5A
    assert rs.decode_inplace(buf) == 3 and (buf == cw).all()
    with pytest.raises(InputError):
        rs.decode_inplace(cw.tobytes())                 # read-only
    with pytest.raises(InputError):
        rs.decode_inplace(cw[::2].copy()[:0])           # empty


@pytest.mark.parametrize("impl", IMPLS)
def test_bad_arguments_rejected(impl):
    rs = impl.ReedSolomon()
    bad_calls = [
        lambda: impl.ReedSolomon(gfpoly=0x1FF),          # not primitive
        lambda: impl.ReedSolomon(prim=5),                # not coprime with 255
        lambda: impl.ReedSolomon(nroots=0),
        lambda: impl.ReedSolomon(gfpoly=0x11D, dual_basis=True),
        lambda: rs.encode(bytes(224)),
        lambda: rs.encode(b""),
        lambda: rs.decode(bytes(32)),
        lambda: rs.decode(bytes(256)),
        lambda: rs.decode(bytes(255), erasures=[255]),
        lambda: rs.decode(bytes(255), erasures=list(range(33))),
        lambda: rs.encode_interleaved(bytes(10), 3),
        lambda: rs.decode_interleaved(bytes(255 * 2), 0),
        lambda: rs.decode_interleaved(bytes(255 * 2 + 1), 2),
    ]
    for call in bad_calls:
        with pytest.raises(InputError):
            call()

"""Scramblers and differential coding (scrambler.pyx) against the reference and published sequences."""
from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

from groundseg.dsp import scrambler as kernel
from groundseg.dsp import scrambler_ref as ref
from groundseg.errors import InputError

VECTORS = pathlib.Path(__file__).parent / "vectors" / "fec_scrambler.json"
IMPLS = [pytest.param(ref, id="ref"), pytest.param(kernel, id="kernel")]


def _bits(s: str) -> np.ndarray:
    return np.array([int(c) for c in s], np.uint8)


@pytest.mark.parametrize("impl", IMPLS)
def test_ccsds_randomizer_sequence(impl):
    seq = impl.ccsds_randomize(bytes(255 * 2))
    # CCSDS 131.0-B: the pseudo-randomizer output begins 1111 1111 0100 1000 0000 1110 1100 0000 ...
    assert seq[:8].tobytes() == bytes.fromhex("ff480ec09a0d70bc")
    bits = np.unpackbits(seq)
    assert (bits[:255] == bits[255:510]).all()            # period 255 bits
    assert bits[:255].sum() == 128                        # maximal-length sequence
    assert all((bits[:255] != np.roll(bits[:255], k)).any() for k in range(1, 255))


@pytest.mark.parametrize("impl", IMPLS)
def test_pn9_whitening_sequence(impl):
    seq = impl.pn9_whiten(bytes(64 * 2))
    # TI CC1101 / Si446x PN9 data whitening: FF E1 1D 9A ED 85 33 24 ...
    assert seq[:8].tobytes() == bytes.fromhex("ffe11d9aed853324")
    bits = impl.lfsr_bits(ref.PN9_POLY, ref.PN9_SEED, 1022)
    assert (bits[:511] == bits[511:]).all() and bits[:511].sum() == 256


@pytest.mark.parametrize("impl", IMPLS)
def test_additive_scramblers_are_self_inverse(impl, rng):
    for n in (0, 1, 223, 1115, 3000):                   # 3000 > the kernel's first cache size
        data = rng.integers(0, 256, n, dtype=np.uint8)
        once = impl.ccsds_randomize(data)
        assert (impl.ccsds_derandomize(once) == data).all()
        assert (impl.pn9_whiten(impl.pn9_whiten(data.tobytes())) == data).all()
        if n:
            assert (once != data).any()


def test_kernel_matches_reference_additive(rng):
    for poly, seed, order in ((ref.CCSDS_POLY, 0xFF, "msb"), (ref.PN9_POLY, 0x1FF, "lsb"),
                              ((1 << 23) | (1 << 18) | 1, 0x3ABCDE, "msb"), ((1 << 40) | (1 << 3) | 1, 7, "lsb")):
        k, r = kernel.AdditiveScrambler(poly, seed, order), ref.AdditiveScrambler(poly, seed, order)
        for n in (5, 100, 2500):
            data = rng.integers(0, 256, n, dtype=np.uint8)
            bits = rng.integers(0, 2, n, dtype=np.uint8)
            soft = rng.standard_normal(n).astype(np.float32)
            assert (k.apply_bytes(data) == r.apply_bytes(data)).all()
            assert (k.apply_bits(bits) == r.apply_bits(bits)).all()
            assert (k.apply_soft(soft) == r.apply_soft(soft)).all()
            assert (k.sequence_bytes(n) == r.sequence_bytes(n)).all()


@pytest.mark.parametrize("impl", IMPLS)
def test_soft_derandomizer_agrees_with_hard(impl, rng):
    data = rng.integers(0, 256, 50, dtype=np.uint8)
    tx = np.unpackbits(impl.ccsds_randomize(data)).astype(np.float32) * 2 - 1
    soft = impl.ccsds_derandomize_soft(tx * 3.0)
    assert (np.packbits(soft > 0) == data).all()


@pytest.mark.parametrize("impl", IMPLS)
def test_g3ruh_round_trip_and_self_synchronisation(impl, rng):
    bits = rng.integers(0, 2, 2000, dtype=np.uint8)
    scr = impl.MultiplicativeScrambler(ref.G3RUH_POLY)
    tx = np.concatenate([scr.scramble(c) for c in np.array_split(bits, 9)])   # state carried
    assert (tx != bits).any()
    good = impl.MultiplicativeDescrambler()
    assert (np.concatenate([good.descramble(c) for c in np.array_split(tx, 5)]) == bits).all()
    wrong = impl.MultiplicativeDescrambler(state=0x1F0F0)           # joins mid-stream
    out = wrong.descramble(tx)
    assert (out[17:] == bits[17:]).all()
    assert (out[:17] != bits[:17]).any()


def test_kernel_matches_reference_multiplicative(rng):
    bits = rng.integers(0, 2, 3000, dtype=np.uint8)
    for poly in (ref.G3RUH_POLY, (1 << 7) | (1 << 4) | 1):
        ks, rs = kernel.MultiplicativeScrambler(poly, 5), ref.MultiplicativeScrambler(poly, 5)
        kd, rd = kernel.MultiplicativeDescrambler(poly, 9), ref.MultiplicativeDescrambler(poly, 9)
        for chunk in np.array_split(bits, 7):
            a, b = ks.scramble(chunk), rs.scramble(chunk)
            assert (a == b).all() and ks.state == rs.state
            assert (kd.descramble(a) == rd.descramble(b)).all() and kd.state == rd.state
        ks.reset()
        assert ks.state == 0


@pytest.mark.parametrize("impl", IMPLS)
def test_differential_coding(impl, rng):
    # NRZI as in AX.25: a 0 is a transition, a 1 keeps the level
    assert impl.differential_encode([1, 1, 0, 0, 1, 0], invert=True).tolist() == [0, 0, 1, 0, 0, 1]
    assert impl.differential_encode([1, 0, 1, 1]).tolist() == [1, 1, 0, 1]
    bits = rng.integers(0, 2, 500, dtype=np.uint8)
    for inv in (False, True):
        enc = impl.DifferentialEncoder(invert=inv)
        y = np.concatenate([enc.encode(c) for c in np.array_split(bits, 4)])
        dec = impl.DifferentialDecoder(invert=inv)
        assert (np.concatenate([dec.decode(c) for c in np.array_split(y, 3)]) == bits).all()
        # inverted symbols (a 180 degree phase ambiguity) decode the same after the first bit
        assert (impl.differential_decode(1 - y, invert=inv)[1:] == bits[1:]).all()
        soft = (2.0 * y - 1.0) * rng.uniform(0.5, 2.0, y.size)
        sd = impl.DifferentialDecoder(invert=inv).decode_soft(soft.astype(np.float32))
        assert ((sd > 0) == (bits == 1)).all()


def test_kernel_matches_reference_differential(rng):
    soft = rng.standard_normal(777).astype(np.float32)
    bits = rng.integers(0, 2, 777, dtype=np.uint8)
    for inv in (False, True):
        kd, rd = kernel.DifferentialDecoder(1, inv), ref.DifferentialDecoder(1, inv)
        for c in np.array_split(np.arange(777), 4):
            assert (kd.decode_soft(soft[c]) == rd.decode_soft(soft[c])).all()
            assert (kd.decode(bits[c]) == rd.decode(bits[c])).all()
        assert (kernel.differential_encode(bits, 1, inv) == ref.differential_encode(bits, 1, inv)).all()


@pytest.mark.parametrize("impl", IMPLS)
def test_golden_vectors(impl):
    v = json.loads(VECTORS.read_text())
    assert impl.AdditiveScrambler(ref.CCSDS_POLY, ref.CCSDS_SEED).sequence_bytes(255).tobytes().hex() \
        == v["ccsds_sequence_hex"]
    assert impl.AdditiveScrambler(ref.PN9_POLY, ref.PN9_SEED, "lsb").sequence_bytes(64).tobytes().hex() \
        == v["pn9_sequence_hex"]
    data = bytes.fromhex(v["data_hex"])
    assert impl.ccsds_randomize(data).tobytes().hex() == v["ccsds_randomized_hex"]
    assert impl.pn9_whiten(data).tobytes().hex() == v["pn9_whitened_hex"]
    scr = impl.MultiplicativeScrambler(ref.G3RUH_POLY, v["g3ruh_state"])
    bits = _bits(v["g3ruh_in"])
    out = np.concatenate([scr.scramble(bits[:100]), scr.scramble(bits[100:])])
    assert "".join(map(str, out.tolist())) == v["g3ruh_out"] and scr.state == v["g3ruh_final_state"]
    assert "".join(map(str, impl.differential_encode(_bits(v["nrzi_in"]), invert=True).tolist())) \
        == v["nrzi_out"]
    sd = impl.DifferentialDecoder().decode_soft(np.array(v["diff_soft_in"], np.float32))
    assert sd.tolist() == v["diff_soft_out"]


@pytest.mark.parametrize("impl", IMPLS)
def test_bad_inputs_rejected(impl):
    with pytest.raises(InputError):
        impl.lfsr_bits(0x100, 1, 8)               # no constant term
    with pytest.raises(InputError):
        impl.lfsr_bits(ref.CCSDS_POLY, 0x1FF, 8)  # seed wider than the register
    with pytest.raises(InputError):
        impl.AdditiveScrambler(ref.PN9_POLY, 1, "middle")
    with pytest.raises(InputError):
        impl.MultiplicativeScrambler().scramble([0, 1, 2])
    with pytest.raises(InputError):
        impl.differential_decode([3])


# ---- block interleaver (groundseg/dsp/interleave.py, numpy index permutations) ----

def test_block_interleaver_writes_rows_reads_columns():
    from groundseg.dsp import interleave as il
    x = np.arange(12)
    # 3 rows x 4 columns: rows [0 1 2 3] [4 5 6 7] [8 9 10 11] read by column
    assert il.block_interleave(x, 3, 4).tolist() == [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]
    assert (il.block_deinterleave(il.block_interleave(x, 3, 4), 3, 4) == x).all()
    assert (il.block_interleave_index(3, 4)[il.block_deinterleave_index(3, 4)] == x).all()


def test_block_interleaver_spreads_bursts_and_keeps_dtype(rng):
    from groundseg.dsp import interleave as il
    inter = il.BlockInterleaver(8, 50)
    soft = rng.standard_normal(inter.size).astype(np.float32)
    tx = inter.interleave(soft)
    assert tx.dtype == np.float32 and (inter.deinterleave(tx) == soft).all()
    # a burst of 8 consecutive channel symbols hits 8 different rows: at most 1 per row
    burst = np.zeros(inter.size, bool)
    burst[100:108] = True
    hit_rows = np.nonzero(inter.deinterleave(burst))[0] // 50
    assert sorted(hit_rows.tolist()) == list(range(8))


def test_block_interleaver_rejects_bad_shapes():
    from groundseg.dsp import interleave as il
    with pytest.raises(InputError):
        il.block_interleave(np.arange(10), 3, 4)
    with pytest.raises(InputError):
        il.BlockInterleaver(0, 4)

"""SMOG-P repeat-accumulate code: kernel (ra_code.pyx) against the reference and the code's description."""
from __future__ import annotations

import pathlib

import numpy as np
import pytest

from groundseg.dsp import ra_code as kernel
from groundseg.dsp import ra_code_ref as ref
from groundseg.errors import InputError

VECTORS = pathlib.Path(__file__).parent / "vectors" / "ra_code.npz"
IMPLS = [pytest.param(ref, id="ref"), pytest.param(kernel, id="kernel")]
SIZES = (128, 256)


def _literal_encoder(data: bytes) -> list[int]:
    """The encoder as the SMOG-P description states it, step by step: an LFSR walk
    per pass, the accumulator sent after 1 (pass 0) or 3 words, passes ending
    when the walk is back at its start (index == pass number)."""
    words = [data[2 * i] | (data[2 * i + 1] << 8) for i in range(len(data) // 2)]
    L = len(words)
    hb = 4
    n = L
    while n >= 32:
        n //= 2
        hb += 1
    masks = ref.MASKS[hb]
    check = (L + 2) // 3
    state = {"passno": 0, "next": 0}

    def init(seq):
        state["mask"] = masks[seq]
        state["offset"] = L >> (1 + seq)
        state["lfsr"] = 1 + seq + state["offset"]

    def lfsr_next():
        while True:
            b = state["lfsr"] & 1
            state["lfsr"] >>= 1
            if b:
                state["lfsr"] ^= state["mask"]
            if state["lfsr"] <= L:
                break
        b = state["lfsr"] - 1
        if b < state["offset"]:
            b += L
        return b - state["offset"]

    init(0)
    out = []
    for _ in range(L + 3 * check):
        word = state["next"]
        count = 1 if state["passno"] == 0 else 3
        while True:
            word = ((word >> 1) | (word << 15)) & 0xFFFF
            pos = lfsr_next()
            word ^= words[pos]
            if pos == state["passno"]:
                break
            count -= 1
            if count == 0:
                break
        if count != 0:
            state["next"] = 0
            state["passno"] = (state["passno"] + 1) % 4
            init(state["passno"])
        else:
            state["next"] = word
        out.append(word)
    return out


def _bpsk(bits, ebn0_db, rng, rate):
    sigma = np.sqrt(1.0 / (2.0 * rate * 10 ** (ebn0_db / 10)))
    return (2.0 * bits - 1.0 + sigma * rng.standard_normal(bits.size)).astype(np.float32)


def test_kernel_is_built():
    assert kernel.RaCode.__module__ == "groundseg.dsp.ra_code"
    assert type(kernel.RaCode(128)).__name__ == "RaCode" and not hasattr(kernel.RaCode(128), "__dict__")


@pytest.mark.parametrize("words", [4, 5, 31, 32, 64, 100, 128, 1000, 2048])
@pytest.mark.parametrize("seq", range(4))
def test_lfsr_walk_is_a_permutation_ending_at_the_pass_number(words, seq):
    order = ref.lfsr_order(words, seq)
    assert sorted(order.tolist()) == list(range(words))
    assert order[-1] == seq


@pytest.mark.parametrize("size,words", [(128, 130), (256, 257)])
def test_code_sizes(size, words):
    for impl in (ref, kernel):
        c = impl.RaCode(size)
        assert c.code_words == words and c.code_bits == 16 * words
        assert c.checks.shape == (16 * 3 * c.check_words, ref.CHECK_WEIGHT)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("size", [16, 128, 256, 300])
def test_encoder_matches_the_literal_description(impl, size, rng):
    data = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
    c = impl.RaCode(size)
    assert c.encode_words(data).tolist() == _literal_encoder(data)
    # on the air: each word low byte first, MSB first
    words = np.array(_literal_encoder(data), np.uint16)
    bytes_le = words.astype("<u2").tobytes()
    assert (c.encode(data) == np.unpackbits(np.frombuffer(bytes_le, np.uint8))).all()


@pytest.mark.parametrize("impl", IMPLS)
def test_code_is_linear_and_checks_hold(impl, rng):
    c = impl.RaCode(128)
    a = rng.integers(0, 256, 128, dtype=np.uint8)
    b = rng.integers(0, 256, 128, dtype=np.uint8)
    assert (c.encode(a ^ b) == (c.encode(a) ^ c.encode(b))).all()
    bits = c.encode(a)
    padded = np.append(bits, 0)
    assert (padded[c.checks].sum(axis=1) % 2 == 0).all()
    flipped = bits.copy()
    flipped[5] ^= 1
    assert (np.append(flipped, 0)[c.checks].sum(axis=1) % 2).any()


def test_golden_vectors():
    v = np.load(VECTORS)
    for size in SIZES:
        p = f"s{size}_"
        soft = v[p + "soft"].astype(np.float32) / np.float32(24.0)
        for impl in (ref, kernel):
            c = impl.RaCode(size)
            for d, bits in zip(v[p + "data"], v[p + "code"]):
                assert (c.encode(d) == bits).all()
            for y, want, res, score in zip(soft, v[p + "decoded"], v[p + "result"], v[p + "score"]):
                r = c.decode(y)
                assert r.data == want.tobytes()
                assert (int(r.valid), r.errors, r.iterations) == tuple(res)
                assert c.check_score(y) == pytest.approx(score, rel=1e-6)
        # the vectors: two rows decode to the packet, the noise row does not
        assert v[p + "result"][:, 0].tolist() == [1, 1, 0]
        assert (v[p + "decoded"][0] == v[p + "data"][0]).all()


@pytest.mark.parametrize("size", SIZES)
def test_kernel_matches_reference_decoder(size, rng):
    k, r = kernel.RaCode(size), ref.RaCode(size)
    rate = 8 * size / k.code_bits
    for ebn0 in (0.8, 2.0, 6.0):
        data = rng.integers(0, 256, size, dtype=np.uint8)
        y = _bpsk(k.encode(data), ebn0, rng, rate)
        a, b = r.decode(y), k.decode(y)
        assert (a.data, a.valid, a.errors, a.iterations) == (b.data, b.valid, b.errors, b.iterations)
        np.testing.assert_allclose(a.llr, b.llr, rtol=1e-4, atol=1e-3)
        assert k.check_score(y) == pytest.approx(r.check_score(y), rel=1e-6)


def test_boxplus_is_the_llr_of_the_xor():
    rng = np.random.default_rng(3)
    a = rng.normal(0, 6, 500).astype(np.float32)
    b = rng.normal(0, 6, 500).astype(np.float32)
    exact = 2 * np.arctanh(np.tanh(a / 2.0) * np.tanh(b / 2.0))
    for impl in (ref, kernel):
        np.testing.assert_allclose(impl.boxplus(a, b), exact, atol=5e-3)
    np.testing.assert_allclose(kernel.boxplus(a, b), ref.boxplus(a, b), atol=1e-5)


@pytest.mark.parametrize("size", SIZES)
def test_decoder_corrects_channel_errors(size, rng):
    c = kernel.RaCode(size)
    rate = 8 * size / c.code_bits
    for _ in range(10):
        data = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
        bits = c.encode(data)
        y = _bpsk(bits, 3.0, rng, rate)
        errors = int(np.count_nonzero((y > 0) != bits))
        assert errors > 0.04 * c.code_bits            # 3 dB: about 8 % raw channel errors
        r = c.decode(y)
        assert r.valid and r.data == data and r.errors == errors
    # hard symbols with 6 % bit errors
    data = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
    bits = c.encode(data)
    flip = rng.random(bits.size) < 0.06
    r = c.decode(np.where(bits ^ flip, 1.0, -1.0).astype(np.float32))
    assert r.valid and r.data == data and r.errors == int(flip.sum())


@pytest.mark.parametrize("size", SIZES)
def test_noise_and_other_signals_are_not_codewords(size, rng):
    c = kernel.RaCode(size)
    for _ in range(20):
        y = rng.standard_normal(c.code_bits).astype(np.float32)
        r = c.decode(y)
        assert not r.valid and r.errors > 0.25 * c.code_bits
        assert abs(c.check_score(y)) < 5.0
    # strong but random symbols (another framing's data): given up early
    y = (2.0 * rng.integers(0, 2, c.code_bits) - 1.0 + 0.1 * rng.standard_normal(c.code_bits))
    r = c.decode(y.astype(np.float32))
    assert not r.valid and r.iterations <= ref.ABORT_EVERY
    assert kernel.RaCode(size).decode(np.zeros(c.code_bits, np.float32)).valid is False


def test_check_score_separates_codewords_from_noise(rng):
    c = kernel.RaCode(128)
    rate = 1024 / c.code_bits
    coded = [c.check_score(_bpsk(c.encode(rng.integers(0, 256, 128, dtype=np.uint8)), 2.0, rng, rate))
             for _ in range(20)]
    noise = [c.check_score(rng.standard_normal(c.code_bits).astype(np.float32)) for _ in range(200)]
    assert min(coded) > 4.0
    assert -4.0 < np.mean(noise) < 0.5 and np.std(noise) < 1.5


@pytest.mark.parametrize("impl", IMPLS)
def test_bad_arguments(impl):
    for size in (0, 7, 6, 9000, 128.0, True, "128"):
        with pytest.raises(InputError):
            impl.RaCode(size)
    c = impl.RaCode(128)
    with pytest.raises(InputError):
        c.encode(bytes(127))
    with pytest.raises(InputError):
        c.decode(np.zeros(100, np.float32))
    with pytest.raises(InputError):
        c.check_score(np.zeros(100, np.float32))
    with pytest.raises(InputError):
        impl.lfsr_order(3, 0)

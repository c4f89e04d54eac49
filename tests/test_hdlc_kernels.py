"""The HDLC Cython kernel (groundseg/dsp/hdlc.pyx) against its reference and golden vectors."""
from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groundseg.dsp import hdlc as K
from groundseg.dsp import hdlc_ref as R

VECTORS = json.loads((pathlib.Path(__file__).parent / "vectors" / "hdlc_vectors.json").read_text())
BOTH = [False, True]
IDS = ["nrzi", "g3ruh"]


def _frames_signal(rng, g3ruh, n_frames=6, noise=0.3, weak=0):
    """Channel soft symbols for random frames (``weak`` weak wrong bits in every other one)."""
    enc = R.HdlcEncoder(g3ruh)
    payloads, parts = [], []
    for i in range(n_frames):
        p = bytes(rng.integers(0, 256, int(rng.integers(15, 200)), dtype=np.uint8))
        if i % 3 == 1:
            p = b"\xff\xfe\x7e\x3f" * 6 + p[:10]          # heavy bit stuffing
        payloads.append(p)
        parts.append(enc.encode(R.append_fcs(p), int(rng.integers(1, 5)), 1))
    bits = np.concatenate(parts)
    soft = (2.0 * bits - 1.0 + rng.normal(0, noise, len(bits))).astype(np.float32)
    if weak:
        bounds = np.cumsum([0] + [len(p) for p in parts])
        for k in range(1, n_frames, 2):
            for q in rng.choice(np.arange(bounds[k] + 50, bounds[k + 1] - 30), weak, replace=False):
                soft[q] = -np.sign(soft[q]) * 0.05
    return soft, payloads


def _run_split(dec, soft, cuts):
    out, states = [], []
    for a, b in zip([0, *cuts], [*cuts, len(soft)]):
        out += dec.process(soft[a:b])
        states.append(dec.state())
    return out, states


# --- CRC --------------------------------------------------------------------------------

def test_crc16_x25_check_value():
    # the published check value of CRC-16/X.25 (CRC-16/IBM-SDLC) over "123456789"
    assert K.fcs(b"123456789") == 0x906E
    assert R.fcs(b"123456789") == 0x906E


def test_crc_golden_and_reference(rng):
    for case in VECTORS["crc"]:
        data = bytes.fromhex(case["data"])
        assert K.fcs(data) == R.fcs(data) == case["fcs"]
    for n in (0, 1, 2, 17, 300):
        data = bytes(rng.integers(0, 256, n, dtype=np.uint8))
        assert K.crc_register(data) == R.crc_register(data)
        framed = K.append_fcs(data)
        assert framed == R.append_fcs(data)
        assert K.check_fcs(framed) and R.check_fcs(framed)
        broken = bytearray(framed)
        broken[len(broken) // 2] ^= 0x10
        assert not K.check_fcs(bytes(broken)) and not R.check_fcs(bytes(broken))


def test_single_bit_syndromes_predict_crc_change(rng):
    data = bytearray(rng.integers(0, 256, 40, dtype=np.uint8).tobytes())
    t = K.single_bit_syndromes(8 * len(data))
    assert np.array_equal(t, R.single_bit_syndromes(8 * len(data)))
    base = K.crc_register(bytes(data))
    for j in (0, 7, 8, 100, 319):
        flipped = bytearray(data)
        flipped[j // 8] ^= 1 << (j % 8)                   # bits go out LSB first
        assert K.crc_register(bytes(flipped)) ^ base == t[8 * len(data) - 1 - j]


# --- encoder ----------------------------------------------------------------------------

@pytest.mark.parametrize("case", VECTORS["framings"], ids=IDS)
def test_encoder_matches_golden_vectors(case):
    expect = np.unpackbits(np.frombuffer(bytes.fromhex(case["channel_bits"]), np.uint8))
    expect = expect[:case["n_bits"]]
    for enc in (K.HdlcEncoder(case["g3ruh"]), R.HdlcEncoder(case["g3ruh"])):
        bits = np.concatenate([enc.encode(R.append_fcs(bytes.fromhex(p)),
                                          case["preamble_flags"], case["postamble_flags"])
                               for p in case["payloads"]])
        assert np.array_equal(bits, expect)


@pytest.mark.parametrize("g3ruh", BOTH, ids=IDS)
def test_encoder_kernel_equals_reference_with_state(g3ruh, rng):
    ek, er = K.HdlcEncoder(g3ruh), R.HdlcEncoder(g3ruh)
    for _ in range(5):
        frame = bytes(rng.integers(0, 256, int(rng.integers(3, 120)), dtype=np.uint8))
        pre, post = int(rng.integers(1, 20)), int(rng.integers(1, 4))
        assert np.array_equal(ek.encode(frame, pre, post), er.encode(frame, pre, post))
        assert (ek.level, ek.hist) == (er.level, er.hist)


def test_encoder_stuffs_after_five_ones():
    bits = R.stuff_bits(b"\xff")
    assert bits.tolist() == [1, 1, 1, 1, 1, 0, 1, 1, 1]
    # without a scrambler the flag stream is NRZI of 0x7E: no transition for the six 1s
    out = K.HdlcEncoder(False).encode(b"", 2, 0)
    assert out.tolist() == [1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 0]


# --- decoder ----------------------------------------------------------------------------

def _golden_soft(case):
    q = np.frombuffer(bytes.fromhex(case["soft_int8"]), np.int8)
    return q.astype(np.float32) / VECTORS["soft_scale"]


@pytest.mark.parametrize("case", VECTORS["framings"], ids=IDS)
@pytest.mark.parametrize("impl", [K, R], ids=["kernel", "reference"])
def test_decoder_matches_golden_vectors(case, impl):
    soft = _golden_soft(case)
    dec = impl.HdlcDecoder(case["g3ruh"], emit_bad=True)
    got = dec.process(soft)
    assert [(d.hex(), s, e, st, a, a2) for d, s, e, st, a, a2 in got] == [
        (r["data"], r["start"], r["end"], r["status"], r["alt"], r["alt2"]) for r in case["records"]]
    assert list(dec.state()) == case["final_state"]
    # the good frames are the payloads that were sent
    good = [bytes.fromhex(r["data"])[:-2] for r in case["records"] if r["status"] == 0]
    sent = [bytes.fromhex(p) for p in case["payloads"]]
    assert good and all(g in sent for g in good)


@pytest.mark.parametrize("case", VECTORS["framings"], ids=IDS)
def test_repair_matches_golden_vectors(case):
    soft = _golden_soft(case)
    rep = VECTORS["repair"]
    repaired = 0
    for r in case["records"]:
        for want in r["repair"]:
            if want is None:
                continue
            s = want["span_start"]
            lo = s - K.SPAN_MARGIN
            got = K.repair(soft[lo:r["end"]], s - lo, r["end"] - lo, case["g3ruh"],
                           rep["max_flips"], rep["n_candidates"])
            assert got == (bytes.fromhex(want["data"]), want["flips"])
            assert bytes.fromhex(want["data"])[:-2] in [bytes.fromhex(p) for p in case["payloads"]]
            repaired += 1
    assert repaired >= 2


@pytest.mark.parametrize("g3ruh", BOTH, ids=IDS)
def test_decoder_kernel_equals_reference_across_chunk_splits(g3ruh, rng):
    soft, payloads = _frames_signal(rng, g3ruh, weak=1)
    soft = np.concatenate([soft, rng.normal(0, 1, 3000).astype(np.float32)])
    whole = K.HdlcDecoder(g3ruh, emit_bad=True).process(soft)
    for _ in range(3):
        cuts = sorted(rng.choice(np.arange(1, len(soft)), 40, replace=False).tolist())
        fk, sk = _run_split(K.HdlcDecoder(g3ruh, emit_bad=True), soft, cuts)
        fr, sr = _run_split(R.HdlcDecoder(g3ruh, emit_bad=True), soft, cuts)
        assert fk == fr == whole
        assert sk == sr
    assert any(st == R.STATUS_OK for _, _, _, st, _, _ in whole)
    assert any(st != R.STATUS_OK for _, _, _, st, _, _ in whole)


@pytest.mark.parametrize("g3ruh", BOTH, ids=IDS)
def test_decoder_without_emit_bad_returns_only_good_frames(g3ruh, rng):
    soft, payloads = _frames_signal(rng, g3ruh, noise=0.2)
    got = K.HdlcDecoder(g3ruh).process(soft)
    assert [d[:-2] for d, *_ in got] == payloads
    assert all(g[3] == R.STATUS_OK for g in got)


def test_decoder_length_limits():
    enc = R.HdlcEncoder(False)
    short, ok, long_ = b"\x11" * 13, b"\x22" * 15, b"\x33" * 41
    bits = np.concatenate([enc.encode(R.append_fcs(p), 2, 1) for p in (short, ok, long_)])
    soft = (2.0 * bits - 1).astype(np.float32)
    for impl in (K, R):
        got = impl.HdlcDecoder(False, min_bytes=17, max_bytes=42).process(soft)
        assert [d[:-2] for d, *_ in got] == [ok]


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=0, max_size=3000), st.booleans(), st.lists(st.integers(1, 3000), max_size=6))
def test_decoder_kernel_equals_reference_on_arbitrary_input(raw, g3ruh, cuts):
    soft = (np.frombuffer(raw, np.uint8).astype(np.float32) - 127.5) / 64
    cuts = sorted({c for c in cuts if c < len(soft)})
    fk, sk = _run_split(K.HdlcDecoder(g3ruh, emit_bad=True), soft, cuts)
    fr, sr = _run_split(R.HdlcDecoder(g3ruh, emit_bad=True), soft, cuts)
    assert fk == fr and sk == sr


def test_decoder_rejects_bad_limits():
    with pytest.raises(ValueError):
        K.HdlcDecoder(False, min_bytes=20, max_bytes=10)
    with pytest.raises(ValueError):
        R.HdlcDecoder(False, min_bytes=2)


# --- span decoding and repair ---------------------------------------------------------------

def test_decode_bits_span_kernel_equals_reference(rng):
    enc = R.HdlcEncoder(False)
    frame = R.append_fcs(bytes(rng.integers(0, 256, 30, dtype=np.uint8)))
    soft = (2.0 * enc.encode(frame, 2, 1) - 1).astype(np.float32)
    x, _, _ = R.descramble_nrzi(soft > 0, 0, 0, False)
    start, end = 16, len(x)
    assert K.decode_bits_span(x, start, end, 17, 1026) == R.decode_bits_span(x, start, end, 17, 1026) == frame
    # a leading flag in front is skipped; any other damage is refused
    assert K.decode_bits_span(x, start - 8, end, 17, 1026) == frame
    for q in range(start, end - 1, 7):
        y = x.copy()
        y[q] ^= 1
        assert K.decode_bits_span(y, start, end, 17, 1026) == R.decode_bits_span(y, start, end, 17, 1026)
        assert K.decode_bits_span(y, start, end, 17, 1026) is None


@pytest.mark.parametrize("g3ruh", BOTH, ids=IDS)
def test_repair_kernel_equals_brute_force_reference(g3ruh, rng):
    soft, payloads = _frames_signal(rng, g3ruh, n_frames=8, noise=0.15, weak=2)
    recs = K.HdlcDecoder(g3ruh, emit_bad=True).process(soft)
    tried = fixed = 0
    for data, start, end, status, alt, alt2 in recs:
        if status == K.STATUS_OK:
            continue
        for s in ([start] if status != K.STATUS_SHORT else []) + [a for a in (alt, alt2) if a >= 0]:
            lo = max(0, s - K.SPAN_MARGIN)
            args = (soft[lo:end], s - lo, end - lo, g3ruh, 2, 10)
            got = K.repair(*args)
            assert got == R.repair(*args)
            assert K.repair_candidates(soft[lo:end], s - lo, end - lo, g3ruh, 10) == \
                R.repair_candidates(soft[lo:end], s - lo, end - lo, g3ruh, 10)
            tried += 1
            if got is not None:
                assert got[0][:-2] in payloads and got[1] in (1, 2)
                fixed += 1
    assert tried >= 4 and fixed >= 3


@pytest.mark.parametrize("g3ruh", BOTH, ids=IDS)
def test_repair_kernel_equals_reference_on_noise(g3ruh):
    rng = np.random.default_rng(99)
    x = rng.normal(0, 1, 30000).astype(np.float32)
    recs = K.HdlcDecoder(g3ruh, emit_bad=True).process(x)
    n = 0
    for data, start, end, status, alt, alt2 in recs[:25]:
        for s in ([start] if status != K.STATUS_SHORT else []) + [a for a in (alt, alt2) if a >= 0]:
            if s >= K.SPAN_MARGIN:
                args = (x[s - K.SPAN_MARGIN:end], K.SPAN_MARGIN, end - s + K.SPAN_MARGIN, g3ruh, 2, 8)
                assert K.repair(*args) == R.repair(*args)
                n += 1
    assert n >= 20


def test_repair_needs_soft_information():
    enc = R.HdlcEncoder(False)
    bits = enc.encode(R.append_fcs(b"\x55" * 20), 5, 1)
    soft = (2.0 * bits - 1).astype(np.float32)          # hard decisions, all |soft| = 1
    soft[100] = -soft[100]
    recs = K.HdlcDecoder(False, emit_bad=True).process(soft)
    assert recs and recs[0][3] == K.STATUS_CRC
    _, start, end, *_ = recs[0]
    assert K.repair(soft, start, end, False, 2, 12) is None
    assert R.repair(soft, start, end, False, 2, 12) is None


def test_flip_positions_follow_g3ruh_taps():
    # a channel bit error makes NRZI errors at p, p+1; G3RUH repeats them at taps 12 and 17
    assert K.flip_positions(100, False) == R.flip_positions(100, False) == [100, 101]
    assert K.flip_positions(100, True) == R.flip_positions(100, True) == [100, 101, 112, 113, 117, 118]
    soft = np.ones(200, np.float32)
    soft[100] = -1
    flipped = np.flatnonzero(R.descramble_nrzi(soft > 0, 0, 0, True)[0]
                             != R.descramble_nrzi(np.ones(200) > 0, 0, 0, True)[0])
    assert flipped.tolist() == K.flip_positions(100, True)


def test_repairer_rejects_bad_parameters():
    with pytest.raises(ValueError):
        K.Repairer(False, 9, 12)
    with pytest.raises(ValueError):
        K.Repairer(False, 2, 65)

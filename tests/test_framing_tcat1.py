"""3CAT-1 framing: CC1101 fixed packets, PN9 whitening, RS(255,223) rscode."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from _custom_framing import (CHUNKINGS, decode_recording, flip, garbage_streams, noise_bits,
                             recordings, run, soft)
from groundseg.dsp import fec
from groundseg.errors import InputError
from groundseg.framing import get
from groundseg.framing.tcat1 import DATA_BYTES, SYNC, rs_code

NAME = "3CAT-1"
HEAD_BITS = 8 * (2 + 4)          # preamble_bytes=2 + sync


def payload(rng):
    return rng.integers(0, 256, DATA_BYTES, dtype=np.uint8).tobytes()


def framed(p, rng, lead=77, tail=50):
    bits = get(NAME).make_framer(preamble_bytes=2).frame(p)
    return np.concatenate([noise_bits(rng, lead), bits, noise_bits(rng, tail)])


def test_layout_whitening_and_code():
    p = bytes(range(DATA_BYTES))
    bits = get(NAME).make_framer(preamble_bytes=2).frame(p)
    assert len(bits) == HEAD_BITS + 8 * 255
    head = np.packbits(bits[:HEAD_BITS]).tobytes()
    assert head == b"\xaa\xaa" + SYNC.to_bytes(4, "big") == bytes.fromhex("aaaad391d391")
    body = np.packbits(bits[HEAD_BITS:]).tobytes()
    # CC1101 PN9 whitening: the first whitening bytes are FF E1 1D 9A
    assert bytes(a ^ b for a, b in zip(body[:4], p[:4])) == bytes.fromhex("ffe11d9a")
    cw = fec.pn9_whiten(np.frombuffer(body, np.uint8))
    assert cw[:DATA_BYTES].tobytes() == p
    # rscode's code (what decodes the recording: see test_corpus_recording)
    rs = rs_code()
    assert (rs.fcr, rs.prim, rs.gfpoly, rs.nroots) == (1, 1, 0x11D, 32)


@pytest.mark.parametrize("chunk", CHUNKINGS)
def test_round_trip_any_chunking(chunk, rng):
    ps = [payload(rng) for _ in range(3)]
    fr = get(NAME).make_framer(preamble_bytes=4)
    bits = np.concatenate([noise_bits(rng, 33), fr.frames(ps, gap_bits=40), noise_bits(rng, 20)])
    frames = run(get(NAME).make_deframer(), soft(bits, rng, noise=0.35), chunk)
    assert [f.data for f in frames] == ps
    assert all(f.crc_ok is True for f in frames)
    ends = [f.end_symbol for f in frames]
    assert ends == sorted(ends) and ends[-1] <= len(bits)


def test_inverted_polarity(rng):
    p = payload(rng)
    (f,) = run(get(NAME).make_deframer(), soft(framed(p, rng), invert=True))
    assert f.data == p and f.inverted


def test_end_symbol(rng):
    p = payload(rng)
    bits = get(NAME).make_framer(preamble_bytes=2).frame(p)
    (f,) = run(get(NAME).make_deframer(), soft(np.concatenate([bits, np.zeros(300, np.uint8)])))
    assert f.end_symbol == len(bits)


@pytest.mark.parametrize("nerr", [1, 9, 16])
def test_corrects_up_to_16_byte_errors(nerr, rng):
    p = payload(rng)
    bits = framed(p, rng, lead=0, tail=0)
    byte_pos = rng.choice(255, nerr, replace=False)
    errs = [HEAD_BITS + 8 * b + int(rng.integers(0, 8)) for b in byte_pos]
    (f,) = run(get(NAME).make_deframer(erasures=False), soft(flip(bits, errs)))
    assert f.data == p and f.corrected == nerr == f.meta["rs_errors"]


def test_17_byte_errors_fail_then_erasures_help(rng):
    p = payload(rng)
    bits = framed(p, rng, lead=0, tail=0)
    byte_pos = rng.choice(255, 18, replace=False)
    errs = [HEAD_BITS + 8 * b + 3 for b in byte_pos]
    s = soft(flip(bits, errs))
    assert run(get(NAME).make_deframer(erasures=False), s) == []
    # mark the damaged bits as unreliable: errors-and-erasures decoding gets them
    s[errs] *= 0.1
    (f,) = run(get(NAME).make_deframer(), s)
    assert f.data == p and f.meta["rs_erasures"] >= 4


def test_sync_errors_tolerated_up_to_the_option(rng):
    p = payload(rng)
    bits = framed(p, rng, lead=0, tail=0)
    three = flip(bits, [16, 20, 30])
    assert [f.data for f in run(get(NAME).make_deframer(), soft(three))] == [p]
    assert run(get(NAME).make_deframer(max_sync_errors=2), soft(three)) == []


def test_framer_rejects_bad_payloads_and_options():
    with pytest.raises(InputError):
        get(NAME).make_framer().frame(bytes(222))
    with pytest.raises(InputError):
        get(NAME).make_deframer(max_sync_errors=20)
    # the framer takes the catalog's (deframer) options, and nothing else
    assert len(get(NAME).make_framer(max_sync_errors=2, erasures=False).frame(bytes(223))) > 0
    with pytest.raises(InputError):
        get(NAME).make_framer(preambel_bytes=3)


@settings(max_examples=60, deadline=None)
@given(garbage_streams, st.integers(1, 5000))
def test_fuzz_garbage_gives_nothing(bits, chunk):
    assert run(get(NAME).make_deframer(), soft(bits), chunk) == []


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 8 * 255 - 1), st.integers(0, 2**32 - 1))
def test_fuzz_truncated_or_garbage_after_sync(cut, seed):
    rng = np.random.default_rng(seed)
    good = get(NAME).make_framer(preamble_bytes=2).frame(payload(rng))
    truncated = good[:HEAD_BITS + cut]
    assert run(get(NAME).make_deframer(), soft(truncated)) == []
    garbage = np.concatenate([good[:HEAD_BITS], noise_bits(rng, 8 * 255)])
    assert run(get(NAME).make_deframer(), soft(garbage)) == []


@pytest.mark.parametrize("rec", recordings(NAME))
def test_corpus_recording(corpus, rec):
    assert rec is not None
    frames = decode_recording(corpus, rec, {NAME})
    assert all(f["crc_ok"] for f in frames)
    assert all(len(bytes.fromhex(f["hex"])) == DATA_BYTES for f in frames)
    assert len(frames) >= int(rec["reference_frames"]), \
        f"{rec['file']}: {len(frames)} frames, reference {rec['reference_frames']}"

"""Reaktor Hello World framing: CC1125 length + data + CRC-16, PN9 whitening, soft repair."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from _custom_framing import (CHUNKINGS, decode_recording, flip, garbage_streams, noise_bits,
                             recordings, run, soft)
from groundseg.dsp import fec
from groundseg.errors import InputError
from groundseg.framing import get
from groundseg.framing._softbits import crc16_cc11xx
from groundseg.framing.reaktor import SYNC, packet_ok

NAME = "Reaktor Hello World"
HEAD_BITS = 8 * (2 + 4)


def payload(rng, n=113):
    return rng.integers(0, 256, n, dtype=np.uint8).tobytes()


def framed(p, rng=None, lead=0, tail=0):
    bits = get(NAME).make_framer(preamble_bytes=2).frame(p)
    if rng is None:
        return bits
    return np.concatenate([noise_bits(rng, lead), bits, noise_bits(rng, tail)])


def test_crc_is_the_cc11xx_one():
    # CRC-16 of the CC11xx packet engine: poly 0x8005, init 0xFFFF, no reflection
    assert fec.crc(b"123456789", crc16_cc11xx()) == 0xAEE7


def test_layout():
    p = b"hello, world"
    bits = framed(p)
    assert np.packbits(bits[:HEAD_BITS]).tobytes() == b"\xaa\xaa" + SYNC.to_bytes(4, "big")
    body = fec.pn9_whiten(np.packbits(bits[HEAD_BITS:])).tobytes()
    assert body[0] == len(p) and body[1:1 + len(p)] == p
    assert packet_ok(body)
    assert int.from_bytes(body[-2:], "big") == fec.crc(body[:-2], crc16_cc11xx())
    assert len(bits) == HEAD_BITS + 8 * (len(p) + 3)


@pytest.mark.parametrize("n", [1, 2, 50, 113, 255])
def test_round_trip_lengths(n, rng):
    p = payload(rng, n)
    (f,) = run(get(NAME).make_deframer(), soft(framed(p, rng, 40, 40), rng, noise=0.2))
    assert f.data == p and f.crc_ok is True and f.meta["length"] == n and f.repaired_bits == 0


@pytest.mark.parametrize("chunk", CHUNKINGS)
def test_burst_any_chunking(chunk, rng):
    ps = [payload(rng, n) for n in (113, 7, 200)]
    fr = get(NAME).make_framer(preamble_bytes=4)
    bits = np.concatenate([noise_bits(rng, 21), fr.frames(ps, gap_bits=64)])
    frames = run(get(NAME).make_deframer(), soft(bits, rng, noise=0.25), chunk)
    assert [f.data for f in frames] == ps


def test_inverted_polarity(rng):
    p = payload(rng)
    (f,) = run(get(NAME).make_deframer(), soft(framed(p, rng, 10, 10), invert=True))
    assert f.data == p and f.inverted


def test_soft_repair_fixes_weak_bit_errors_only(rng):
    p = payload(rng)
    bits = framed(p)
    errs = [HEAD_BITS + 8 + 100, HEAD_BITS + 8 + 555]
    s = soft(flip(bits, errs))
    s[errs] *= 0.2                       # wrong but weak, as noise makes them
    assert run(get(NAME).make_deframer(repair_flips=0), s) == []
    (f,) = run(get(NAME).make_deframer(), s)
    assert f.data == p and f.repaired_bits == 2
    # the same errors at full confidence are beyond repair
    assert run(get(NAME).make_deframer(), soft(flip(bits, errs))) == []


def test_weak_length_bit_is_retried(rng):
    p = payload(rng, 60)
    bits = framed(p)
    pos = HEAD_BITS + 5                  # a bit of the length byte
    s = soft(flip(bits, [pos]))
    s[pos] *= 0.1
    (f,) = run(get(NAME).make_deframer(), s)
    assert f.data == p and f.repaired_bits == 1


def test_keep_invalid_returns_failed_packets(rng):
    p = payload(rng, 30)
    s = soft(flip(framed(p), [HEAD_BITS + 8 + 3, HEAD_BITS + 8 + 40, HEAD_BITS + 8 + 90]))
    (f,) = run(get(NAME).make_deframer(keep_invalid=True), s)
    assert f.crc_ok is False and len(f.data) == 30


def test_bad_arguments():
    with pytest.raises(InputError):
        get(NAME).make_framer().frame(b"")
    with pytest.raises(InputError):
        get(NAME).make_framer().frame(bytes(256))
    with pytest.raises(InputError):
        get(NAME).make_deframer(repair_flips=9)


@settings(max_examples=60, deadline=None)
@given(garbage_streams, st.integers(1, 5000))
def test_fuzz_garbage_gives_nothing(bits, chunk):
    assert run(get(NAME).make_deframer(), soft(bits), chunk) == []


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 8 * 116 - 1), st.integers(0, 2**32 - 1))
def test_fuzz_truncated_or_garbage_after_sync(cut, seed):
    rng = np.random.default_rng(seed)
    good = framed(payload(rng))
    assert run(get(NAME).make_deframer(), soft(good[:HEAD_BITS + cut])) == []
    garbage = np.concatenate([good[:HEAD_BITS], noise_bits(rng, 8 * 258)])
    assert run(get(NAME).make_deframer(), soft(garbage)) == []


@pytest.mark.parametrize("rec", recordings(NAME))
def test_corpus_recording(corpus, rec):
    assert rec is not None
    frames = decode_recording(corpus, rec, {NAME})
    assert all(f["crc_ok"] for f in frames)
    assert len(frames) >= int(rec["reference_frames"]), \
        f"{rec['file']}: {len(frames)} frames, reference {rec['reference_frames']}"

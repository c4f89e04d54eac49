"""Swiatowid image downlink framing: length field, RS(58,48) blocks, CRC-16/XMODEM."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from _custom_framing import (CHUNKINGS, decode_recording, flip, garbage_streams, noise_bits,
                             recordings, run, soft)
from groundseg.errors import InputError
from groundseg.framing import get
from groundseg.framing.swiatowid import DATA_BYTES, SYNC, packet_crc, rs_code

NAME = "Swiatowid"
PRE = 2
HEAD = 8 * PRE + 32


def blocks(rng, n, first=0):
    """n blocks as the satellite fills them: little-endian counter + 46 bytes."""
    return b"".join((first + i).to_bytes(2, "little")
                    + rng.integers(0, 256, DATA_BYTES - 2, dtype=np.uint8).tobytes()
                    for i in range(n))


def split(data):
    return [data[i:i + DATA_BYTES] for i in range(0, len(data), DATA_BYTES)]


def framed(data, tail=18):
    return get(NAME).make_framer(preamble_bytes=PRE, tail_bytes=tail).frame(data)


def lsb_bytes(bits):
    return np.packbits(np.asarray(bits).reshape(-1, 8)[:, ::-1], axis=1).reshape(-1).tobytes()


def test_crc_is_xmodem():
    assert packet_crc(b"123456789") == 0x31C3


def test_layout(rng):
    data = blocks(rng, 3)
    bits = framed(data, tail=0)
    assert int("".join(map(str, bits[8 * PRE:HEAD])), 2) == SYNC
    air = lsb_bytes(bits[HEAD:])
    length = int.from_bytes(air[:2], "little")
    assert length == 3 * 58 + 2 + 8 and len(air) == 2 + 3 * 58 + 2
    rs = rs_code()
    assert (rs.nroots, rs.fcr, rs.prim, rs.gfpoly) == (10, 0, 1, 0x11D)
    body = air[2:-2]
    for i, piece in enumerate(split(data)):
        cw = body[58 * i:58 * (i + 1)]
        assert cw[:DATA_BYTES] == piece and rs.decode(np.frombuffer(cw, np.uint8))[1] == 0
    assert int.from_bytes(air[-2:], "little") == packet_crc(body)


@pytest.mark.parametrize("chunk", CHUNKINGS)
def test_round_trip_any_chunking(chunk, rng):
    p1, p2 = blocks(rng, 5), blocks(rng, 141, first=5)
    fr = get(NAME).make_framer(preamble_bytes=4)
    bits = np.concatenate([noise_bits(rng, 99), fr.frames([p1, p2], gap_bits=80)])
    frames = run(get(NAME).make_deframer(), soft(bits, rng, noise=0.3), chunk)
    assert [f.data for f in frames] == split(p1) + split(p2)
    assert [f.meta["block"] for f in frames] == list(range(146))
    assert [f.meta["index"] for f in frames] == list(range(5)) + list(range(141))
    assert frames[4].meta["packet_crc_ok"] is True and frames[-1].meta["packet_crc_ok"] is True
    ends = [f.end_symbol for f in frames]
    assert ends == sorted(ends) and len(set(ends)) == len(ends)


def test_inverted_polarity(rng):
    data = blocks(rng, 2)
    frames = run(get(NAME).make_deframer(), soft(framed(data), invert=True))
    assert [f.data for f in frames] == split(data) and all(f.inverted for f in frames)


def test_corrects_5_byte_errors_per_block_and_loses_only_bad_blocks(rng):
    data = blocks(rng, 4)
    bits = framed(data)
    start = HEAD + 16
    errs = [start + 8 * b + 1 for b in rng.choice(58, 5, replace=False)]          # block 0: 5
    errs += [start + 8 * (116 + b) + 6 for b in rng.choice(58, 6, replace=False)]  # block 2: 6
    frames = run(get(NAME).make_deframer(), soft(flip(bits, errs)))
    assert [f.meta["index"] for f in frames] == [0, 1, 3]
    assert frames[0].corrected == 5 and frames[0].data == split(data)[0]
    assert "packet_crc_ok" not in frames[-1].meta


def test_erasures_rescue_a_block_with_weak_errors(rng):
    data = blocks(rng, 1)
    bits = framed(data)
    errs = [HEAD + 16 + 8 * b + 2 for b in (3, 10, 20, 30, 40, 50)]   # 6 > t = 5
    s = soft(flip(bits, errs))
    s[errs] *= 0.1
    assert run(get(NAME).make_deframer(), s) == []
    (f,) = run(get(NAME).make_deframer(erasures=True), s)
    assert f.data == data and f.meta["rs_erasures"] in (2, 4)


def test_packet_cut_short_gives_its_complete_blocks(rng):
    data = blocks(rng, 10)
    bits = framed(data)
    cut = HEAD + 16 + 8 * (58 * 6 + 20)
    frames = run(get(NAME).make_deframer(), soft(bits[:cut]))
    assert [f.data for f in frames] == split(data)[:6]
    assert "packet_crc_ok" not in frames[-1].meta


def test_bad_length_field_falls_back_to_the_largest_packet(rng):
    data = blocks(rng, 3)
    bits = framed(data, tail=0)
    bad = bits.copy()
    bad[HEAD:HEAD + 16] = 1                     # length 0xFFFF
    frames = run(get(NAME).make_deframer(), soft(np.concatenate([bad, noise_bits(rng, 70000)])))
    assert [f.data for f in frames] == split(data)


def test_weak_length_bit_does_not_cut_the_packet(rng):
    data = blocks(rng, 40)
    bits = framed(data)
    pos = HEAD + 8 + 3                   # bit 11 of the length field: 2330 -> 282, 4 blocks
    s = soft(flip(bits, [pos]))
    s[pos] *= 0.2
    frames = run(get(NAME).make_deframer(), s)
    assert [f.data for f in frames] == split(data)
    assert frames[-1].meta["packet_crc_ok"] is True


def test_bad_arguments():
    with pytest.raises(InputError):
        get(NAME).make_framer().frame(bytes(47))
    with pytest.raises(InputError):
        get(NAME).make_framer().frame(bytes(48 * 142))
    with pytest.raises(InputError):
        get(NAME).make_deframer(max_sync_errors=12)


@settings(max_examples=40, deadline=None)
@given(garbage_streams, st.integers(1, 5000))
def test_fuzz_garbage_gives_nothing(bits, chunk):
    assert run(get(NAME).make_deframer(), soft(bits), chunk) == []


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 16 + 8 * 58 * 3), st.integers(0, 2**32 - 1))
def test_fuzz_truncated_or_garbage_after_sync(cut, seed):
    rng = np.random.default_rng(seed)
    data = blocks(rng, 3)
    good = framed(data, tail=0)
    got = run(get(NAME).make_deframer(), soft(good[:HEAD + cut]))
    assert [f.data for f in got] == split(data)[:max(0, cut - 16) // (8 * 58)]
    garbage = np.concatenate([good[:HEAD], noise_bits(rng, 8 * 700)])
    assert run(get(NAME).make_deframer(), soft(garbage)) == []


@pytest.mark.parametrize("rec", recordings(NAME))
def test_corpus_recording(corpus, rec):
    assert rec is not None
    frames = decode_recording(corpus, rec, {NAME})
    assert all(f["crc_ok"] for f in frames)
    # swiatowid.wav's reference (141) is one image packet of 141 RS blocks; the recording
    # holds two whole packets and the start of a third (the AFSK telemetry is not in it)
    assert len(frames) >= int(rec["reference_frames"])
    crc = [f["packet_crc_ok"] for f in frames if "packet_crc_ok" in f]
    assert crc and all(crc)
    # block counters run on without gaps within a packet
    counters = [f["block"] for f in frames]
    assert all(b - a == 1 for a, b in zip(counters, counters[1:]) if b > a)

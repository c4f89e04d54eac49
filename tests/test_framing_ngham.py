"""NGHam framings: "NGHam" (RS + CRC) and "NGHam no Reed Solomon" (CRC only)."""
import json
import pathlib

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from groundseg.dsp import fec
from groundseg.errors import InputError
from groundseg.framing import get
from groundseg.framing._sync import bits_from_bytes, bits_from_int
from groundseg.framing.ngham import (CODEWORD_BYTES, MAX_PAYLOAD, PARITY_BYTES, SIZE_TAGS, SYNC,
                                     decode_size_tag, size_number)
from test_framing_ax100 import _recordings, decode_recording_frames, run, soft

RS, NORS = "NGHam", "NGHam no Reed Solomon"
VECTOR = pathlib.Path(__file__).parent / "vectors" / "ngham_floripasat1.json"
HEAD = 32 + 32 + 24              # preamble (4 bytes), sync, size tag


def payload(n, rng):
    return rng.integers(0, 256, n, dtype=np.uint8).tobytes()


# --- facts ----------------------------------------------------------------------

def test_size_tags_are_13_apart_and_sizes_add_up():
    d = [bin(a ^ b).count("1") for i, a in enumerate(SIZE_TAGS) for b in SIZE_TAGS[i + 1:]]
    assert min(d) == 13
    assert [n - p - 3 for n, p in zip(CODEWORD_BYTES, PARITY_BYTES)] == list(MAX_PAYLOAD)
    assert MAX_PAYLOAD == (28, 60, 92, 124, 156, 188, 220)
    assert [size_number(n) for n in (1, 28, 29, 220)] == [0, 0, 1, 6]
    with pytest.raises(InputError):
        size_number(221)


def test_layout_of_a_packet():
    fr = get(RS).make_framer(flags=5)
    bits = fr.frame(b"TEST")
    assert np.packbits(bits[:64]).tobytes() == bytes.fromhex("aaaaaaaa5de62a7e")
    assert decode_size_tag(soft(bits[64:88])) == (0, 0)
    assert len(bits) == HEAD + 8 * 47
    cw = fec.ccsds_derandomize(np.packbits(bits[HEAD:]))
    # header: 24 bytes of padding, flags 5; then the payload and its CRC-16/X.25, high byte first
    assert cw[0] == (28 - 4) | (5 << 5)
    assert cw[1:5].tobytes() == b"TEST"
    assert cw[5:7].tobytes() == fec.crc16_x25(bytes(cw[:5])).to_bytes(2, "big")
    assert not cw[7:31].any()                                 # zero padding
    # RS(47, 31) parity: conventional basis, fcr 112, prim 11, poly 0x187
    rs = fec.ReedSolomon(nroots=16, fcr=112, prim=11, gfpoly=0x187)
    assert np.array_equal(rs.encode(cw[:31]), cw[31:])


def test_bad_framer_arguments():
    with pytest.raises(InputError):
        get(RS).make_framer().frame(b"")
    with pytest.raises(InputError):
        get(RS).make_framer().frame(bytes(221))
    with pytest.raises(InputError):
        get(RS).make_framer(flags=8)
    with pytest.raises(InputError):
        get(RS).make_deframer(max_tag_errors=7)


# --- round trips ----------------------------------------------------------------

@pytest.mark.parametrize("name", [RS, NORS])
@pytest.mark.parametrize("n", [1, 28, 29, 60, 61, 92, 93, 124, 125, 156, 157, 188, 189, 220])
def test_round_trip_every_size(name, n, rng):
    p = payload(n, rng)
    (f,) = run(get(name).make_deframer(), soft(get(name).make_framer(flags=1).frame(p)))
    assert f.data == p and f.crc_ok is True and f.meta["flags"] == 1
    assert f.meta["codeword_bytes"] == CODEWORD_BYTES[size_number(n)]
    assert f.corrected == (0 if name == RS else None)


@pytest.mark.parametrize("chunk", [1, 9, 256, 5000, None])
@pytest.mark.parametrize("sign", [1, -1])
def test_burst_any_chunking_either_polarity(chunk, sign, rng):
    ps = [payload(n, rng) for n in (10, 150, 60)]
    fr = get(RS).make_framer()
    bits = np.concatenate([rng.integers(0, 2, 41).astype(np.uint8)] +
                          [np.concatenate([fr.frame(p), rng.integers(0, 2, 23).astype(np.uint8)])
                           for p in ps])
    s = sign * soft(bits, rng, noise=0.2)        # raw bit error rate 3e-7: no RS needed
    for name in (RS, NORS):
        frames = run(get(name).make_deframer(), s, chunk)
        assert [f.data for f in frames] == ps
        assert all(f.inverted == (sign < 0) for f in frames)
        ends = [f.end_symbol for f in frames]
        assert ends == sorted(ends) and ends[-1] <= len(s)


@pytest.mark.parametrize("n,nroots", [(20, 16), (200, 32)])
def test_rs_corrects_up_to_t_byte_errors(n, nroots, rng):
    p = payload(n, rng)
    bits = get(RS).make_framer().frame(p)
    k = size_number(n)
    t = nroots // 2
    for nerr, decodes in ((t, True), (t + 1, False)):
        bad = bits.copy()
        for q in rng.choice(CODEWORD_BYTES[k], nerr, replace=False):
            bad[HEAD + 8 * q:HEAD + 8 * q + 8] ^= np.unpackbits(np.array([rng.integers(1, 256)], np.uint8))
        frames = run(get(RS).make_deframer(), soft(bad))
        if decodes:
            assert [f.data for f in frames] == [p] and frames[0].corrected == nerr
        else:
            assert frames == []
        # without RS one byte error is already fatal
        assert run(get(NORS).make_deframer(), soft(bad)) == []


@pytest.mark.parametrize("nerr", [1, 6])
def test_size_tag_errors(nerr, rng):
    p = payload(100, rng)
    bits = get(RS).make_framer().frame(p)
    bad = bits.copy()
    bad[64 + rng.choice(24, nerr, replace=False)] ^= 1
    (f,) = run(get(RS).make_deframer(), soft(bad))
    assert f.data == p and f.meta["tag_errors"] == nerr
    assert run(get(RS).make_deframer(max_tag_errors=nerr - 1), soft(bad)) == []


def test_sync_word_errors(rng):
    p = payload(30, rng)
    s = soft(get(RS).make_framer().frame(p))
    s[32 + np.array([0, 9, 18, 27])] *= -1
    (f,) = run(get(RS).make_deframer(), s.copy())
    assert f.data == p and f.meta["sync_errors"] == 4
    assert run(get(RS).make_deframer(max_sync_errors=3), s) == []


def test_keep_invalid_returns_failed_crc(rng):
    p = payload(40, rng)
    bad = get(NORS).make_framer().frame(p)
    bad[HEAD + 8 * 3 + 2] ^= 1
    assert run(get(NORS).make_deframer(), soft(bad)) == []
    (f,) = run(get(NORS).make_deframer(keep_invalid=True), soft(bad))
    assert f.crc_ok is False


# --- a real packet: FloripaSat-1 ------------------------------------------------

def test_floripasat1_packet_from_the_corpus():
    """Bits of FloripaSat-1's beacon (tools/make_ngham_vectors.py): CRC passes, RS parity unusable."""
    v = json.loads(VECTOR.read_text())
    s = soft(np.array([int(c) for c in v["bits"]], np.uint8))
    (f,) = run(get(NORS).make_deframer(), s)
    assert f.crc_ok is True and f.data.startswith(b"\x000PY0EFS") and len(f.data) == 58
    assert f.meta["codeword_bytes"] == 79 and f.meta["tag_errors"] == 0
    assert run(get(RS).make_deframer(), s) == []
    (g,) = run(get(RS).make_deframer(keep_invalid=True), s)
    assert g.crc_ok is False


# --- fuzz -----------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=600))
def test_random_bits_give_no_frame(data):
    for name in (RS, NORS):
        assert run(get(name).make_deframer(), soft(bits_from_bytes(data))) == []


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 6), st.binary(max_size=300))
def test_sync_and_tag_with_garbage(k, garbage):
    bits = np.concatenate([bits_from_int(SYNC, 32), bits_from_int(SIZE_TAGS[k], 24),
                           bits_from_bytes(garbage)])
    for name in (RS, NORS):
        assert run(get(name).make_deframer(), soft(bits)) == []


def test_constant_streams_and_truncated_frames(rng):
    for v in (0.0, 1.0, -1.0):
        assert run(get(RS).make_deframer(), np.full(5000, v, np.float32)) == []
    bits = get(RS).make_framer().frame(payload(100, rng))
    for cut in (40, 70, 90, 500, len(bits) - 1):
        for name in (RS, NORS):
            assert run(get(name).make_deframer(), soft(bits[:cut]), 100) == []


# --- corpus ---------------------------------------------------------------------

@pytest.mark.parametrize("rec", _recordings(NORS) + _recordings(RS))
def test_corpus_recording(corpus, rec):
    assert rec is not None
    frames = decode_recording_frames(corpus, rec, {RS, NORS})
    assert all(f["crc_ok"] for f in frames)
    # floripasat_1.wav: the flowgraph gets 0 (its one NGHam packet is lost by the FSK
    # demodulator, see test_floripasat1_packet_from_the_corpus); the reference gets 0
    assert len(frames) >= int(rec["reference_frames"])

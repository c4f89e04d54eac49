"""SanoSat-1 framing: sync 0xB42B, length + CRC1, FF FF 00 00, data, CRC2."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from groundseg.dsp import fec
from groundseg.errors import InputError
from groundseg.framing import get
from groundseg.framing._sync import bits_from_bytes, bits_from_int
from groundseg.framing.sanosat import SYNC, decode_length
from test_framing_ax100 import _recordings, decode_recording_frames, run, soft

NAME = "SanoSat"
HEAD = 64 + 16                    # preamble (8 bytes) + sync


def payload(n, rng):
    return (b"AM9NPQ" + rng.integers(0, 256, max(0, n - 6), dtype=np.uint8).tobytes())[:n]


def test_layout_matches_the_published_format():
    bits = get(NAME).make_framer(preamble_bytes=2).frame(b"AM9NPQ\x01")
    raw = np.packbits(bits).tobytes()
    assert raw[:4] == b"\xaa\xaa\xb4\x2b"
    n = raw[4]
    assert n == 2 + 7 + 2                                    # CRC1 + data + CRC2
    assert raw[5:7] == fec.crc16_ccitt_false(bytes((n,))).to_bytes(2, "little")
    assert raw[7:11] == b"\xff\xff\x00\x00" and raw[11:18] == b"AM9NPQ\x01"
    assert raw[18:] == fec.crc16_ccitt_false(raw[4:5] + raw[7:18]).to_bytes(2, "little")


def test_too_long_payload_is_refused():
    get(NAME).make_framer().frame(bytes(126))
    with pytest.raises(InputError):
        get(NAME).make_framer().frame(bytes(127))


@pytest.mark.parametrize("chunk", [1, 5, 300, None])
@pytest.mark.parametrize("sign", [1, -1])
def test_round_trip_any_chunking_either_polarity(chunk, sign, rng):
    ps = [payload(n, rng) for n in (22, 0, 126, 7)]
    fr = get(NAME).make_framer()
    bits = np.concatenate([rng.integers(0, 2, 19).astype(np.uint8)] +
                          [np.concatenate([fr.frame(p), rng.integers(0, 2, 29).astype(np.uint8)])
                           for p in ps])
    frames = run(get(NAME).make_deframer(), sign * soft(bits, rng, noise=0.2), chunk)
    assert [f.data for f in frames] == ps
    assert all(f.crc_ok and f.inverted == (sign < 0) for f in frames)


@pytest.mark.parametrize("nerr,found", [(1, True), (3, True), (4, False)])
def test_length_field_errors_up_to_the_limit(nerr, found, rng):
    p = payload(30, rng)
    bits = get(NAME).make_framer().frame(p)
    s = soft(bits)
    # weak wrong symbols: soft ML decoding of length + CRC1 still finds the right word
    s[HEAD + rng.choice(24, nerr, replace=False)] *= -0.3
    frames = run(get(NAME).make_deframer(), s)
    if found:
        assert [f.data for f in frames] == [p] and frames[0].meta["length_errors"] == nerr
    else:
        assert frames == []


def test_length_code_picks_the_nearest_word():
    s = soft(bits_from_bytes(bytes((26,)) + fec.crc16_ccitt_false(bytes((26,))).to_bytes(2, "little")))
    assert decode_length(s) == (26, 0)
    s[3] *= -1
    assert decode_length(s) == (26, 1)


def test_data_error_fails_crc2(rng):
    p = payload(22, rng)
    bad = get(NAME).make_framer().frame(p)
    bad[HEAD + 8 * 12] ^= 1
    assert run(get(NAME).make_deframer(), soft(bad)) == []
    (f,) = run(get(NAME).make_deframer(keep_invalid=True), soft(bad))
    assert f.crc_ok is False


def test_sync_errors(rng):
    p = payload(10, rng)
    s = soft(get(NAME).make_framer().frame(p))
    s[64 + 3] *= -1
    (f,) = run(get(NAME).make_deframer(), s.copy())
    assert f.meta["sync_errors"] == 1
    assert run(get(NAME).make_deframer(max_sync_errors=0), s) == []


# --- fuzz -----------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=400))
def test_random_bits_give_no_frame(data):
    assert run(get(NAME).make_deframer(), soft(bits_from_bytes(data))) == []


@settings(max_examples=60, deadline=None)
@given(st.integers(4, 130), st.binary(max_size=200))
def test_sync_and_valid_length_with_garbage(n, garbage):
    ln = bytes((n,))
    head = ln + fec.crc16_ccitt_false(ln).to_bytes(2, "little")
    bits = np.concatenate([bits_from_int(SYNC, 16), bits_from_bytes(head + garbage)])
    assert run(get(NAME).make_deframer(), soft(bits)) == []


def test_constant_streams_and_truncated_frames(rng):
    for v in (0.0, 1.0, -1.0):
        assert run(get(NAME).make_deframer(), np.full(3000, v, np.float32)) == []
    bits = get(NAME).make_framer().frame(payload(40, rng))
    for cut in (70, 90, 120, len(bits) - 1):
        assert run(get(NAME).make_deframer(), soft(bits[:cut]), 33) == []


# --- corpus ---------------------------------------------------------------------

EXPECTED = {"sanosat1.wav": 1}        # measured (the reference decoder gets 0)


@pytest.mark.parametrize("rec", _recordings(NAME))
def test_corpus_recording(corpus, rec):
    assert rec is not None
    frames = decode_recording_frames(corpus, rec, {NAME})
    assert all(f["crc_ok"] and bytes.fromhex(f["hex"]).startswith(b"AM9NPQ") for f in frames)
    want = max(int(rec["reference_frames"]), EXPECTED.get(rec["file"], 0))
    assert len(frames) >= want, f"{rec['file']}: {len(frames)} frames, want {want}"

"""AAUSAT-4 framing: sync, FSM byte, CCSDS convolutional code, randomizer, RS (conventional)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from _custom_framing import (CHUNKINGS, decode_recording, flip, garbage_streams, noise_bits,
                             recordings, run, soft)
from groundseg.dsp import fec
from groundseg.errors import InputError
from groundseg.framing import get
from groundseg.framing._gomspace import make_csp_header
from groundseg.framing.aausat4 import FSM_LONG, FSM_SHORT, SYNC

NAME = "AAUSAT-4"
PRE = 2
HEAD = 8 * PRE + 48 + 8                  # preamble, sync, FSM
HDR = make_csp_header(priority=2, source=11, destination=6, destination_port=18, source_port=1)


def packet(rng, n):
    return HDR + rng.integers(0, 256, n, dtype=np.uint8).tobytes()


def framed(p, **opts):
    return get(NAME).make_framer(preamble_bytes=PRE, **opts).frame(p)


def test_layout_long_and_short(rng):
    for n, fsm, nsym in ((86, FSM_LONG, 1996), (25, FSM_SHORT, 1020)):
        p = packet(rng, n)
        bits = framed(p)
        head = np.packbits(bits[:HEAD]).tobytes()
        assert head == b"\xaa" * PRE + SYNC.to_bytes(6, "big") + bytes([fsm])
        assert len(bits) == HEAD + nsym + 4
        dec = fec.viterbi_decode(soft(bits[HEAD:HEAD + nsym]), "CCSDS", terminated=True)
        cw = fec.ccsds_derandomize(np.packbits(dec))
        data, nerr = fec.ccsds_rs(dual_basis=False).decode(cw)
        assert nerr == 0
        data = data.tobytes()
        assert int.from_bytes(data[:2], "big") == n and data[2:2 + 4 + n] == p
        assert not any(data[6 + n:])


@pytest.mark.parametrize("n", [0, 1, 25, 26, 60, 86])
def test_round_trip_sizes(n, rng):
    p = packet(rng, n)
    bits = np.concatenate([noise_bits(rng, 50), framed(p), noise_bits(rng, 50)])
    (f,) = run(get(NAME).make_deframer(), soft(bits, rng, noise=0.5))
    assert f.data == p and f.crc_ok is True
    assert f.meta["long"] == (n > 25)
    assert f.meta["csp"]["destination"] == 6 and f.meta["csp"]["source"] == 11


@pytest.mark.parametrize("chunk", CHUNKINGS)
def test_burst_any_chunking(chunk, rng):
    ps = [packet(rng, n) for n in (10, 86, 3, 40)]
    bits = np.concatenate([noise_bits(rng, 20),
                           get(NAME).make_framer(preamble_bytes=4).frames(ps, gap_bits=16)])
    frames = run(get(NAME).make_deframer(), soft(bits, rng, noise=0.6), chunk)
    assert [f.data for f in frames] == ps
    ends = [f.end_symbol for f in frames]
    assert ends == sorted(ends)


def test_inverted_polarity(rng):
    p = packet(rng, 40)
    (f,) = run(get(NAME).make_deframer(), soft(framed(p), invert=True))
    assert f.data == p and f.inverted


def test_wrong_fsm_falls_back_to_the_other_size(rng):
    p = packet(rng, 12)                      # a short frame...
    bits = framed(p)
    bits[HEAD - 8:HEAD] = np.unpackbits(np.array([FSM_LONG], np.uint8))    # ...marked long
    (f,) = run(get(NAME).make_deframer(), soft(bits))
    assert f.data == p and f.meta["long"] is False


def test_viterbi_and_rs_correct_errors(rng):
    p = packet(rng, 86)
    bits = framed(p)
    errs = HEAD + rng.choice(1996, 60, replace=False)       # 3 % of the coded symbols
    (f,) = run(get(NAME).make_deframer(), soft(flip(bits, errs)))
    assert f.data == p


def test_length_field_beyond_the_frame_is_reported(rng):
    data = (500).to_bytes(2, "big") + packet(rng, 25)          # 31 bytes: a short frame
    cw = fec.ccsds_rs(dual_basis=False).encode_codeword(np.frombuffer(data, np.uint8))
    coded = fec.conv_encode(np.unpackbits(fec.ccsds_randomize(cw)), "CCSDS", terminate=True)
    head = np.unpackbits(np.frombuffer(SYNC.to_bytes(6, "big") + bytes([FSM_SHORT]), np.uint8))
    (f,) = run(get(NAME).make_deframer(), soft(np.concatenate([head, coded, np.zeros(4, np.uint8)])))
    assert f.meta["length_field"] == 500 and f.data == data[2:]


def test_bad_arguments(rng):
    with pytest.raises(InputError):
        get(NAME).make_framer().frame(b"\x01\x02")
    with pytest.raises(InputError):
        get(NAME).make_framer().frame(packet(rng, 87))
    with pytest.raises(InputError):
        get(NAME).make_framer(size="short").frame(packet(rng, 26))
    with pytest.raises(InputError):
        get(NAME).make_framer(size="medium")


@settings(max_examples=40, deadline=None)
@given(garbage_streams, st.integers(1, 5000))
def test_fuzz_garbage_gives_nothing(bits, chunk):
    assert run(get(NAME).make_deframer(), soft(bits), chunk) == []


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 1995), st.integers(0, 2**32 - 1))
def test_fuzz_truncated_or_garbage_after_sync(cut, seed):
    rng = np.random.default_rng(seed)
    good = framed(packet(rng, 86))
    assert run(get(NAME).make_deframer(), soft(good[:HEAD + cut])) == []
    garbage = np.concatenate([good[:HEAD], noise_bits(rng, 2100)])
    assert run(get(NAME).make_deframer(), soft(garbage)) == []


@pytest.mark.parametrize("rec", recordings(NAME))
def test_corpus_recording(corpus, rec):
    assert rec is not None
    frames = decode_recording(corpus, rec, {NAME})
    assert all(f["crc_ok"] for f in frames)
    assert len(frames) >= int(rec["reference_frames"]), \
        f"{rec['file']}: {len(frames)} frames, reference {rec['reference_frames']}"
    for f in frames:
        assert "length_field" not in f          # the length field fits: a consistent packet

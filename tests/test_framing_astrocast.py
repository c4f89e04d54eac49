"""Astrocast FX.25 framings (NRZ-I and NRZ): correlation tag, RS dual basis, unstuffed AX.25."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from _custom_framing import (CHUNKINGS, decode_recording, flip, garbage_streams, noise_bits,
                             recordings, run, soft)
from groundseg.dsp import fec, hdlc
from groundseg.errors import InputError
from groundseg.framing import get
from groundseg.framing.astrocast import TAG, TAG_FX25, find_ax25
from groundseg.framing.ax25 import ui_frame

NRZI = "Astrocast FX.25 NRZ-I"
NRZ = "Astrocast FX.25 NRZ"
BOTH = [NRZI, NRZ]
PRE = 2                                  # preamble flags in the tests
TAG_END = 8 * PRE + 64


def ax25(rng, n=60):
    return ui_frame("CQ", "HB9GSF", rng.integers(0, 256, n, dtype=np.uint8).tobytes())


def framed(name, frame, rng=None, lead=0):
    bits = get(name).make_framer(preamble_flags=PRE).frame(frame)
    if rng is None or not lead:
        return bits
    return np.concatenate([noise_bits(rng, lead), bits])


def nrz_view(name, bits):
    """The channel bits as the NRZ variant would have sent them (undo NRZ-I)."""
    return fec.differential_decode(bits, 0, invert=True) if name == NRZI else bits


def test_tag_is_fx25_tag_05_sent_lsb_first():
    assert int(format(TAG, "064b")[::-1], 2) == TAG_FX25 == 0x6E260B1AC5835FAE


@pytest.mark.parametrize("name", BOTH)
def test_layout(name, rng):
    frame = ax25(rng)
    bits = nrz_view(name, framed(name, frame))
    assert int("".join(map(str, bits[8 * PRE:TAG_END])), 2) == TAG
    cw_bits = bits[TAG_END:TAG_END + 8 * 255].reshape(-1, 8)[:, ::-1]      # LSB-first bytes
    cw = np.packbits(cw_bits, axis=1).reshape(-1)
    data, n = fec.ccsds_rs(dual_basis=True).decode(cw)
    assert n == 0
    data = data.tobytes()
    assert data[0] == 0x7E and data[1:1 + len(frame)] == frame
    assert hdlc.check_fcs(data[1:1 + len(frame) + 2]) and data[len(frame) + 3] == 0x7E


def test_find_ax25_skips_flag_bytes_inside_the_frame():
    frame = ui_frame("CQ", "HB9GSF", b"a\x7eb\x7e\x7ec")
    inner = b"\x7e" + hdlc.append_fcs(frame) + b"\x7e" * 20
    assert find_ax25(inner)[0] == frame
    assert find_ax25(b"\x00" + inner[1:]) is None
    assert find_ax25(b"\x7e" + frame + b"\x00\x00\x7e") is None


@pytest.mark.parametrize("name", BOTH)
@pytest.mark.parametrize("chunk", CHUNKINGS)
def test_round_trip_any_chunking(name, chunk, rng):
    frames_in = [ax25(rng, n) for n in (1, 100, 203)]
    fr = get(name).make_framer(preamble_flags=4)
    bits = np.concatenate([noise_bits(rng, 50), fr.frames(frames_in, gap_bits=30)])
    frames = run(get(name).make_deframer(), soft(bits, rng, noise=0.3), chunk)
    assert [f.data for f in frames] == frames_in
    assert all(f.crc_ok and f.meta["ax25"]["src"] == "HB9GSF" for f in frames)


@pytest.mark.parametrize("name", BOTH)
def test_inverted_polarity(name, rng):
    frame = ax25(rng)
    (f,) = run(get(name).make_deframer(), soft(framed(name, frame, rng, 40), invert=True))
    assert f.data == frame
    assert f.inverted == (name == NRZ)      # NRZ-I does not see the polarity


@pytest.mark.parametrize("nerr", [1, 16])
def test_corrects_up_to_16_byte_errors(nerr, rng):
    frame = ax25(rng)
    bits = nrz_view(NRZI, framed(NRZI, frame))
    byte_pos = rng.choice(255, nerr, replace=False)
    bad = flip(bits, [TAG_END + 8 * b + 2 for b in byte_pos])
    (f,) = run(get(NRZ).make_deframer(erasures=False), soft(bad))
    assert f.data == frame and f.corrected == nerr


def test_17_byte_errors_are_not_a_frame(rng):
    frame = ax25(rng)
    bits = framed(NRZ, frame)
    bad = flip(bits, [TAG_END + 8 * b + 2 for b in range(0, 17 * 13, 13)])
    assert run(get(NRZ).make_deframer(erasures=False), soft(bad)) == []


def test_nrz_and_nrzi_do_not_decode_each_other(rng):
    frame = ax25(rng)
    assert run(get(NRZ).make_deframer(), soft(framed(NRZI, frame, rng, 20))) == []
    assert run(get(NRZI).make_deframer(), soft(framed(NRZ, frame, rng, 20))) == []


def test_bad_arguments():
    with pytest.raises(InputError):
        get(NRZI).make_framer().frame(b"short")
    with pytest.raises(InputError):
        get(NRZI).make_framer().frame(bytes(300))
    with pytest.raises(InputError):
        get(NRZ).make_deframer(max_sync_errors=40)


@pytest.mark.parametrize("name", BOTH)
@settings(max_examples=40, deadline=None)
@given(bits=garbage_streams, chunk=st.integers(1, 5000))
def test_fuzz_garbage_gives_nothing(name, bits, chunk):
    assert run(get(name).make_deframer(), soft(bits), chunk) == []


@pytest.mark.parametrize("name", BOTH)
@settings(max_examples=30, deadline=None)
@given(cut=st.integers(0, 8 * 255 - 1), seed=st.integers(0, 2**32 - 1))
def test_fuzz_truncated_or_garbage_after_tag(name, cut, seed):
    rng = np.random.default_rng(seed)
    good = framed(name, ax25(rng))
    assert run(get(name).make_deframer(), soft(good[:TAG_END + cut])) == []
    garbage = np.concatenate([good[:TAG_END], noise_bits(rng, 8 * 255)])
    assert run(get(name).make_deframer(), soft(garbage)) == []


@pytest.mark.parametrize("rec", recordings(NRZI))
def test_corpus_recording(corpus, rec):
    assert rec is not None
    frames = decode_recording(corpus, rec, {NRZI, NRZ})
    assert all(f["crc_ok"] for f in frames)
    # the file's reference count includes the 9k6 CCSDS transmitter: ours alone must reach it
    # (astrocast.wav: 2 FX.25 frames, plain-text GPRMC beacons; astrocast_9k6.wav: none)
    assert len(frames) >= int(rec["reference_frames"])
    for f in frames:
        assert b"$GPRMC" in bytes.fromhex(f["hex"])

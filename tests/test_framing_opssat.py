"""OPS-SAT framing: AX.25/HDLC (G3RUH, NRZ-I) carrying a randomized RS codeword."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from _custom_framing import (CHUNKINGS, decode_recording, garbage_streams, noise_bits, recordings,
                             run, soft)
from groundseg.dsp import fec, hdlc
from groundseg.errors import InputError
from groundseg.framing import get
from groundseg.framing.ax25 import ui_frame
from groundseg.framing.opssat import info_field

NAME = "OPS-SAT"


def data(rng, n=62):
    return rng.integers(0, 256, n, dtype=np.uint8).tobytes()


def hdlc_frames(bits):
    """The HDLC frames (without FCS) in channel bits, as an AX.25 G3RUH receiver sees them."""
    dec = hdlc.HdlcDecoder(True, 17, 400)
    return [d[:-2] for d, *_ in dec.process(soft(bits))]


def test_layout(rng):
    d = data(rng)
    (frame,) = hdlc_frames(get(NAME).make_framer().frame(d))
    hdr, info = info_field(frame)
    assert (hdr["dst"], hdr["src"], hdr["control"], hdr["pid"]) == ("DL0ESA", "DP0OPS", 3, 0xF0)
    assert len(info) == len(d) + 32
    cw = fec.ccsds_derandomize(np.frombuffer(info, np.uint8))
    out, n = fec.ccsds_rs(dual_basis=False).decode(cw)
    assert n == 0 and out.tobytes() == d


@pytest.mark.parametrize("n", [1, 62, 223])
@pytest.mark.parametrize("chunk", CHUNKINGS)
def test_round_trip(n, chunk, rng):
    ds = [data(rng, n), data(rng, 30)]
    bits = np.concatenate([noise_bits(rng, 40), get(NAME).make_framer().frames(ds)])
    frames = run(get(NAME).make_deframer(), soft(bits, rng, noise=0.25), chunk)
    assert [f.data for f in frames] == ds
    assert all(f.crc_ok and f.meta["fcs_ok"] and f.meta["ax25"]["src"] == "DP0OPS"
               for f in frames)


def test_inverted_polarity(rng):
    d = data(rng)
    (f,) = run(get(NAME).make_deframer(), soft(get(NAME).make_framer().frame(d), invert=True))
    assert f.data == d


def _frame_with_byte_errors(d: bytes, nerr: int, rng) -> np.ndarray:
    """Channel bits of an OPS-SAT frame whose codeword has ``nerr`` byte errors and whose FCS
    (computed over the damaged frame, then spoilt) fails, as after errors on the air."""
    cw = bytearray(fec.ccsds_randomize(fec.ccsds_rs(dual_basis=False).encode_codeword(
        np.frombuffer(d, np.uint8))).tobytes())
    for pos in rng.choice(len(cw), nerr, replace=False):
        cw[pos] ^= 0x10
    frame = hdlc.append_fcs(ui_frame("DL0ESA", "DP0OPS", bytes(cw)))
    frame = frame[:-1] + bytes([frame[-1] ^ 0xFF])
    return hdlc.HdlcEncoder(True).encode(frame, 8, 2)


@pytest.mark.parametrize("nerr", [1, 16])
def test_rs_corrects_what_the_fcs_rejects(nerr, rng):
    d = data(rng, 100)
    (f,) = run(get(NAME).make_deframer(), soft(_frame_with_byte_errors(d, nerr, rng)))
    assert f.data == d and f.corrected == nerr and f.meta["fcs_ok"] is False


def test_17_byte_errors_are_too_many(rng):
    d = data(rng, 100)
    assert run(get(NAME).make_deframer(), soft(_frame_with_byte_errors(d, 17, rng))) == []


@pytest.mark.parametrize("extra", [1, 3, 16])
def test_bytes_after_the_codeword_do_not_turn_parity_into_data(extra, rng):
    # the RS code is cyclic: codeword + extra bytes "decodes" to data + parity bytes
    d = data(rng, 62)
    cw = fec.ccsds_randomize(fec.ccsds_rs(dual_basis=False).encode_codeword(
        np.frombuffer(d, np.uint8))).tobytes()
    tail = bytes(rng.integers(1, 256, extra, dtype=np.uint8))
    frame = hdlc.append_fcs(ui_frame("DL0ESA", "DP0OPS", cw + tail))
    (f,) = run(get(NAME).make_deframer(), soft(hdlc.HdlcEncoder(True).encode(frame, 8, 2)))
    assert f.data == d


def test_plain_ax25_frames_are_not_opssat_frames(rng):
    bits = hdlc.HdlcEncoder(True).encode(hdlc.append_fcs(ui_frame("CQ", "N0CALL", data(rng, 80))),
                                         8, 2)
    deframer = get(NAME).make_deframer()
    assert run(deframer, soft(bits)) == [] and deframer.stats["rs_failed"] == 1


def test_bad_arguments():
    with pytest.raises(InputError):
        get(NAME).make_framer().frame(b"")
    with pytest.raises(InputError):
        get(NAME).make_framer().frame(bytes(224))
    with pytest.raises(InputError):
        get(NAME).make_framer(src="NOT A CALL")


@settings(max_examples=60, deadline=None)
@given(garbage_streams, st.integers(1, 5000))
def test_fuzz_garbage_gives_nothing(bits, chunk):
    assert run(get(NAME).make_deframer(), soft(bits), chunk) == []


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 900), st.integers(0, 2**32 - 1))
def test_fuzz_truncated_frames(cut, seed):
    rng = np.random.default_rng(seed)
    good = get(NAME).make_framer(preamble_flags=4, postamble_flags=1).frame(data(rng))
    assert run(get(NAME).make_deframer(), soft(good[:32 + cut])) == []


@pytest.mark.parametrize("rec", recordings(NAME))
def test_corpus_recording(corpus, rec):
    assert rec is not None
    frames = decode_recording(corpus, rec, {NAME})
    assert all(f["crc_ok"] for f in frames)
    assert len(frames) >= int(rec["reference_frames"]), \
        f"{rec['file']}: {len(frames)} frames, reference {rec['reference_frames']}"
    for f in frames:
        assert f["ax25"]["src"] == "DP0OPS"

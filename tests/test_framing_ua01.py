"""UA01 framing: AX.25 G3RUH with one more NRZI encoding."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from groundseg.dsp import fec
from groundseg.framing import get
from groundseg.framing._sync import bits_from_bytes
from groundseg.framing.ax25 import ui_frame
from test_framing_ax100 import _recordings, decode_recording_frames, run, soft

NAME = "UA01"


def frame(rng, n=40):
    return ui_frame("QST-14", "QBUA01", rng.integers(0, 256, n, dtype=np.uint8).tobytes())


def test_line_coding_is_ax25_g3ruh_plus_one_nrzi(rng):
    """UA01 channel bits NRZI-decoded once are standard AX.25 G3RUH bits."""
    p = frame(rng)
    ua = get(NAME).make_framer().frame(p)
    std = fec.DifferentialDecoder(invert=True).decode(ua)
    assert np.array_equal(std, get("AX.25 G3RUH").make_framer().frame(p))
    # and the plain AX.25 G3RUH deframer does not decode UA01 bits
    assert run(get("AX.25 G3RUH").make_deframer(repair_flips=0), soft(ua)) == []


@pytest.mark.parametrize("chunk", [1, 11, 500, None])
@pytest.mark.parametrize("sign", [1, -1])
def test_round_trip_any_chunking_either_polarity(chunk, sign, rng):
    ps = [frame(rng, n) for n in (0, 40, 200)]
    fr = get(NAME).make_framer()
    bits = np.concatenate([rng.integers(0, 2, 31).astype(np.uint8)] + [fr.frame(p) for p in ps])
    frames = run(get(NAME).make_deframer(), sign * soft(bits, rng, noise=0.3), chunk)
    assert [f.data for f in frames] == ps
    assert all(f.crc_ok and f.meta["ax25"]["src"] == "QBUA01" for f in frames)


def test_soft_repair_fixes_a_weak_channel_error(rng):
    p = frame(rng)
    s = soft(get(NAME).make_framer().frame(p))
    s[16 * 8 + 100] *= -0.2               # one weak wrong channel symbol inside the frame
    assert run(get(NAME).make_deframer(repair_flips=0), s.copy()) == []
    (f,) = run(get(NAME).make_deframer(), s)
    assert f.data == p and f.repaired_bits > 0


# --- fuzz -----------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=600))
def test_random_bits_give_no_frame(data):
    assert run(get(NAME).make_deframer(), soft(bits_from_bytes(data))) == []


def test_constant_streams_and_truncated_frames(rng):
    for v in (0.0, 1.0, -1.0):
        assert run(get(NAME).make_deframer(), np.full(4000, v, np.float32)) == []
    bits = get(NAME).make_framer().frame(frame(rng))
    for cut in (50, 200, len(bits) - 40):
        assert run(get(NAME).make_deframer(), soft(bits[:cut]), 64) == []


# --- corpus ---------------------------------------------------------------------

@pytest.mark.parametrize("rec", _recordings(NAME))
def test_corpus_recording(corpus, rec):
    assert rec is not None
    frames = decode_recording_frames(corpus, rec, {NAME})
    assert all(f["crc_ok"] and f["ax25"]["src"] == "QBUA01" for f in frames)
    assert len(frames) >= int(rec["reference_frames"]), \
        f"{rec['file']}: {len(frames)} frames, reference {rec['reference_frames']}"

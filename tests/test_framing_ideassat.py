"""IDEASSat framing: NRZI, UART-like bytes between 0x7E flag pairs, no CRC."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from groundseg.errors import InputError
from groundseg.framing import get
from groundseg.framing.ideassat import SYNC_BITS, uart_bits
from groundseg.framing._sync import bits_from_bytes
from test_framing_ax100 import _recordings, decode_recording_frames, run, soft

NAME = "IDEASSat"
HEADER = b"BN0CU 0BN0IDA0\xf0"          # what the satellite puts at the front of every frame


def payload(rng, seg=1):
    return HEADER + bytes((seg,)) + rng.integers(0, 256, 22, dtype=np.uint8).tobytes()


def nrzi_decode(bits):
    return (1 ^ (bits[1:] ^ bits[:-1])).astype(np.uint8)


def test_sync_word_and_uart_layout():
    assert "".join(map(str, SYNC_BITS)) == "00111111010011111101"
    assert "".join(map(str, uart_bits(b"\xa5"))) == "0101001011"
    bits = get(NAME).make_framer().frame(bytes(range(38)))
    assert len(bits) == 20 + 380 + 20
    d = nrzi_decode(np.concatenate([[0], bits]))       # encoder starts from 0
    assert np.array_equal(d[:20], SYNC_BITS) and np.array_equal(d[-20:], SYNC_BITS)
    words = d[20:400].reshape(38, 10)
    assert not words[:, 0].any() and words[:, 9].all()
    assert np.packbits(words[:, 1:9]).tobytes() == bytes(range(38))


def test_frame_size_is_enforced():
    with pytest.raises(InputError):
        get(NAME).make_framer().frame(bytes(37))
    with pytest.raises(InputError):
        get(NAME).make_framer(frame_bytes=0)
    (f,) = run(get(NAME).make_deframer(frame_bytes=5),
               soft(get(NAME).make_framer(frame_bytes=5).frame(b"hello")))
    assert f.data == b"hello"


@pytest.mark.parametrize("chunk", [1, 13, 400, None])
@pytest.mark.parametrize("sign", [1, -1])
def test_burst_round_trip_any_chunking_either_polarity(chunk, sign, rng):
    ps = [payload(rng, k) for k in range(9)]
    bits = np.concatenate([rng.integers(0, 2, 37).astype(np.uint8),
                           get(NAME).make_framer().frames(ps), rng.integers(0, 2, 50).astype(np.uint8)])
    s = sign * soft(bits, rng, noise=0.3)
    frames = run(get(NAME).make_deframer(), s, chunk)
    assert [f.data for f in frames] == ps
    assert all(f.crc_ok is None and f.corrected is None and not f.inverted for f in frames)
    assert [f.meta["uart_errors"] for f in frames] == [0] * 9
    # frames end where the next flag pair starts: 37 + 20 + 400 k + 380
    assert [f.end_symbol for f in frames] == [37 + 20 + 400 * k + 380 for k in range(9)]


def test_flywheel_recovers_frames_with_broken_flags(rng):
    ps = [payload(rng, k) for k in range(3)]
    s = soft(get(NAME).make_framer().frames(ps))
    s[400 + np.array([1, 5, 11, 17])] *= -1      # the second pair of flags ruined
    frames = run(get(NAME).make_deframer(), s)
    assert [f.data for f in frames] == ps
    assert [f.meta["flywheel"] for f in frames] == [False, True, False]
    frames = run(get(NAME).make_deframer(flywheel=False), s)
    assert [f.data for f in frames] == [ps[0], ps[2]]


def test_sync_error_tolerance(rng):
    p = payload(rng)
    s = soft(get(NAME).make_framer().frame(p))
    s[7] *= -1                                   # one channel error: two flag bits wrong after NRZI
    assert run(get(NAME).make_deframer(), s) == []
    (f,) = run(get(NAME).make_deframer(max_sync_errors=2), s)
    assert f.data == p and f.meta["sync_errors"] == 2


def test_flag_look_alike_inside_a_frame_is_not_a_frame(rng):
    """A payload holding 7E 7E: the frame after it is not cut short by a false frame."""
    ps = [HEADER + bytes(5) + b"\x7e\x7e" + bytes(16), payload(rng, 2)]
    frames = run(get(NAME).make_deframer(), soft(get(NAME).make_framer().frames(ps)))
    assert [f.data for f in frames] == ps


def test_start_stop_bit_violations_reject_the_frame(rng):
    p = payload(rng)
    bits = get(NAME).make_framer().frame(p)
    d = bits.copy()
    # flip the channel bits so that after NRZI only a stop bit changes: flip a run to the end
    d[20 + 10 * 7 + 9:] ^= 1
    assert run(get(NAME).make_deframer(), soft(d)) == []
    (f,) = run(get(NAME).make_deframer(keep_invalid=True), soft(d))
    assert f.crc_ok is False and f.meta["uart_errors"] == 1
    (g,) = run(get(NAME).make_deframer(max_uart_errors=1), soft(d))
    assert g.crc_ok is None and g.data == p


def test_repeated_flag_pairs_start_the_frame_at_the_last(rng):
    p = payload(rng)
    enc = get(NAME).make_framer()
    raw = np.concatenate([SYNC_BITS, SYNC_BITS, SYNC_BITS, uart_bits(p), SYNC_BITS])
    bits = enc._nrzi.encode(raw)
    (f,) = run(get(NAME).make_deframer(), soft(bits))
    assert f.data == p


# --- fuzz -----------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=800))
def test_random_bits_give_no_frame(data):
    assert run(get(NAME).make_deframer(), soft(bits_from_bytes(data))) == []


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=1, max_size=200))
def test_flags_followed_by_garbage_give_no_frame(garbage):
    bits = np.concatenate([SYNC_BITS, bits_from_bytes(garbage)])
    enc = get(NAME).make_framer()._nrzi
    assert run(get(NAME).make_deframer(), soft(enc.encode(bits))) == []


def test_constant_streams_and_truncated_frames(rng):
    for v in (0.0, 1.0, -1.0):
        assert run(get(NAME).make_deframer(), np.full(5000, v, np.float32)) == []
    bits = get(NAME).make_framer().frame(payload(rng))
    for cut in (10, 25, 200, 399):
        assert run(get(NAME).make_deframer(), soft(bits[:cut]), 17) == []


# --- corpus ---------------------------------------------------------------------

EXPECTED = {"ideassat.wav": 17}      # measured (the reference decoder gets 2)


@pytest.mark.parametrize("rec", _recordings(NAME))
def test_corpus_recording(corpus, rec):
    assert rec is not None
    frames = decode_recording_frames(corpus, rec, {NAME})
    # no CRC: every frame must carry the satellite's header and a segment number 0..8
    for f in frames:
        data = bytes.fromhex(f["hex"])
        assert data.startswith(HEADER) and data[15] <= 8 and f["uart_errors"] == 0
    want = max(int(rec["reference_frames"]), EXPECTED.get(rec["file"], 0))
    assert len(frames) >= want, f"{rec['file']}: {len(frames)} frames, want {want}"

"""GOMspace U482C framing: Golay length field with flags, optional Viterbi, randomizer, RS."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from groundseg.errors import InputError
from groundseg.framing import get
from groundseg.framing._gomspace import SYNC_U482C, csp_crc32c, golay_encode_bits, make_csp_header
from groundseg.framing._sync import bits_from_bytes, bits_from_int
from test_framing_ax100 import _recordings, decode_recording_frames, run, soft

U = "U482C"
HDR = make_csp_header(priority=3, source=2, destination=21, destination_port=17, source_port=52)
FLAGS = list(itertools.product([False, True], repeat=3))     # (viterbi, scrambler, rs)


def payload(n, rng):
    base = HDR if n >= 4 else b""
    return (base + rng.integers(0, 256, max(0, n - len(base)), dtype=np.uint8).tobytes())[:n]


def frame_bits(p, rng, gap=64, **opts):
    fr = get(U).make_framer(**opts)
    return np.concatenate([rng.integers(0, 2, gap).astype(np.uint8), fr.frame(p),
                           rng.integers(0, 2, gap).astype(np.uint8)])


def test_layout_and_flags():
    fr = get(U).make_framer(viterbi=True, scrambler=True, rs=True, preamble_bytes=2)
    p = bytes(range(23))
    bits = fr.frame(p)
    assert np.packbits(bits[:48]).tobytes() == b"\x55\x55\xc3\xaa\x66\x55"
    field = int("".join(map(str, bits[48:72])), 2) & 0xFFF
    # AU02's length field: 0x770 = Viterbi, randomizer, RS; 112 bytes = 2 * (23 + 32) + 2
    assert field == 0x770
    assert len(bits) == 72 + 8 * 112


@pytest.mark.parametrize("viterbi,scrambler,rs", FLAGS)
def test_round_trip_every_flag_combination(viterbi, scrambler, rs, rng):
    for n in (1, 5, 40, 94 if viterbi and rs else 120):
        p = payload(n, rng)
        opts = dict(viterbi=viterbi, scrambler=scrambler, rs=rs)
        s = soft(frame_bits(p, rng, **opts))
        if not (rs or viterbi):      # nothing checks these: only on request
            assert run(get(U).make_deframer(), s, 97) == []
        (f,) = run(get(U).make_deframer(accept_unchecked=True), s, 97)
        assert f.data == p
        assert f.meta["flags"] == {"viterbi": viterbi, "scrambler": scrambler, "rs": rs}
        assert f.crc_ok is (True if rs else None)
        if rs:
            assert f.corrected == 0 and f.meta["rs_errors"] == 0
        if viterbi:
            assert f.meta["conv_errors"] == 0


@pytest.mark.parametrize("viterbi", [False, True])
def test_maximum_lengths(viterbi, rng):
    fr = get(U).make_framer(viterbi=viterbi)
    top = 94 if viterbi else 223
    p = payload(top, rng)
    (f,) = run(get(U).make_deframer(), soft(frame_bits(p, rng, viterbi=viterbi)))
    assert f.data == p
    with pytest.raises(InputError):
        fr.frame(bytes(top + 1))


@pytest.mark.parametrize("nerr", [4, 16])
def test_rs_corrects_up_to_16_byte_errors(nerr, rng):
    p = payload(100, rng)
    bits = get(U).make_framer(preamble_bytes=1).frame(p)
    body = 8 + 32 + 24
    bad = bits.copy()
    for q in rng.choice(132, nerr, replace=False):
        bad[body + 8 * q: body + 8 * q + 8] ^= np.unpackbits(np.array([rng.integers(1, 256)], np.uint8))
    (f,) = run(get(U).make_deframer(erasures=False), soft(bad))
    assert f.data == p and f.corrected == nerr


def test_viterbi_corrects_channel_bit_errors(rng):
    """4 % of the coded channel bits flipped: the convolutional code alone removes them."""
    p = payload(80, rng)
    bits = get(U).make_framer(viterbi=True, preamble_bytes=1).frame(p)
    bad = bits.copy()
    body = 8 + 32 + 24
    coded = len(bits) - body - 4                     # the last 4 symbols are padding
    idx = body + rng.choice(coded, int(0.04 * coded), replace=False)
    bad[idx] ^= 1
    (f,) = run(get(U).make_deframer(), soft(bad))
    assert f.data == p and f.meta["conv_errors"] == len(idx) and f.corrected == 0


@pytest.mark.parametrize("nerr", [1, 2, 3])
def test_golay_length_field_errors(nerr, rng):
    p = payload(60, rng)
    bits = get(U).make_framer(viterbi=True, preamble_bytes=1).frame(p)
    bad = bits.copy()
    bad[40 + rng.choice(24, nerr, replace=False)] ^= 1
    (f,) = run(get(U).make_deframer(), soft(bad))
    assert f.data == p and f.meta["golay_errors"] == nerr


def test_sync_word_tolerates_six_bit_errors(rng):
    p = payload(40, rng)
    bits = get(U).make_framer(viterbi=True, preamble_bytes=1).frame(p)
    s = soft(bits)
    s[8 + np.array([0, 4, 9, 17, 25, 31])] *= -1
    (f,) = run(get(U).make_deframer(), -s)
    assert f.data == p and f.inverted
    s[8 + 12] *= -1
    assert run(get(U).make_deframer(), s) == []


def test_frames_without_check_need_a_clean_length_field(rng):
    p = payload(60, rng)
    bits = get(U).make_framer(viterbi=True, rs=False, scrambler=True, preamble_bytes=1).frame(p)
    (f,) = run(get(U).make_deframer(), soft(bits))
    assert f.data == p and f.crc_ok is None
    bad = bits.copy()
    bad[45] ^= 1
    assert run(get(U).make_deframer(), soft(bad)) == []
    (g,) = run(get(U).make_deframer(keep_invalid=True), soft(bad))
    assert g.crc_ok is False and g.data == p


def test_unchecked_frames_need_a_plausible_convolutional_decode(rng):
    """Random symbols behind a clean length field flagging Viterbi only: rejected."""
    field = golay_encode_bits(0x100 | 120)
    noise = rng.integers(0, 2, 8 * 120).astype(np.uint8)
    bits = np.concatenate([bits_from_bytes(b"\x55\x55"), bits_from_int(SYNC_U482C, 32), field, noise])
    assert run(get(U).make_deframer(), soft(bits)) == []
    (g,) = run(get(U).make_deframer(keep_invalid=True), soft(bits))
    assert g.crc_ok is False and g.meta["conv_errors"] > 0.08 * 2 * (8 * 59 + 6)


def test_csp_crc_without_rs_is_the_check(rng):
    p = payload(60, rng)
    bits = get(U).make_framer(rs=False, csp_crc=True, preamble_bytes=1).frame(p)
    bad = bits.copy()
    bad[45] ^= 1                                   # length field error: the CRC still vouches
    (f,) = run(get(U).make_deframer(), soft(bad))
    assert f.data == p and f.crc_ok is True and f.meta["csp_crc"] == "data little-endian"
    worse = bad.copy()
    worse[-20] ^= 1                                 # payload bit error, nothing corrects it
    assert run(get(U).make_deframer(), soft(worse)) == []


def test_aisat_style_crc_is_stripped(rng):
    p = payload(168, rng)
    s = soft(frame_bits(p, rng, csp_crc=True))
    (f,) = run(get(U).make_deframer(), s)
    assert f.data == p and f.meta["csp_crc"] == "data little-endian"
    assert csp_crc32c(p, "data", "little") != csp_crc32c(p, "data", "big")


@pytest.mark.parametrize("chunk", [1, 9, 200, 3000, None])
def test_burst_any_chunking_inverted_and_noisy(chunk, rng):
    opts = [dict(viterbi=True), dict(), dict(viterbi=True, scrambler=False),
            dict(viterbi=True, rs=False, csp_crc=True)]
    ps = [payload(n, rng) for n in (30, 200, 90, 50)]
    parts = [rng.integers(0, 2, 33).astype(np.uint8)]
    for p, o in zip(ps, opts):
        parts += [get(U).make_framer(**o).frame(p), rng.integers(0, 2, 41).astype(np.uint8)]
    s = soft(np.concatenate(parts), rng, noise=0.35)
    for sign in (1, -1):
        frames = run(get(U).make_deframer(), sign * s, chunk)
        assert [f.data for f in frames] == ps
        assert all(f.inverted == (sign < 0) for f in frames)


def test_viterbi_rs_awgn(rng):
    """Eb/N0 6 dB (Es/N0 3 dB: 2.3 % raw bit errors, too many for RS alone): all frames decode."""
    ps = [payload(90, rng) for _ in range(4)]
    fr = get(U).make_framer(viterbi=True)
    bits = np.concatenate([fr.frame(p) for p in ps])
    sigma = np.sqrt(1 / (2 * 10 ** ((6.0 - 3.01) / 10)))
    s = soft(bits, rng, noise=sigma)
    frames = run(get(U).make_deframer(), s, 2048)
    assert [f.data for f in frames] == ps
    assert sum(f.meta["conv_errors"] for f in frames) > 0


# --- fuzz -----------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=600))
def test_random_bits_give_no_frame(data):
    assert run(get(U).make_deframer(), soft(bits_from_bytes(data))) == []


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 0xFFF), st.binary(max_size=300))
def test_sync_and_any_length_field_with_garbage(field, garbage):
    bits = np.concatenate([bits_from_bytes(b"\x55" * 2), bits_from_int(SYNC_U482C, 32),
                           golay_encode_bits(field | 0x400), bits_from_bytes(garbage)])
    # RS flag set: garbage never passes
    assert run(get(U).make_deframer(), soft(bits)) == []


def test_constant_streams_and_truncated_frames(rng):
    for v in (0.0, 1.0, -1.0):
        assert run(get(U).make_deframer(), np.full(20000, v, np.float32)) == []
    bits = get(U).make_framer(viterbi=True).frame(payload(80, rng))
    for cut in (70, 100, 500, len(bits) - 16 - 1):
        assert run(get(U).make_deframer(), soft(bits[:cut]), 64) == []


# --- corpus ---------------------------------------------------------------------

@pytest.mark.parametrize("rec", _recordings(U))
def test_corpus_recording(corpus, rec):
    assert rec is not None
    frames = decode_recording_frames(corpus, rec, {U})
    assert all(f["crc_ok"] for f in frames)
    assert len(frames) >= int(rec["reference_frames"]), \
        f"{rec['file']}: {len(frames)} frames, reference {rec['reference_frames']}"

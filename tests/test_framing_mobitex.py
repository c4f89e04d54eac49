"""Mobitex framings: "Mobitex", "Mobitex-NX" and "BEESAT-9"."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from groundseg.errors import InputError
from groundseg.framing import get
from groundseg.framing._sync import bits_from_bytes, bits_from_int
from groundseg.framing.mobitex import (SYNC_MOBITEX, SYNC_NX, block_crc, callsign_crc, codeword,
                                       decode_words, interleave_index, scrambler_sequence)
from test_framing_ax100 import _recordings, decode_recording_frames, run, soft

MOB, NX, B9 = "Mobitex", "Mobitex-NX", "BEESAT-9"
HEAD = 32 + 16                               # bit sync (4 bytes) + frame sync


def payload(n, rng):
    return rng.integers(0, 256, n, dtype=np.uint8).tobytes()


def blocks_of(p):
    p = p + bytes(-len(p) % 18)
    return [p[i:i + 18] for i in range(0, len(p), 18)]


# --- facts ----------------------------------------------------------------------

def test_fec_code_facts():
    # the MX909A H matrix: byte 0x2C gets parity 1000 (first row's parity in the MSB)
    assert codeword(0x2C) == 0x2C8
    words = np.array([codeword(b) for b in range(256)])
    d = [bin(int(a) ^ int(b)).count("1") for i, a in enumerate(words) for b in words[i + 1:i + 40]]
    assert min(d) == 3                                           # single error correcting
    # every single-bit error of every codeword is corrected by the soft ML decoder
    for b in (0x00, 0x2C, 0xFF, 0x5A):
        for k in range(12):
            w = np.array([(codeword(b) >> (11 - i)) & 1 for i in range(12)], np.float32) * 2 - 1
            w[k] *= -1
            got, err = decode_words(w[None, :])
            assert got[0] == b and err[0] == 1


def test_scrambler_interleaver_and_crcs():
    seq = scrambler_sequence()
    assert seq[:9].all() and np.array_equal(seq[:511], seq[511:1022])       # 9-bit m-sequence
    assert all(seq[n + 9] == seq[n] ^ seq[n + 4] for n in range(600))
    idx = interleave_index()
    assert idx[0] == 0 and idx[1] == 12 and idx[20] == 1 and sorted(idx) == list(range(240))
    assert callsign_crc(b"DP0BEM") == bytes.fromhex("4df7")      # as BEESAT-9 sends it
    assert block_crc(b"123456789") == (0x906E).to_bytes(2, "big")  # CRC-16/X.25 check value


def test_frame_head_layout():
    bits = get(NX).make_framer(callsign="DP0BEM").frame(bytes(40))
    raw = np.packbits(bits[:HEAD + 24 + 64]).tobytes()
    assert raw[:4] == b"\xcc" * 4 and raw[4:6] == SYNC_NX.to_bytes(2, "big")
    c0, c1, fec = raw[6:9]
    assert c0 == (1 << 5) | 2 and c1 == 0                        # message type 1, 3 blocks
    assert (codeword(c0) & 15) << 4 | (codeword(c1) & 15) == fec
    assert raw[9:15] == b"DP0BEM" and raw[15:17] == bytes.fromhex("4df7")
    assert len(bits) == HEAD + 24 + 64 + 3 * 240
    assert np.packbits(get(MOB).make_framer().frame(b"x")[32:48]).tobytes() == b"\x57\x65"


def test_bad_arguments():
    with pytest.raises(InputError):
        get(MOB).make_framer().frame(bytes(18 * 32 + 1))
    with pytest.raises(InputError):
        get(MOB).make_framer().frame(b"")
    with pytest.raises(InputError):
        get(NX).make_framer()                                     # NX needs a callsign
    with pytest.raises(InputError):
        get(NX).make_deframer(callsign="TOOLONGCALL")
    with pytest.raises(InputError):
        get(B9).make_framer().frame(bytes(18 * 32 + 1))


# --- round trips ----------------------------------------------------------------

@pytest.mark.parametrize("name,opts", [(MOB, {}), (NX, {"callsign": "TUBIX"}), (B9, {})])
@pytest.mark.parametrize("n", [1, 18, 19, 200, 576])
def test_round_trip_blocks(name, opts, n, rng):
    p = payload(n, rng)
    bits = get(name).make_framer(**opts).frame(p)
    frames = run(get(name).make_deframer(), soft(bits))
    want = blocks_of(p) if name != B9 else blocks_of(p.ljust(576, b"\x00"))
    assert [f.data for f in frames] == want
    assert [f.meta["mobitex"]["block"] for f in frames] == list(range(len(want)))
    m = frames[0].meta["mobitex"]
    assert m["blocks"] == len(want) and m["frame_symbol"] == HEAD
    if name != MOB:
        assert m["callsign"] == opts.get("callsign", "DP0BEM")
    assert [f.end_symbol for f in frames] == [HEAD + 24 + (64 if name != MOB else 0) + 240 * (j + 1)
                                              for j in range(len(want))]


@pytest.mark.parametrize("chunk", [1, 5])
def test_short_frames_symbol_by_symbol(chunk, rng):
    ps = [payload(18, rng), payload(30, rng)]
    fr = get(MOB).make_framer()
    bits = np.concatenate([fr.frame(ps[0]), rng.integers(0, 2, 13).astype(np.uint8), fr.frame(ps[1])])
    frames = run(get(MOB).make_deframer(), -soft(bits, rng, noise=0.3), chunk)
    assert b"".join(f.data for f in frames) == ps[0] + ps[1].ljust(36, b"\x00")


@pytest.mark.parametrize("chunk", [31, 240, 3000, None])
@pytest.mark.parametrize("sign", [1, -1])
def test_burst_any_chunking_either_polarity(chunk, sign, rng):
    fr = get(B9).make_framer()
    ps = [payload(300, rng), payload(576, rng)]
    bits = np.concatenate([rng.integers(0, 2, 57).astype(np.uint8), fr.frame(ps[0]),
                           rng.integers(0, 2, 31).astype(np.uint8), fr.frame(ps[1])])
    frames = run(get(B9).make_deframer(), sign * soft(bits, rng, noise=0.35), chunk)
    assert b"".join(f.data for f in frames) == ps[0].ljust(576, b"\x00") + ps[1]
    assert all(f.inverted == (sign < 0) and f.crc_ok for f in frames)


def test_one_error_per_codeword_is_corrected(rng):
    """An error in 14 of the 20 codewords of every block: all fixed (more looks like noise)."""
    p = payload(90, rng)
    bits = get(MOB).make_framer().frame(p)
    bad = bits.copy()
    body = HEAD + 24
    idx = interleave_index()
    seq_pos = np.argsort(idx)                 # where coded bit m of a block is sent
    for j in range(5):
        for w in rng.choice(20, 14, replace=False):
            m = 12 * w + int(rng.integers(0, 12))
            bad[body + 240 * j + seq_pos[m]] ^= 1
    frames = run(get(MOB).make_deframer(), soft(bad))
    assert b"".join(f.data for f in frames) == p
    assert [f.corrected for f in frames] == [14] * 5
    # a 15th codeword in error in block 0: its CRC would pass, but it is not believed
    clean = [w for w in range(20)
             if np.array_equal(bad[body + seq_pos[12 * w:12 * w + 12]], bits[body + seq_pos[12 * w:12 * w + 12]])]
    bad[body + seq_pos[12 * clean[0]]] ^= 1
    frames = run(get(MOB).make_deframer(), soft(bad))
    assert [f.meta["mobitex"]["block"] for f in frames] == [1, 2, 3, 4]


def test_a_block_failing_its_crc_is_dropped_alone(rng):
    p = payload(90, rng)
    bits = get(MOB).make_framer().frame(p)
    bad = bits.copy()
    body = HEAD + 24
    bad[body + 240 * 2: body + 240 * 2 + 3] ^= 1          # 3 errors in codewords 0..2 of block 2... twice
    bad[body + 240 * 2 + 20: body + 240 * 2 + 23] ^= 1    # two errors in each of codewords 0..2
    frames = run(get(MOB).make_deframer(), soft(bad))
    assert [f.meta["mobitex"]["block"] for f in frames] == [0, 1, 3, 4]
    got = run(get(MOB).make_deframer(keep_invalid=True), soft(bad))
    assert [f.crc_ok for f in got if f.meta["mobitex"]["frame_symbol"] == HEAD] == \
        [True, True, False, True, True]


def test_truncated_frame_yields_the_blocks_received(rng):
    p = payload(18 * 6, rng)
    bits = get(MOB).make_framer().frame(p)
    cut = HEAD + 24 + 240 * 4 + 100
    frames = run(get(MOB).make_deframer(), soft(bits[:cut]), 500)
    assert [f.data for f in frames] == blocks_of(p)[:4]


def test_callsign_checks(rng):
    p = payload(40, rng)
    bits = get(NX).make_framer(callsign="DP0BEM").frame(p)
    s = soft(bits)
    cs = HEAD + 24
    s[cs + np.array([3, 17])] *= -0.2                 # 2 weak callsign errors: CRC repair finds them
    (f, g, h) = run(get(NX).make_deframer(), s.copy())
    assert f.meta["mobitex"]["callsign"] == "DP0BEM" and f.meta["mobitex"]["callsign_errors"] == 2
    assert run(get(NX).make_deframer(callsign="DP0BEM", callsign_errors=1), s.copy()) == []
    assert len(run(get(NX).make_deframer(callsign="DP0BEM"), s.copy())) == 3
    # a different satellite's frames are not BEESAT-9's
    other = soft(get(NX).make_framer(callsign="DP0TBN").frame(p))
    assert run(get(B9).make_deframer(callsign_errors=2), other) == []


def test_beesat9_ignores_the_block_count_of_the_control_byte(rng):
    p = payload(18 * 32, rng)
    s = soft(get(B9).make_framer().frame(p))
    s[HEAD:HEAD + 8] *= -1                             # control byte 0 destroyed
    frames = run(get(B9).make_deframer(), s)
    assert len(frames) == 32 and frames[0].meta["mobitex"]["blocks"] == 32


# --- fuzz -----------------------------------------------------------------------

@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=1000))
def test_random_bits_give_no_frame(data):
    for name in (MOB, NX, B9):
        assert run(get(name).make_deframer(), soft(bits_from_bytes(data))) == []


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 255), st.binary(max_size=600))
def test_sync_and_valid_control_with_garbage(c0, garbage):
    head = bytes((c0, 0, (codeword(c0) & 15) << 4 | (codeword(0) & 15)))
    for name, sync in ((MOB, SYNC_MOBITEX), (B9, SYNC_NX)):
        extra = b"DP0BEM" + callsign_crc(b"DP0BEM") if name == B9 else b""
        bits = np.concatenate([bits_from_int(sync, 16), bits_from_bytes(head + extra + garbage)])
        assert run(get(name).make_deframer(), soft(bits)) == []


def test_constant_streams(rng):
    for v in (0.0, 1.0, -1.0):
        for name in (MOB, NX, B9):
            assert run(get(name).make_deframer(), np.full(9000, v, np.float32)) == []


# --- corpus ---------------------------------------------------------------------

# measured, in data blocks (the reference decoder, without gr-tnc_nx, gets 0): sokrat.wav
# holds the first 6 of 30 blocks of a frame cut by the end of the recording
EXPECTED = {"sokrat.wav": 6, "beesat_9.wav": 32}


@pytest.mark.parametrize("rec", _recordings(MOB) + _recordings(NX) + _recordings(B9))
def test_corpus_recording(corpus, rec):
    assert rec is not None
    frames = decode_recording_frames(corpus, rec, {MOB, NX, B9})
    assert all(f["crc_ok"] for f in frames)
    for f in frames:
        if f["framing"] == B9:
            assert f["mobitex"]["callsign"] == "DP0BEM" and f["mobitex"]["callsign_errors"] == 0
    blocks = sorted(f["mobitex"]["block"] for f in frames)
    assert blocks == sorted(set(blocks))                   # each block once
    want = max(int(rec["reference_frames"]), EXPECTED.get(rec["file"], 0))
    assert len(frames) >= want, f"{rec['file']}: {len(frames)} blocks, want {want}"

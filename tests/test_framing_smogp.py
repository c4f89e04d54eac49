"""SMOG-P RA and SMOG-P Signalling framings: round trips, FEC, fuzz, corpus."""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groundseg.errors import InputError
from groundseg.framing import get, load_all
from groundseg.framing.smogp import (CODINGS, DOWNLINK_BAUD, RA_MAX_CONSTANT_WORDS, RA_SYNC,
                                     SIGNALLING_PATTERN, SmogpRaDeframer, SmogpRaFramer,
                                     SmogpSignallingDeframer, SmogpSignallingFramer,
                                     constant_code_words, signalling_packet)

RA_SIZES = (128, 256)


def _bpsk(bits, ebn0_db, rng, rate):
    sigma = np.sqrt(1.0 / (2.0 * rate * 10 ** (ebn0_db / 10)))
    return (2.0 * bits - 1.0 + sigma * rng.standard_normal(bits.size)).astype(np.float32)


def _run(deframer, soft, chunk):
    out = []
    for i in range(0, len(soft), chunk):
        out += deframer.process(soft[i:i + chunk])
    return out + deframer.flush()


def _stream(rng, framer, payloads, gap=57):
    parts = [rng.integers(0, 2, 101).astype(np.uint8)]
    ends = []
    for p in payloads:
        parts.append(framer.frame(p))
        ends.append(sum(len(x) for x in parts))
        parts.append(rng.integers(0, 2, gap).astype(np.uint8))
    return np.concatenate(parts), ends


def test_registered_with_catalog_options():
    fr = load_all()
    ra = fr.get("SMOG-P RA")
    assert ra.check_options({"frame_size": 256}) == [] and ra.check_options({"frame_size": 128}) == []
    assert ra.check_options({"frame_size": 512})
    assert ra.make_deframer(frame_size=256).code.data_bytes == 256
    sig = fr.get("SMOG-P Signalling")
    assert isinstance(sig.make_deframer(), SmogpSignallingDeframer)
    assert sig.check_options({"frame_size": 128})


# --- RA ------------------------------------------------------------------------------------

@pytest.mark.parametrize("size", RA_SIZES)
def test_ra_frame_layout(size, rng):
    payload = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
    bits = SmogpRaFramer(size).frame(payload)
    assert int("".join(map(str, bits[:16])), 2) == RA_SYNC == 0x2DD4
    assert len(bits) == 16 + 8 * {128: 260, 256: 514}[size]


@pytest.mark.parametrize("size", RA_SIZES)
@pytest.mark.parametrize("chunk", [1, 97, 4096, 1 << 20])
def test_ra_round_trip_all_chunkings(size, chunk, rng):
    n = 1 if chunk == 1 else 3
    payloads = [rng.integers(0, 256, size, dtype=np.uint8).tobytes() for _ in range(n)]
    framer = SmogpRaFramer(size)
    bits, ends = _stream(rng, framer, payloads)
    rate = 8 * size / (len(bits) // n)
    # 3.5 dB: about 7 % channel bit errors, the sync word kept clean so the test is exact
    soft = _bpsk(bits, 3.5, rng, rate)
    for e in ends:
        s = e - len(framer.frame(payloads[0]))
        soft[s:s + 16] = 2.0 * bits[s:s + 16] - 1.0
    frames = _run(get("SMOG-P RA").make_deframer(frame_size=size), soft, chunk)
    assert [f.data for f in frames] == payloads
    assert [f.end_symbol for f in frames] == ends
    for f in frames:
        assert f.crc_ok is True and f.corrected > 0.03 * len(bits) / n
        assert f.meta["ra"]["check_score"] > 5


@pytest.mark.parametrize("size", RA_SIZES)
def test_ra_corrects_hard_errors_sync_errors_and_inversion(size, rng):
    payload = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
    bits = SmogpRaFramer(size).frame(payload)
    flips = rng.random(bits.size) < 0.05
    flips[:16] = False
    flips[[2, 9, 13]] = True                         # 3 sync errors: tolerated
    hard = np.where(bits ^ flips, 1.0, -1.0).astype(np.float32)
    soft = np.concatenate([np.ones(40, np.float32), hard, -np.ones(40, np.float32)])
    frames = _run(SmogpRaDeframer(size), soft, 1000)
    assert [f.data for f in frames] == [payload]
    assert frames[0].corrected == int(flips[16:].sum()) and frames[0].meta["ra"]["sync_errors"] == 3
    inv = _run(SmogpRaDeframer(size), -soft, 1000)
    assert [f.data for f in inv] == [payload] and inv[0].inverted
    # +-1 symbols: the soft sync score (16 - 2 errors) / 4 >= 2 takes up to 4 errors
    more = hard.copy()
    more[5] = -more[5]
    assert [f.data for f in _run(SmogpRaDeframer(size), more, 1000)] == [payload]
    more[0] = -more[0]
    assert _run(SmogpRaDeframer(size), more, 1000) == []
    assert [f.data for f in _run(SmogpRaDeframer(size, syncword_threshold=5), more, 1000)] == [payload]


@pytest.mark.parametrize("size", RA_SIZES)
def test_ra_constant_symbols_after_a_sync_word_are_no_frame(size, rng):
    """A stuck demodulator after a sync-like pattern: the all-zero codeword, refused."""
    n = 16 + SmogpRaDeframer(size).code.code_bits
    for level in (-1.0, 1.0):
        soft = level + 0.6 * rng.standard_normal(n + 200)
        soft[100:116] = 2.0 * np.unpackbits(np.frombuffer(RA_SYNC.to_bytes(2, "big"), np.uint8)) - 1.0
        assert _run(SmogpRaDeframer(size), soft.astype(np.float32), 512) == []
    kept = _run(SmogpRaDeframer(size, keep_invalid=True), soft.astype(np.float32), 512)
    assert all(f.crc_ok is False for f in kept)
    # an all-zero packet sent for real is refused too: SMOG-P never sends one
    bits = SmogpRaFramer(size).frame(bytes(size))
    assert _run(SmogpRaDeframer(size), 2.0 * bits - 1.0, 512) == []


def test_ra_runs_of_constant_symbols_are_no_frame(rng):
    """Runs of 1s and 0s are close to codewords of packets with a few 0xFFFF words: refused."""
    code = SmogpRaDeframer(256).code
    sparse = bytearray(256)
    sparse[100:102] = b"\xff\xff"
    assert constant_code_words(code, bytes(sparse)) > RA_MAX_CONSTANT_WORDS
    bits = SmogpRaFramer(256).frame(bytes(sparse))
    assert _run(SmogpRaDeframer(256), 2.0 * bits - 1.0, 512) == []
    # what the corpus' FSK chains showed: some data, then thousands of 1s, then 0s
    sync = np.unpackbits(np.frombuffer(RA_SYNC.to_bytes(2, "big"), np.uint8))
    for size in RA_SIZES:
        soft = np.concatenate([2.0 * sync - 1.0, 2.0 * rng.integers(0, 2, 700) - 1.0,
                               np.ones(2200), -np.ones(1400), np.zeros(300)])
        soft += 0.1 * rng.standard_normal(soft.size)
        assert _run(SmogpRaDeframer(size), soft.astype(np.float32), 1000) == []
    # packets of real data: the accumulators never come back to 0x0000 / 0xFFFF
    beacon = bytes.fromhex("049d53ed5d467573746f6c7420737a616c6f6e6e6120") + bytes(106)
    assert constant_code_words(SmogpRaDeframer(128).code, beacon) <= 1
    for _ in range(20):
        assert constant_code_words(code, rng.integers(0, 256, 256, dtype=np.uint8).tobytes()) <= 1


def test_ra_too_many_errors_is_no_frame(rng):
    payload = rng.integers(0, 256, 128, dtype=np.uint8).tobytes()
    bits = SmogpRaFramer(128).frame(payload)
    flips = rng.random(bits.size) < 0.25
    flips[:16] = False
    soft = np.where(bits ^ flips, 1.0, -1.0).astype(np.float32)
    assert _run(SmogpRaDeframer(128), soft, 4096) == []


def test_ra_bad_options_and_payloads():
    for bad in (64, 0, 255, "128", True, None):
        with pytest.raises(InputError):
            SmogpRaDeframer(bad)
    for bad in (-1, 7, 1.0):
        with pytest.raises(InputError):
            SmogpRaDeframer(128, syncword_threshold=bad)
    with pytest.raises(InputError):
        SmogpRaFramer(256).frame(bytes(128))


# --- signalling ---------------------------------------------------------------------------

def test_signalling_packet_layout():
    p = signalling_packet(1250, 1)
    assert len(p) == 64 and p[:58] == SIGNALLING_PATTERN[6:]
    assert p[58:] == bytes([0, 0, 0xFF, 0, 0, 0xFF])           # rate 1 (1250), coding 1
    bits = SmogpSignallingFramer().frame(p)
    sync = np.packbits(bits[:64]).tobytes()
    assert sync == bytes.fromhex("2dd497fdd37b0f1f") and len(bits) == 64 + 512


@pytest.mark.parametrize("chunk", [1, 50, 4096])
def test_signalling_round_trip(chunk, rng):
    packets = [signalling_packet(b, c) for b, c in ((500, 0), (12500, 4), (5000, 2))]
    bits, ends = _stream(rng, SmogpSignallingFramer(), packets)
    # Es/N0 4.4 dB: about 5 % channel bit errors
    soft = (2.0 * bits - 1.0 + 0.6 * rng.standard_normal(bits.size)).astype(np.float32)
    frames = _run(SmogpSignallingDeframer(), soft, chunk)
    assert [f.data for f in frames] == packets
    assert [f.end_symbol for f in frames] == ends
    got = [(f.meta["smogp_signalling"]["downlink_baud"], f.meta["smogp_signalling"]["coding"])
           for f in frames]
    assert got == [(500, CODINGS[0]), (12500, CODINGS[4]), (5000, CODINGS[2])]
    assert all(f.crc_ok is None and f.valid for f in frames)
    assert sum(f.meta["smogp_signalling"]["pattern_bit_errors"] for f in frames) > 0


def test_signalling_majority_vote_and_pattern_check(rng):
    p = signalling_packet(2500, 3)
    bits = SmogpSignallingFramer().frame(p)
    b = bits.copy()
    for k in range(6):                               # 3 wrong bits in each flag byte
        b[64 + 8 * (58 + k) + np.array([0, 3, 6])] ^= 1
    frames = _run(SmogpSignallingDeframer(), 2.0 * b - 1.0, 4096)
    assert len(frames) == 1 and frames[0].data == p and frames[0].corrected == 18
    assert frames[0].meta["smogp_signalling"]["downlink_baud"] == 2500
    # the sync word and pattern with 25 % errors: not a signalling frame
    b = bits.copy()
    n = 64 + 8 * 58
    b[np.flatnonzero(rng.random(n) < 0.25)] ^= 1
    assert _run(SmogpSignallingDeframer(), 2.0 * b - 1.0, 4096) == []
    # the first 64 bits garbage (a demodulator still settling), the rest clean: found
    b = bits.copy()
    b[:64] = rng.integers(0, 2, 64)
    frames = _run(SmogpSignallingDeframer(), 2.0 * b - 1.0, 4096)
    assert [f.data for f in frames] == [p] and frames[0].meta["smogp_signalling"]["pattern_bit_errors"] > 16
    # an index outside the tables (rate 7): rejected, kept invalid on request
    bad = SIGNALLING_PATTERN[6:] + bytes([0xFF, 0xFF, 0xFF, 0, 0, 0])
    soft = 2.0 * SmogpSignallingFramer().frame(bad) - 1.0
    assert _run(SmogpSignallingDeframer(), soft, 4096) == []
    kept = _run(SmogpSignallingDeframer(keep_invalid=True), soft, 4096)
    assert len(kept) == 1 and kept[0].crc_ok is False
    assert kept[0].meta["smogp_signalling"]["downlink_baud"] is None


def test_signalling_bad_arguments():
    with pytest.raises(InputError):
        signalling_packet(9600, 1)
    with pytest.raises(InputError):
        signalling_packet(1250, 5)
    with pytest.raises(InputError):
        SmogpSignallingFramer().frame(bytes(63))
    with pytest.raises(InputError):
        SmogpSignallingDeframer(syncword_threshold=300)
    assert DOWNLINK_BAUD == (500, 1250, 2500, 5000, 12500)


# --- fuzz ----------------------------------------------------------------------------------

def _make(kind):
    if kind == "sig":
        return SmogpSignallingDeframer(), SmogpSignallingFramer().frame(signalling_packet(1250, 1))[:64]
    sync = np.unpackbits(np.frombuffer(RA_SYNC.to_bytes(2, "big"), np.uint8))
    return SmogpRaDeframer(128 if kind == "ra128" else 256), sync


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(["ra128", "ra256", "sig"]), seed=st.integers(0, 2 ** 32 - 1),
       what=st.sampled_from(["random", "zeros", "ones", "sync+garbage", "truncated", "nan",
                             "sync+runs"]),
       chunk=st.sampled_from([7, 300, 10000]))
def test_fuzz_no_frame_no_exception(kind, seed, what, chunk):
    rng = np.random.default_rng(seed)
    deframer, sync = _make(kind)
    n = 9000
    if what == "random":
        soft = rng.standard_normal(n)
    elif what == "zeros":
        soft = -np.ones(n)
    elif what == "ones":
        soft = np.ones(n)
    elif what == "nan":
        soft = np.full(n, np.nan)
    elif what == "sync+garbage":
        garbage = 2.0 * rng.integers(0, 2, 5000) - 1.0
        soft = np.concatenate([rng.standard_normal(30), 2.0 * sync - 1.0, garbage])
    elif what == "sync+runs":              # constant stretches of random lengths and levels
        runs = [np.full(int(rng.integers(1, 1500)), rng.choice([-1.0, 1.0, 0.0])) for _ in range(12)]
        soft = np.concatenate([2.0 * sync - 1.0] + runs)
        soft = soft + 0.2 * rng.standard_normal(soft.size)
    else:
        if kind == "sig":
            bits = SmogpSignallingFramer().frame(signalling_packet(1250, 1))
        else:
            size = 128 if kind == "ra128" else 256
            bits = SmogpRaFramer(size).frame(rng.integers(0, 256, size, dtype=np.uint8).tobytes())
        soft = 2.0 * bits[:int(rng.integers(1, len(bits)))] - 1.0
    assert _run(deframer, np.asarray(soft, np.float32), chunk) == []


# --- corpus --------------------------------------------------------------------------------

def _recordings():
    from conftest import corpus_dir
    path = corpus_dir() / "manifest.json"
    if not path.is_file():
        return [pytest.param(None, marks=pytest.mark.corpus, id="smogp-no-corpus")]
    recs = json.loads(path.read_text())["recordings"]
    return [pytest.param(r, id=r["file"], marks=pytest.mark.corpus) for r in recs
            if any(str(t.get("framing", "")).startswith("SMOG-P") for t in r.get("transmitters", []))]


@pytest.mark.parametrize("rec", _recordings())
def test_corpus_recording(corpus, rec):
    """All of SMOG-P's transmitters: at least the reference, a signalling frame among them."""
    from groundseg.blocks.sources import SourceSpec
    from groundseg.decode import chains_for_norad, decode
    assert rec is not None
    chains, skipped = chains_for_norad(int(rec["norad"]))
    assert {c.transmitter.framing for c in chains} >= {"SMOG-P RA", "SMOG-P Signalling"}
    res = decode(SourceSpec(kind="wav", path=str(corpus / rec["file"])), chains)
    sig = [f for f in res.frames if f["framing"] == "SMOG-P Signalling"]
    assert sig, f"{rec['file']}: no signalling frame"
    for f in sig:
        info = f["smogp_signalling"]
        assert info["downlink_baud"] in DOWNLINK_BAUD and info["coding"] in CODINGS
    assert all(f["crc_ok"] is not False for f in res.frames)
    assert len(res.frames) >= int(rec["reference_frames"]), \
        f"{rec['file']}: {len(res.frames)} frames, reference {rec['reference_frames']}; skipped: {skipped}"

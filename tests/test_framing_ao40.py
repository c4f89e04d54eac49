"""AO-40 FEC and AO-40 FEC short: framer against Karn's description, round trips, FEC, fuzz, corpus."""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groundseg.errors import InputError
from groundseg.framing import get, load_all
from groundseg.framing.ao40 import VARIANTS, Ao40Deframer, Ao40Framer, sync_vector

NAMES = {"long": "AO-40 FEC", "short": "AO-40 FEC short"}
VARIANT_IDS = ["long", "short"]
# Karn's published 65-bit sync vector (first row of the 80 x 65 interleaver)
PUBLISHED_SYNC = "11111110000111011110010110010010000001000100110001011101011011000"


# --- an independent encoder, bit by bit as Karn's description (and BME's short variant) states it

def _gf_tables():
    exp, log = [0] * 512, [0] * 256
    x = 1
    for i in range(255):
        exp[i] = x
        log[x] = i
        x <<= 1
        if x & 0x100:
            x ^= 0x187
    for i in range(255, 512):
        exp[i] = exp[i - 255]
    return exp, log


EXP, LOG = _gf_tables()
# CCSDS generator polynomial, index form, coefficients 1..16 (palindromic; 0 and 32 are 1)
KARN_GEN_INDEX = [249, 59, 66, 4, 43, 126, 251, 97, 30, 3, 213, 50, 66, 170, 5, 24]
GEN = [1] + [EXP[c] for c in KARN_GEN_INDEX] + [EXP[c] for c in KARN_GEN_INDEX[14::-1]] + [1]


def _gmul(a, b):
    return 0 if a == 0 or b == 0 else EXP[LOG[a] + LOG[b]]


def _rs_parity(msg):
    reg = [0] * 32                          # reg[0]: highest-degree remainder coefficient
    for b in msg:
        fb = b ^ reg[0]
        reg = reg[1:] + [0]
        for d in range(32):                 # subtract fb * (g(x) - x^32)
            reg[31 - d] ^= _gmul(fb, GEN[d])
    return reg


def _parity(x):
    return bin(x).count("1") & 1


def karn_encode(data: bytes, variant: str) -> np.ndarray:
    long = variant == "long"
    depth = 2 if long else 1
    cws = [list(data[i::depth]) for i in range(depth)]
    par = [_rs_parity(c) for c in cws]
    block = list(data) + [par[n % depth][n // depth] for n in range(32 * depth)]
    scr, conv, syms = 0xFF, 0, []
    for c in block:
        c ^= scr
        for _ in range(8):
            scr = ((scr << 1) | _parity(scr & 0x95)) & 0xFF
        for _ in range(8):
            conv = ((conv << 1) | (c >> 7)) & 0xFF
            c = (c << 1) & 0xFF
            syms += [_parity(conv & 0x4F), 1 - _parity(conv & 0x6D)]
    for _ in range(6):
        conv = (conv << 1) & 0xFF
        syms += [_parity(conv & 0x4F), 1 - _parity(conv & 0x6D)]
    sr, pilot = 0x7F, []
    for _ in range(65 if long else 80):
        pilot.append((sr >> 6) & 1)
        sr = (sr << 1) | _parity(sr & 0x48)
    if long:                                # sync every 80th bit, data from bit 1 on, +80 per symbol
        out = np.zeros(5200, np.uint8)
        out[0::80] = pilot
        p = 1
        for s in syms:
            out[p] = s
            p += 80
            if p >= 5200:
                p -= 5199
    else:                                   # pilots then data, +51 per symbol, wrapping by 2651
        out = np.zeros(2652, np.uint8)
        p = 0
        for s in pilot + syms:
            out[p] = s
            p += 51
            if p >= 2652:
                p -= 2651
    return out


# --- helpers -------------------------------------------------------------------------------

def _payload(rng, v):
    return rng.integers(0, 256, VARIANTS[v].data_bytes, dtype=np.uint8).tobytes()


def _bpsk(bits, ebn0_db, rng, rate):
    sigma = np.sqrt(1.0 / (2.0 * rate * 10 ** (ebn0_db / 10)))
    return (2.0 * bits - 1.0 + sigma * rng.standard_normal(bits.size)).astype(np.float32)


def _rate(v):
    return 8 * VARIANTS[v].data_bytes / VARIANTS[v].frame_symbols


def _run(deframer, soft, chunk):
    out = []
    for i in range(0, len(soft), chunk):
        out += deframer.process(soft[i:i + chunk])
    return out + deframer.flush()


def _stream(rng, v, payloads, gap=123):
    fr = Ao40Framer(v)
    parts = [rng.integers(0, 2, 77).astype(np.uint8)]
    starts = []
    for p in payloads:
        starts.append(sum(len(x) for x in parts))
        parts += [fr.frame(p), rng.integers(0, 2, gap).astype(np.uint8)]
    return np.concatenate(parts), starts


# --- tests ---------------------------------------------------------------------------------

def test_registered_with_catalog_names():
    fr = load_all()
    for v, name in NAMES.items():
        spec = fr.get(name)
        assert isinstance(spec.make_deframer(), Ao40Deframer)
        assert spec.make_deframer().v is VARIANTS[v]
        assert spec.check_options({"syncword_threshold": 20}) == []
        assert spec.check_options({"frame_size": 256})


def test_sync_vector_is_karns():
    assert "".join(map(str, sync_vector(65))) == PUBLISHED_SYNC
    assert "".join(map(str, sync_vector(80)))[:65] == PUBLISHED_SYNC
    long, short = VARIANTS["long"], VARIANTS["short"]
    assert (long.frame_symbols, long.coded_symbols) == (5200, 5132)
    assert (short.frame_symbols, short.coded_symbols) == (2652, 2572)
    assert (long.pilot_positions == np.arange(0, 5200, 80)).all()
    # short: the first 52 pilot bits one every 51 symbols, the other 28 just after
    assert (short.pilot_positions[:52] == np.arange(0, 2652, 51)).all()
    assert (short.pilot_positions[52:] == np.arange(28) * 51 + 1).all()


@pytest.mark.parametrize("v", VARIANT_IDS)
def test_framer_matches_karns_encoder(v, rng):
    for payload in (bytes(VARIANTS[v].data_bytes), _payload(rng, v), _payload(rng, v)):
        assert (Ao40Framer(v).frame(payload) == karn_encode(payload, v)).all()


@pytest.mark.parametrize("v", VARIANT_IDS)
@pytest.mark.parametrize("chunk", [1, 61, 1024, 5000, 1 << 20])
def test_round_trip_all_chunkings(v, chunk, rng):
    n = 1 if chunk == 1 else 3
    payloads = [_payload(rng, v) for _ in range(n)]
    bits, starts = _stream(rng, v, payloads)
    soft = _bpsk(bits, 4.0, rng, _rate(v))
    frames = _run(get(NAMES[v]).make_deframer(), soft, chunk)
    assert [f.data for f in frames] == payloads
    for f, s in zip(frames, starts):
        assert f.crc_ok is True and f.valid and not f.inverted
        assert f.end_symbol == s + VARIANTS[v].frame_symbols
        assert f.meta["ao40"]["viterbi_symbol_errors"] > 0        # 4 dB: a few % symbol errors


@pytest.mark.parametrize("v", VARIANT_IDS)
def test_inverted_polarity(v, rng):
    payload = _payload(rng, v)
    bits, _ = _stream(rng, v, [payload])
    frames = _run(Ao40Deframer(v), -_bpsk(bits, 5.0, rng, _rate(v)), 4096)
    assert [f.data for f in frames] == [payload] and frames[0].inverted


def _corrupted_block_frame(v, payload, byte_errors, rng):
    """Channel bits of a frame whose RS block has byte errors before scrambling and coding."""
    var = VARIANTS[v]
    from groundseg.dsp import fec
    rs = fec.ReedSolomon(dual_basis=False)
    d = np.frombuffer(payload, np.uint8)
    block = rs.encode_codeword(d) if var.rs_depth == 1 else rs.encode_interleaved(d, var.rs_depth)
    block = np.array(block, np.uint8)
    for cw, n in enumerate(byte_errors):
        pos = rng.choice(160, n, replace=False) * var.rs_depth + cw
        block[pos] ^= rng.integers(1, 256, n).astype(np.uint8)
    coded = fec.conv_encode(np.unpackbits(block ^ var.pn), "CCSDS", terminate=True)
    out = np.zeros(var.frame_symbols, np.uint8)
    out[var.pilot_positions] = var.pilot_bits
    out[var.coded_positions] = coded
    return out


@pytest.mark.parametrize("v", VARIANT_IDS)
def test_reed_solomon_corrects_16_byte_errors_per_codeword(v, rng):
    depth = VARIANTS[v].rs_depth
    payload = _payload(rng, v)
    bits = _corrupted_block_frame(v, payload, [16] * depth, rng)
    frames = _run(Ao40Deframer(v), 2.0 * bits - 1.0, 4096)
    assert [f.data for f in frames] == [payload]
    assert frames[0].corrected == 16 * depth and frames[0].meta["ao40"]["rs_corrected"] == [16] * depth
    # one byte too many in one codeword: no frame, or an invalid one with keep_invalid
    bad = _corrupted_block_frame(v, payload, [17] + [0] * (depth - 1), rng)
    assert _run(Ao40Deframer(v), 2.0 * bad - 1.0, 4096) == []
    kept = _run(Ao40Deframer(v, keep_invalid=True), 2.0 * bad - 1.0, 4096)
    assert len(kept) == 1 and kept[0].crc_ok is False and not kept[0].valid
    assert kept[0].meta["ao40"]["rs_corrected"][0] == -1


@pytest.mark.parametrize("v", VARIANT_IDS)
def test_viterbi_corrects_symbol_errors_and_the_interleaver_a_fade(v, rng):
    var = VARIANTS[v]
    payload = _payload(rng, v)
    bits = Ao40Framer(v).frame(payload)
    flips = rng.random(bits.size) < 0.04
    hard = np.where(bits ^ flips, 1.0, -1.0).astype(np.float32)
    frames = _run(Ao40Deframer(v), hard, 4096)
    assert [f.data for f in frames] == [payload]
    coded_flips = int(flips[var.coded_positions].sum())
    assert frames[0].meta["ao40"]["viterbi_symbol_errors"] == coded_flips
    # a deep fade: 12 % of the frame in one piece lost (symbols 0), the rest clean
    faded = 2.0 * bits - 1.0
    n = int(0.12 * bits.size)
    faded[1000:1000 + n] = 0.0
    frames = _run(Ao40Deframer(v), faded.astype(np.float32), 4096)
    assert [f.data for f in frames] == [payload]
    # the same symbols lost without the interleaver (consecutive coded symbols) are fatal
    from groundseg.dsp import fec
    coded = (2.0 * fec.conv_encode(np.unpackbits(
        np.frombuffer(payload, np.uint8)), "CCSDS", terminate=True) - 1.0).astype(np.float32)
    coded[1000:1000 + n] = 0.0
    dec = fec.viterbi_decode(coded, "CCSDS", terminated=True)
    assert np.packbits(dec).tobytes() != payload


@pytest.mark.parametrize("v", VARIANT_IDS)
def test_sync_threshold(v, rng):
    """A start is a candidate when the soft sync score is >= 4 or the bit errors are few enough."""
    var = VARIANTS[v]
    payload = _payload(rng, v)
    bits = Ao40Framer(v).frame(payload)
    n = var.pilot
    # with +-1 symbols the score is (n - 2 errors) / sqrt(n)
    limit = max(var.default_sync_errors, int((n - 4.0 * np.sqrt(n)) // 2))
    for errors, found in ((limit, True), (limit + 1, False)):
        b = bits.copy()
        b[var.pilot_positions[rng.choice(n, errors, replace=False)]] ^= 1
        frames = _run(Ao40Deframer(v), 2.0 * b - 1.0, 4096)
        assert (len(frames) == 1) == found
        if found:
            assert frames[0].meta["ao40"]["sync_errors"] == errors
    # the copy with one error too many, with a bit error threshold one higher
    frames = _run(Ao40Deframer(v, syncword_threshold=limit + 1), 2.0 * b - 1.0, 4096)
    assert [f.data for f in frames] == [payload]
    # faded sync symbols count for little: 40 % of them wrong but weak, the rest strong
    b = (2.0 * bits - 1.0).astype(np.float32)
    weak = var.pilot_positions[rng.choice(n, int(0.4 * n), replace=False)]
    b[weak] *= -0.05
    frames = _run(Ao40Deframer(v), b, 4096)
    assert [f.data for f in frames] == [payload]


def test_bad_options_and_payloads():
    for v in VARIANT_IDS:
        for bad in (-1, 99, 2.5, True, "8"):
            with pytest.raises(InputError):
                Ao40Deframer(v, syncword_threshold=bad)
        with pytest.raises(InputError):
            Ao40Framer(v).frame(bytes(VARIANTS[v].data_bytes - 1))
    with pytest.raises(InputError):
        Ao40Deframer("medium")


# --- fuzz ----------------------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(v=st.sampled_from(VARIANT_IDS), seed=st.integers(0, 2 ** 32 - 1),
       kind=st.sampled_from(["random", "zeros", "ones", "sync+garbage", "truncated", "nan"]),
       chunk=st.sampled_from([3, 500, 7000]))
def test_fuzz_no_frame_no_exception(v, seed, kind, chunk):
    rng = np.random.default_rng(seed)
    var = VARIANTS[v]
    n = var.frame_symbols * 2 + 100
    if kind == "random":
        soft = rng.standard_normal(n).astype(np.float32)
    elif kind == "zeros":
        soft = -np.ones(n, np.float32)
    elif kind == "ones":
        soft = np.ones(n, np.float32)
    elif kind == "nan":
        soft = np.full(n, np.nan, np.float32)
    elif kind == "sync+garbage":          # the pilot bits right, the rest random
        b = rng.integers(0, 2, var.frame_symbols).astype(np.uint8)
        b[var.pilot_positions] = var.pilot_bits
        soft = np.concatenate([rng.standard_normal(50), 2.0 * b - 1.0, rng.standard_normal(50)])
    else:                                 # a valid frame cut short
        b = Ao40Framer(v).frame(rng.integers(0, 256, var.data_bytes, dtype=np.uint8).tobytes())
        soft = 2.0 * b[:int(rng.integers(1, var.frame_symbols))] - 1.0
    frames = _run(Ao40Deframer(v), np.asarray(soft, np.float32), chunk)
    assert frames == []


# --- corpus --------------------------------------------------------------------------------

def _recordings():
    from conftest import corpus_dir
    path = corpus_dir() / "manifest.json"
    if not path.is_file():
        return [pytest.param(None, marks=pytest.mark.corpus, id="ao40-no-corpus")]
    recs = json.loads(path.read_text())["recordings"]
    return [pytest.param(r, id=r["file"], marks=pytest.mark.corpus) for r in recs
            if any(str(t.get("framing", "")).startswith("AO-40 FEC") for t in r.get("transmitters", []))]


@pytest.mark.parametrize("rec", _recordings())
def test_corpus_recording(corpus, rec):
    """Every transmitter of the satellite (the reference counts them all); AO-40 blocks valid."""
    from groundseg.blocks.sources import SourceSpec
    from groundseg.decode import chains_for_norad, decode
    assert rec is not None
    chains, skipped = chains_for_norad(int(rec["norad"]))
    assert any(c.transmitter.framing.startswith("AO-40 FEC") for c in chains)
    res = decode(SourceSpec(kind="wav", path=str(corpus / rec["file"])), chains)
    ao40 = [f for f in res.frames if f["framing"].startswith("AO-40 FEC")]
    assert ao40, f"{rec['file']}: no AO-40 FEC block decoded"
    assert all(f["crc_ok"] is True for f in ao40)
    assert all(len(bytes.fromhex(f["hex"])) in (128, 256) for f in ao40)
    assert len(res.frames) >= int(rec["reference_frames"]), \
        f"{rec['file']}: {len(res.frames)} frames ({len(ao40)} AO-40), reference " \
        f"{rec['reference_frames']}; skipped: {skipped}"

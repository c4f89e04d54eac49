"""GOMspace AX100 framings: "AX100 ASM+Golay" and "AX100 Reed Solomon"."""
import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from groundseg.errors import InputError
from groundseg.framing import get
from groundseg.framing._gomspace import (SYNC_AX100, csp_crc32c, golay_decode_soft, make_csp_header,
                                         parse_csp_header, split_csp_crc)
from groundseg.framing._sync import bits_from_bytes, bits_from_int
from groundseg.framing.ax100 import SoftG3ruhDescrambler, g3ruh_scramble

ASM = "AX100 ASM+Golay"
RSM = "AX100 Reed Solomon"
HDR = make_csp_header(priority=2, source=1, destination=10, destination_port=22, source_port=2)


def soft(bits, rng=None, noise=0.0):
    s = (2.0 * np.asarray(bits, np.float32) - 1.0)
    if rng is not None and noise:
        s = s + noise * rng.standard_normal(len(s)).astype(np.float32)
    return s.astype(np.float32)


def run(deframer, s, chunk=None):
    out = []
    if chunk is None:
        out += deframer.process(s)
    else:
        for i in range(0, len(s), chunk):
            out += deframer.process(s[i:i + chunk])
    return out + deframer.flush()


def payload(n, rng):
    if n < 4:
        return rng.integers(0, 256, n, dtype=np.uint8).tobytes()
    return HDR + rng.integers(0, 256, n - 4, dtype=np.uint8).tobytes()


def burst(framing, payloads, rng, gap=100, **fopts):
    fr = get(framing).make_framer(**fopts)
    noise = rng.integers(0, 2, gap).astype(np.uint8)
    bits = np.concatenate([noise, fr.frames(payloads, gap_bits=gap)])
    return bits


# --- facts ----------------------------------------------------------------------

def test_registered_names_and_header_layout():
    for name in (ASM, RSM):
        assert get(name).name == name and get(name).framer is not None
    fr = get(ASM).make_framer(preamble_bytes=2)
    bits = fr.frame(b"\x01\x02\x03")
    # preamble 0xAA 0xAA, then the sync word 0x930B51DE
    assert np.packbits(bits[:48]).tobytes() == b"\xaa\xaa\x93\x0b\x51\xde"
    # length field: 12 parity bits then 12 data bits = 35 bytes (3 data + 32 parity), flags 0
    word = int("".join(map(str, bits[48:72])), 2)
    assert word & 0xFFF == 35
    assert golay_decode_soft(soft(bits[48:72])) == (35, 0)


def test_csp_header_fields():
    h = parse_csp_header(bytes.fromhex("82a58201"))
    assert (h["priority"], h["source"], h["destination"], h["destination_port"], h["source_port"]) \
        == (2, 1, 10, 22, 2)
    assert h["crc"] and not h["rdp"] and h["reserved"] == 0
    assert parse_csp_header(make_csp_header(3, 31, 0, 63, 5, 0x0F)) == {
        "priority": 3, "source": 31, "destination": 0, "destination_port": 63, "source_port": 5,
        "reserved": 0, "hmac": True, "xtea": True, "rdp": True, "crc": True}
    with pytest.raises(InputError):
        make_csp_header(source=32)


@pytest.mark.parametrize("cover", ["data", "header+data"])
@pytest.mark.parametrize("order", ["big", "little"])
def test_csp_crc_variants_are_recognised_and_stripped(cover, order):
    pkt = HDR + b"hello world"
    body, variant = split_csp_crc(pkt + csp_crc32c(pkt, cover, order))
    assert body == pkt and variant == f"{cover} {order}-endian"
    # a wrong CRC is left in place
    bad = pkt + bytes(4)
    assert split_csp_crc(bad) == (bad, None)


def test_crc32c_check_value():
    # CRC-32C of "123456789" is 0xE3069283 (the standard check value)
    assert csp_crc32c(bytes(4) + b"123456789", "data", "big") == bytes.fromhex("e3069283")


# --- ASM+Golay round trips --------------------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 4, 5, 17, 64, 100, 150, 200, 222, 223])
def test_asm_golay_round_trip_lengths(n, rng):
    p = payload(n, rng)
    s = soft(burst(ASM, [p], rng))
    frames = run(get(ASM).make_deframer(), s)
    assert [f.data for f in frames] == [p]
    f = frames[0]
    assert f.crc_ok is True and f.corrected == 0 and f.meta["golay_errors"] == 0
    assert f.meta["length_field"] == n + 32
    if n >= 4:
        assert f.meta["csp"]["destination_port"] == 22


def test_asm_golay_too_long_payload_is_refused():
    fr = get(ASM).make_framer()
    with pytest.raises(InputError):
        fr.frame(bytes(224))
    with pytest.raises(InputError):
        fr.frame(b"")
    with pytest.raises(InputError):
        get(ASM).make_framer(csp_crc=True).frame(bytes(220))


@pytest.mark.parametrize("chunk", [1, 7, 64, 333, 4096, None])
def test_asm_golay_burst_any_chunking(chunk, rng):
    ps = [payload(n, rng) for n in (30, 180, 5, 223)]
    s = soft(burst(ASM, ps, rng, gap=57), rng, noise=0.3)
    frames = run(get(ASM).make_deframer(), s, chunk)
    assert [f.data for f in frames] == ps
    ends = [f.end_symbol for f in frames]
    assert ends == sorted(ends) and ends[-1] <= len(s)


def test_asm_golay_end_symbol_is_end_of_frame(rng):
    p = payload(50, rng)
    bits = get(ASM).make_framer(preamble_bytes=4).frame(p)
    s = soft(np.concatenate([bits, np.zeros(500, np.uint8)]))
    (f,) = run(get(ASM).make_deframer(), s)
    assert f.end_symbol == len(bits)


def _flip_bytes(bits, start_bit, byte_positions, rng):
    b = bits.copy()
    for pos in byte_positions:
        mask = rng.integers(1, 256)
        seg = slice(start_bit + 8 * pos, start_bit + 8 * pos + 8)
        b[seg] ^= np.unpackbits(np.array([mask], np.uint8))
    return b


@pytest.mark.parametrize("nerr", [1, 8, 16])
def test_asm_golay_corrects_up_to_16_byte_errors(nerr, rng):
    p = payload(150, rng)
    fr = get(ASM).make_framer(preamble_bytes=4)
    bits = fr.frame(p)
    body = 32 + 32 + 24
    cw_len = 150 + 32
    bad = _flip_bytes(bits, body, rng.choice(cw_len, nerr, replace=False), rng)
    frames = run(get(ASM).make_deframer(erasures=False), soft(bad))
    assert [f.data for f in frames] == [p]
    assert frames[0].corrected == nerr and frames[0].meta["rs_errors"] == nerr


def test_asm_golay_17_byte_errors_fail_without_soft_information(rng):
    p = payload(150, rng)
    bits = get(ASM).make_framer(preamble_bytes=4).frame(p)
    bad = _flip_bytes(bits, 88, rng.choice(182, 17, replace=False), rng)
    assert run(get(ASM).make_deframer(), soft(bad)) == []          # equal confidence: no help
    assert len(run(get(ASM).make_deframer(keep_invalid=True), soft(bad))) == 1


def test_asm_golay_erasures_use_soft_reliability(rng):
    """20 byte errors, all on weak symbols: errors-and-erasures decoding recovers them."""
    p = payload(150, rng)
    bits = get(ASM).make_framer(preamble_bytes=4).frame(p)
    pos = rng.choice(182, 20, replace=False)
    bad = _flip_bytes(bits, 88, pos, rng)
    s = soft(bad)
    for q in pos:
        s[88 + 8 * q: 88 + 8 * q + 8] *= 0.2
    assert run(get(ASM).make_deframer(erasures=False), s.copy()) == []
    (f,) = run(get(ASM).make_deframer(), s.copy())
    assert f.data == p and f.meta["rs_erasures"] in (8, 16) and f.corrected == 20


@pytest.mark.parametrize("nerr", [1, 2, 3])
def test_asm_golay_length_field_bit_errors(nerr, rng):
    p = payload(60, rng)
    bits = get(ASM).make_framer(preamble_bytes=4).frame(p)
    bad = bits.copy()
    bad[64 + rng.choice(24, nerr, replace=False)] ^= 1
    (f,) = run(get(ASM).make_deframer(), soft(bad))
    assert f.data == p and f.meta["golay_errors"] == nerr


def test_asm_golay_soft_length_field_beyond_hard_decoding(rng):
    """4 or 5 wrong length-field bits on weak symbols: soft ML decoding gets it; 6 strong: no frame."""
    p = payload(60, rng)
    bits = get(ASM).make_framer(preamble_bytes=4).frame(p)
    for wrong in ([0, 5, 13, 20], [1, 2, 8, 16, 23]):
        s = soft(bits)
        s[64 + np.array(wrong)] *= -0.3
        (f,) = run(get(ASM).make_deframer(), s)
        assert f.data == p and f.meta["golay_errors"] == len(wrong)
    s = soft(bits)
    s[64 + np.array([0, 3, 7, 11, 16, 22])] *= -1
    assert run(get(ASM).make_deframer(), s) == []


def test_rs_shifted_codeword_is_not_a_frame(rng):
    """The RS code is cyclic: a codeword plus 4 more bytes decodes as x^4 c(x) unless caught."""
    from groundseg.framing._gomspace import rs_code, rs_decode_soft, shifted_codeword
    cw = rs_code().encode_codeword(rng.integers(0, 256, 100, dtype=np.uint8))
    longer = np.concatenate([cw, np.array([0xAA, 0x55, 0x12, 0x34], np.uint8)])
    work = longer.copy()
    assert rs_code().decode_inplace(work) == 4              # the plain decoder is fooled
    assert shifted_codeword(work, longer)
    assert rs_decode_soft(longer, None)[0] is None
    out, n, _ = rs_decode_soft(cw, None)
    assert n == 0 and bytes(out) == bytes(cw[:100])


@pytest.mark.parametrize("extra", [1, 4, 16])
def test_asm_golay_too_large_length_field_gives_no_wrong_frame(extra, rng):
    from groundseg.framing._gomspace import golay_encode_bits
    p, q = payload(100, rng), payload(80, rng)
    fr = get(ASM).make_framer(preamble_bytes=4)
    a = fr.frame(p).copy()
    a[64:88] = golay_encode_bits(132 + extra)               # says 132 + extra bytes follow
    s = soft(np.concatenate([a, fr.frame(q)]))
    assert [f.data for f in run(get(ASM).make_deframer(), s)] == [q]


def test_rs_mode_too_large_length_byte_gives_no_wrong_frame(rng):
    from groundseg.dsp import fec
    p, q = payload(120, rng), payload(60, rng)
    fr = get(RSM).make_framer(preamble_bytes=4)
    plain = fec.MultiplicativeDescrambler(fec.G3RUH_POLY, 0).descramble(fr.frames([p, q]))
    bad = plain.copy()
    bad[8 * 8 + 5] ^= 1                                      # length 153 -> 157, a clean bit
    assert [f.data for f in run(get(RSM).make_deframer(), soft(g3ruh_scramble(bad)))] == [q]


def test_asm_golay_inverted_polarity_and_sync_errors(rng):
    p = payload(80, rng)
    bits = burst(ASM, [p], rng)
    s = -soft(bits)
    sync_at = 100 + 64
    s[sync_at + np.array([1, 9, 20, 30])] *= -1          # 4 sync bit errors: tolerated
    (f,) = run(get(ASM).make_deframer(), s)
    assert f.inverted and f.data == p
    s[sync_at + 15] *= -1                                   # 5: not a sync any more
    assert run(get(ASM).make_deframer(), s) == []


@pytest.mark.parametrize("cover,order", [("header+data", "big"), ("data", "big"), ("data", "little")])
def test_asm_golay_csp_crc_is_checked_and_stripped(cover, order, rng):
    p = payload(90, rng)
    s = soft(burst(ASM, [p], rng, csp_crc=True, crc_cover=cover, crc_byteorder=order))
    (f,) = run(get(ASM).make_deframer(), s)
    assert f.data == p and f.meta["csp_crc"] == f"{cover} {order}-endian"


def test_asm_golay_awgn(rng):
    """At Es/N0 6 dB (BER ~2.4e-3) every frame decodes, with corrections."""
    ps = [payload(200, rng) for _ in range(6)]
    sigma = np.sqrt(1 / (2 * 10 ** 0.6))
    s = soft(burst(ASM, ps, rng), rng, noise=sigma)
    frames = run(get(ASM).make_deframer(), s, 1000)
    assert [f.data for f in frames] == ps
    assert sum(f.corrected for f in frames) > 0


# --- Reed Solomon mode ----------------------------------------------------------

def test_g3ruh_soft_descrambler_matches_hard_descrambler(rng):
    from groundseg.dsp import fec
    bits = rng.integers(0, 2, 3000).astype(np.uint8)
    scr = g3ruh_scramble(bits)
    hard = fec.MultiplicativeDescrambler(fec.G3RUH_POLY, 0).descramble(scr)
    d = SoftG3ruhDescrambler()
    s = soft(scr) * rng.uniform(0.5, 2.0, len(scr)).astype(np.float32)
    out = np.concatenate([d.descramble(s[i:i + 77]) for i in range(0, len(s), 77)])
    assert np.array_equal((out[17:] > 0).astype(np.uint8), hard[17:])
    assert np.array_equal((out[17:] > 0).astype(np.uint8), bits[17:])
    # the magnitude is that of the weakest of the three symbols combined
    k = 500
    assert out[k] == pytest.approx(np.sign(out[k]) * min(abs(s[k]), abs(s[k - 12]), abs(s[k - 17])))


@pytest.mark.parametrize("n", [1, 3, 4, 50, 150, 221, 222])
def test_rs_mode_round_trip_lengths(n, rng):
    p = payload(n, rng)
    s = soft(burst(RSM, [p], rng))
    frames = run(get(RSM).make_deframer(), s)
    assert [f.data for f in frames] == [p]
    assert frames[0].meta["length_byte"] == n + 33 and frames[0].crc_ok


def test_rs_mode_layout():
    fr = get(RSM).make_framer(preamble_bytes=3)
    p = b"\x82\xa8\x36\x00abc"
    bits = fr.frame(p)
    from groundseg.dsp import fec
    plain = fec.MultiplicativeDescrambler(fec.G3RUH_POLY, 0).descramble(bits)
    raw = np.packbits(plain).tobytes()
    assert raw[:8] == b"\xaa\xaa\xaa\x93\x0b\x51\xde" + bytes([len(p) + 33])
    assert raw[8:8 + len(p)] == p and len(raw) == 3 + 4 + 1 + len(p) + 32
    with pytest.raises(InputError):
        fr.frame(bytes(223))


@pytest.mark.parametrize("chunk", [1, 13, 256, 5000, None])
def test_rs_mode_burst_chunking_and_polarity(chunk, rng):
    ps = [payload(n, rng) for n in (10, 200, 64)]
    s = soft(burst(RSM, ps, rng, gap=40), rng, noise=0.3)
    frames = run(get(RSM).make_deframer(), s, chunk)
    assert [f.data for f in frames] == ps
    inv = run(get(RSM).make_deframer(), -s, chunk)
    assert [f.data for f in inv] == ps and all(f.inverted for f in inv)


def test_rs_mode_corrects_16_byte_errors(rng):
    p = payload(120, rng)
    fr = get(RSM).make_framer(preamble_bytes=4)
    from groundseg.dsp import fec
    plain = fec.MultiplicativeDescrambler(fec.G3RUH_POLY, 0).descramble(fr.frame(p))
    bad = _flip_bytes(plain, 8 * 9, rng.choice(152, 16, replace=False), rng)
    s = soft(g3ruh_scramble(bad))
    (f,) = run(get(RSM).make_deframer(erasures=False), s)
    assert f.data == p and f.corrected == 16


def test_rs_mode_recovers_a_weak_wrong_length_byte(rng):
    p = payload(120, rng)
    fr = get(RSM).make_framer(preamble_bytes=4)
    from groundseg.dsp import fec
    plain = fec.MultiplicativeDescrambler(fec.G3RUH_POLY, 0).descramble(fr.frame(p))
    bad = plain.copy()
    bad[8 * 8 + 1] ^= 1                      # length byte bit 6 wrong on the air
    s = soft(g3ruh_scramble(bad))
    # after descrambling, that error touches symbols k, k+12, k+17: make those weak
    k = 8 * 8 + 1
    s_weak = s.copy()
    s_weak[k] *= 0.1
    (f,) = run(get(RSM).make_deframer(), s_weak)
    assert f.data == p and f.meta["length_flips"] == 1


# --- fuzz -----------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=600), st.sampled_from([ASM, RSM]))
def test_random_bits_give_no_frame(data, name):
    s = soft(bits_from_bytes(data))
    assert run(get(name).make_deframer(), s) == []


@settings(max_examples=40, deadline=None)
@given(st.binary(min_size=0, max_size=300), st.sampled_from([ASM, RSM]))
def test_valid_sync_with_garbage_after_it(garbage, name):
    head = bits_from_bytes(b"\xaa" * 4) if name == ASM else np.zeros(0, np.uint8)
    bits = np.concatenate([head, bits_from_int(SYNC_AX100, 32), bits_from_bytes(garbage)])
    if name == RSM:
        bits = g3ruh_scramble(np.concatenate([bits_from_bytes(b"\xaa" * 4), bits]))
    assert run(get(name).make_deframer(), soft(bits)) == []


@pytest.mark.parametrize("name", [ASM, RSM])
def test_constant_streams_and_truncated_frames(name, rng):
    for v in (0.0, 1.0, -1.0):
        assert run(get(name).make_deframer(), np.full(20000, v, np.float32)) == []
    bits = get(name).make_framer().frame(payload(150, rng))
    for cut in (40, 90, 200, len(bits) - 8):
        assert run(get(name).make_deframer(), soft(bits[:cut]), 100) == []


# --- corpus ---------------------------------------------------------------------

def _recordings(framing):
    from groundseg.corpus import default_corpus_dir
    path = default_corpus_dir() / "manifest.json"
    if not path.is_file():
        return [pytest.param(None, marks=pytest.mark.corpus, id=f"{framing}-no-corpus")]
    recs = json.loads(path.read_text())["recordings"]
    return [pytest.param(r, id=r["file"], marks=pytest.mark.corpus) for r in recs
            if any(t.get("framing") == framing for t in r.get("transmitters", []))]


def decode_recording_frames(corpus, rec, framings):
    from groundseg.blocks.sources import SourceSpec
    from groundseg.decode import chains_for_norad, decode
    chains, _ = chains_for_norad(int(rec["norad"]))
    chains = [c for c in chains if c.transmitter.framing in framings]
    assert chains, f"no catalog transmitter with framing {framings} for {rec['satellite']}"
    res = decode(SourceSpec(kind="wav", path=str(corpus / rec["file"])), chains)
    return [f for f in res.frames if f["framing"] in framings]


@pytest.mark.parametrize("rec", _recordings(ASM) + _recordings(RSM))
def test_corpus_recording(corpus, rec):
    assert rec is not None
    frames = decode_recording_frames(corpus, rec, {ASM, RSM})
    assert all(f["crc_ok"] for f in frames)
    assert len(frames) >= int(rec["reference_frames"]), \
        f"{rec['file']}: {len(frames)} frames, reference {rec['reference_frames']}"

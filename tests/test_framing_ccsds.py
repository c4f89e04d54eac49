"""CCSDS TM framings: "CCSDS Uncoded", "CCSDS Reed-Solomon", "CCSDS Concatenated"."""
import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from groundseg.dsp import fec
from groundseg.errors import InputError
from groundseg.framing import get
from groundseg.framing._sync import bits_from_bytes, bits_from_int
from groundseg.framing.ccsds import ASM, CcsdsDeframer, CcsdsFramer, parse_primary_header

UNC = "CCSDS Uncoded"
RS = "CCSDS Reed-Solomon"
CC = "CCSDS Concatenated"
CODING = {UNC: "uncoded", RS: "rs", CC: "concatenated"}


def soft(bits, rng=None, noise=0.0):
    s = 2.0 * np.asarray(bits, np.float32) - 1.0
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


def tm_frame(n, rng, scid=0x2A5, vcid=3, mc=7, vc=9):
    """A TM transfer frame of n bytes: primary header + random data field."""
    w0 = (scid << 4) | (vcid << 1) | 1
    hdr = w0.to_bytes(2, "big") + bytes([mc, vc]) + (0x1800 | 0x123).to_bytes(2, "big")
    return (hdr + rng.integers(0, 256, max(0, n - 6), dtype=np.uint8).tobytes())[:n]


def stream(name, payloads, rng, lead=77, tail=300, **opts):
    """Random bits, then the frames back to back, then random bits."""
    fr = get(name).make_framer(**opts)
    parts = [rng.integers(0, 2, lead).astype(np.uint8), fr.frames(payloads),
             rng.integers(0, 2, tail).astype(np.uint8)]
    return np.concatenate(parts)


def encode_line(codeblocks, convolutional=None, precoding=False, tail=0, asms=None):
    """ASM + given (already RS coded/randomized, maybe corrupted) codeblocks -> channel bits
    (``tail`` zero bits after the last frame, through the same precoder/encoder;
    ``asms``: the 32-bit words to send instead of the ASM, per frame)."""
    asms = asms or [ASM] * len(codeblocks)
    bits = np.concatenate([np.concatenate([bits_from_int(a, 32), bits_from_bytes(cb.tobytes())])
                           for a, cb in zip(asms, codeblocks)] + [np.zeros(tail, np.uint8)])
    if precoding:
        bits = fec.differential_encode(bits)
    if convolutional:
        bits = fec.ConvEncoder(convolutional).encode(bits)
    return bits


def corrupt_codewords(cb, depth, per_codeword, rng, exclude_fill=0):
    """XOR ``per_codeword`` random nonzero bytes into each interleaved codeword."""
    cb = cb.copy()
    n = cb.size // depth
    for i in range(depth):
        pos = rng.choice(n, per_codeword[i] if np.ndim(per_codeword) else per_codeword, replace=False)
        cb[pos * depth + i] ^= rng.integers(1, 256, len(pos), dtype=np.uint8)
    return cb


# --- facts ---------------------------------------------------------------------------

def test_registered_names_options_and_variants_of_one_class():
    for name, coding in CODING.items():
        spec = get(name)
        d = spec.make_deframer()
        assert type(d) is CcsdsDeframer and d.params.coding == coding
        assert type(spec.make_framer()) is CcsdsFramer
    assert set(get(CC).options) == {"frame_size", "precoding", "scrambler", "syncword_threshold",
                                    "fecf", "rs_basis", "rs_interleaving", "convolutional"}
    assert "convolutional" not in get(RS).options and "rs_basis" not in get(UNC).options
    # the catalog's options validate, bad ones are refused with a message
    assert get(CC).check_options({"precoding": "differential", "rs_basis": "conventional",
                                  "frame_size": 114}) == []
    assert get(RS).check_options({"frame_size": 1115, "rs_basis": "dual", "rs_interleaving": 5}) == []
    for bad in ({"rs_interleaving": 9}, {"rs_basis": "triple"}, {"precoding": "nrzi"},
                {"scrambler": "G3RUH"}, {"convolutional": "Voyager"}, {"frame_size": "223"}):
        assert get(CC).check_options(bad), bad
    assert get(UNC).check_options({"rs_basis": "dual"})


@pytest.mark.parametrize("kwargs, message", [
    ({"frame_size": 1115, "rs_interleaving": 4}, "not a multiple"),
    ({"frame_size": 224}, "frame_size must be"),
    ({"frame_size": 0}, "frame_size must be"),
    ({"frame_size": 9 * 223, "rs_interleaving": 9}, "rs_interleaving"),
    ({"rs_basis": "dual-ish"}, "rs_basis"),
    ({"precoding": "NRZ-I"}, "precoding"),
    ({"scrambler": "off"}, "scrambler"),
    ({"convolutional": "Galileo"}, "convolutional"),
    ({"syncword_threshold": 12}, "syncword_threshold"),
    ({"frame_size": True}, "integer"),
])
def test_bad_configuration_is_one_clear_error(kwargs, message):
    with pytest.raises(InputError, match=message):
        get(CC).make_deframer(**kwargs)
    with pytest.raises(InputError, match=message):
        get(CC).make_framer(**kwargs)


def test_uncoded_frame_size_limits():
    get(UNC).make_deframer(frame_size=2048)
    with pytest.raises(InputError, match="1..2048"):
        get(UNC).make_deframer(frame_size=2049)
    with pytest.raises(InputError, match="'auto'"):
        get(CC).make_framer(convolutional="auto")


def test_framer_refuses_wrong_payload_length(rng):
    with pytest.raises(InputError, match="must be 114 bytes, not 113"):
        get(RS).make_framer(frame_size=114).frame(bytes(113))
    with pytest.raises(InputError, match="must be 221 bytes"):
        get(RS).make_framer(fecf=True).frame(bytes(223))


def test_asm_then_randomizer_sequence_on_an_all_zero_frame():
    """131.0-B: ASM 1ACFFC1D, then the randomizer sequence starting FF 48 0E C0 9A."""
    bits = get(UNC).make_framer(frame_size=5).frame(bytes(5))
    assert np.packbits(bits).tobytes() == bytes.fromhex("1ACFFC1D" "FF480EC09A")
    bits = get(UNC).make_framer(frame_size=5, scrambler="none").frame(bytes(5))
    assert np.packbits(bits).tobytes() == bytes.fromhex("1ACFFC1D") + bytes(5)


@pytest.mark.parametrize("dual", [False, True])
def test_rs_codeblock_layout_interleaving_shortening_and_basis(dual, rng):
    """Codeblock = data bytes in place, then parity; codeword i holds bytes i, i+I, ...;
    a shortened codeword equals the full code's codeword with the virtual fill removed."""
    depth, k = 3, 100
    data = rng.integers(0, 256, depth * k, dtype=np.uint8)
    fr = get(RS).make_framer(frame_size=depth * k, rs_interleaving=depth, scrambler="none",
                             rs_basis="dual" if dual else "conventional")
    cb = fr.codeblock(data.tobytes())
    assert cb.size == depth * (k + 32) and (cb[:depth * k] == data).all()
    full = fec.ReedSolomon(dual_basis=dual)
    for i in range(depth):
        cw = full.encode_codeword(np.concatenate([np.zeros(223 - k, np.uint8), data[i::depth]]))
        assert (cb[i::depth] == cw[223 - k:]).all()
    if dual:   # the dual-basis parity is the conventional parity of the converted data, converted
        conv = fec.ReedSolomon(dual_basis=False)
        fill = np.zeros(223 - k, np.uint8)
        p = conv.encode(np.concatenate([fill, fec.dual_to_conventional(data[0::depth])]))
        assert (cb[depth * k::depth] == fec.conventional_to_dual(p)).all()


def test_tm_and_aos_primary_header_parsing(rng):
    kind, h = parse_primary_header(tm_frame(20, rng))
    assert kind == "tm"
    assert (h["version"], h["spacecraft_id"], h["vcid"], h["ocf"], h["mc_count"], h["vc_count"]) == \
        (0, 0x2A5, 3, 1, 7, 9)
    assert (h["secondary_header"], h["sync"], h["packet_order"], h["segment_length_id"],
            h["first_header_pointer"]) == (0, 0, 0, 3, 0x123)
    kind, h = parse_primary_header(bytes.fromhex("4A 85 01 02 03 80"))
    assert kind == "aos" and (h["spacecraft_id"], h["vcid"], h["vc_count"], h["replay"]) == \
        (0x2A, 5, 0x010203, 1)
    assert parse_primary_header(bytes.fromhex("C0 00 00 00 00 00")) is None
    assert parse_primary_header(b"\x00\x01") is None


# --- round trips -------------------------------------------------------------------

SIZES = {1: (223, 114, 1), 2: (446, 60), 3: (669, 21), 4: (892, 200), 5: (1115, 500),
         6: (1338, 90), 7: (1561, 7), 8: (1784, 1000)}


@pytest.mark.parametrize("depth", range(1, 9))
@pytest.mark.parametrize("basis", ["conventional", "dual"])
def test_rs_round_trip_with_16_byte_errors_per_codeword(depth, basis, rng):
    for frame_size in SIZES[depth]:
        opts = dict(frame_size=frame_size, rs_basis=basis, rs_interleaving=depth)
        fr = get(RS).make_framer(**opts)
        payloads = [tm_frame(frame_size, rng) for _ in range(2)]
        cbs = [corrupt_codewords(fr.codeblock(p), depth, min(16, frame_size // depth + 32), rng)
               for p in payloads]
        bits = np.concatenate([rng.integers(0, 2, 50).astype(np.uint8), encode_line(cbs),
                               rng.integers(0, 2, 50).astype(np.uint8)])
        got = run(get(RS).make_deframer(**opts), soft(bits))
        assert [f.data for f in got] == payloads
        n_err = min(16, frame_size // depth + 32)
        for f in got:
            assert f.crc_ok is True and f.corrected == depth * n_err
            assert f.meta["ccsds"]["rs_corrected"] == [n_err] * depth
            assert f.meta["ccsds"]["viterbi"] is False
        if frame_size >= 6:
            assert got[0].meta["tm"]["spacecraft_id"] == 0x2A5


@pytest.mark.parametrize("depth", range(1, 9))
@pytest.mark.parametrize("basis", ["conventional", "dual"])
def test_concatenated_round_trip_with_16_byte_errors_per_codeword(depth, basis, rng):
    """Byte errors put into the codeblock before the convolutional encoder (as if the
    Viterbi decoder had left them): the RS decoder removes 16 per codeword."""
    frame_size = SIZES[depth][1]        # shortened sizes keep the Viterbi work small
    opts = dict(frame_size=frame_size, rs_basis=basis, rs_interleaving=depth)
    fr = get(CC).make_framer(**opts)
    payloads = [tm_frame(frame_size, rng) for _ in range(2)]
    cbs = [corrupt_codewords(fr.codeblock(p), depth, 16, rng) for p in payloads]
    bits = encode_line(cbs, "CCSDS", tail=40)
    got = run(get(CC).make_deframer(**opts), soft(bits, rng, 0.3))
    assert [f.data for f in got] == payloads
    assert all(f.crc_ok and f.corrected == 16 * depth and f.meta["ccsds"]["viterbi"] for f in got)


@pytest.mark.parametrize("name", [RS, CC])
def test_seventeen_errors_in_one_codeword_fail(name, rng):
    opts = dict(frame_size=2 * 50, rs_interleaving=2)
    fr = get(name).make_framer(**opts)
    p = tm_frame(100, rng)
    cb = corrupt_codewords(fr.codeblock(p), 2, [3, 17], rng)
    bits = encode_line([cb], "CCSDS" if name == CC else None)
    bits = np.concatenate([bits, np.zeros(200, np.uint8)])
    assert run(get(name).make_deframer(**opts), soft(bits)) == []
    (f,) = run(get(name).make_deframer(keep_invalid=True, **opts), soft(bits))
    assert f.crc_ok is False and f.meta["ccsds"]["rs_corrected"] == [3, -1]


@pytest.mark.parametrize("name", [UNC, RS, CC])
@pytest.mark.parametrize("chunk", [None, 1, 13, 1000])
def test_any_chunking_gives_the_same_frames_and_ends(name, chunk, rng):
    opts = dict(frame_size=60)
    payloads = [tm_frame(60, rng, mc=i) for i in range(3)]
    bits = stream(name, payloads, rng, lead=77, **opts)
    got = run(get(name).make_deframer(**opts), soft(bits), chunk)
    assert [f.data for f in got] == payloads
    per = {UNC: 32 + 8 * 60, RS: 32 + 8 * 92, CC: 2 * (32 + 8 * 92)}[name]
    assert [f.end_symbol for f in got] == [77 + per * (i + 1) for i in range(len(payloads))]
    assert all(f.crc_ok is (None if name == UNC else True) for f in got)


@pytest.mark.parametrize("name", [UNC, RS])
def test_inverted_polarity_and_asm_errors(name, rng):
    payloads = [tm_frame(40, rng)]
    bits = stream(name, payloads, rng, lead=50, frame_size=40)
    s = soft(bits)
    s[55] *= -1                         # one ASM bit error: tolerated by both
    (f,) = run(get(name).make_deframer(frame_size=40), -s)
    assert f.inverted and f.data == payloads[0]
    s[60] *= -1                         # two: only the coded framing (threshold 4) takes it
    got = run(get(name).make_deframer(frame_size=40), -s)
    assert len(got) == (0 if name == UNC else 1)
    assert len(run(get(name).make_deframer(frame_size=40, syncword_threshold=2), -s)) == 1


@pytest.mark.parametrize("name", [UNC, RS, CC])
def test_differential_precoding_removes_the_polarity_ambiguity(name, rng):
    opts = dict(frame_size=50, precoding="differential")
    payloads = [tm_frame(50, rng, mc=i) for i in range(2)]
    bits = stream(name, payloads, rng, **opts)
    for sign in (1, -1):
        got = run(get(name).make_deframer(**opts), sign * soft(bits))
        assert [f.data for f in got] == payloads
        assert not any(f.inverted for f in got)
    # without the option the same symbols give nothing
    assert run(get(name).make_deframer(frame_size=50), soft(bits)) == []


def test_concatenated_ambiguities_phase_offset_and_inversion(rng):
    """180 degrees (inverted symbols) and the pair alignment (one symbol more or less)."""
    opts = dict(frame_size=80)
    payloads = [tm_frame(80, rng, mc=i) for i in range(2)]
    for lead in (100, 101):
        bits = stream(CC, payloads, rng, lead=lead, **opts)
        for sign in (1, -1):
            got = run(get(CC).make_deframer(**opts), sign * soft(bits, rng, 0.5))
            assert [f.data for f in got] == payloads
            assert all(f.inverted == (sign < 0) for f in got)
            assert {f.meta["ccsds"]["lane"] for f in got} == {lead % 2}


@pytest.mark.parametrize("convention", list(fec.CONVENTIONS))
def test_every_convention_and_auto(convention, rng):
    opts = dict(frame_size=40)
    payloads = [tm_frame(40, rng)]
    bits = stream(CC, payloads, rng, convolutional=convention, **opts)
    got = run(get(CC).make_deframer(convolutional=convention, **opts), soft(bits))
    assert [f.data for f in got] == payloads
    got = run(get(CC).make_deframer(convolutional="auto", **opts), soft(bits))
    assert [f.data for f in got] == payloads and got[0].meta["ccsds"]["convention"] == convention
    # the conventions are distinct codes: another convention's decoder finds nothing
    others = [c for c in fec.CONVENTIONS if c != convention]
    assert all(run(get(CC).make_deframer(convolutional=c, **opts), soft(bits)) == [] for c in others)


def test_nasa_dsn_is_ccsds_with_the_symbols_of_each_pair_swapped(rng):
    bits = rng.integers(0, 2, 200).astype(np.uint8)
    a = fec.ConvEncoder("CCSDS").encode(bits).reshape(-1, 2)
    b = fec.ConvEncoder("NASA-DSN").encode(bits).reshape(-1, 2)
    assert (a[:, ::-1] == b).all()


def test_concatenated_soft_noise_and_scale_independence(rng):
    """Es/N0 = 1 dB (Eb/N0 about 4.6 dB): every frame decodes, at any amplitude."""
    opts = dict(frame_size=223, rs_basis="dual")
    payloads = [tm_frame(223, rng, mc=i) for i in range(3)]
    bits = stream(CC, payloads, rng, **opts)
    sigma = np.sqrt(1 / (2 * 10 ** 0.1))
    s = soft(bits, rng, sigma)
    for scale in (1.0, 3e-4, 250.0):
        got = run(get(CC).make_deframer(**opts), (scale * s).astype(np.float32), 4096)
        assert [f.data for f in got] == payloads
    # the same frames as hard decisions need RS help more often: soft decisions matter
    assert sum(f.corrected for f in got) <= sum(
        f.corrected for f in run(get(CC).make_deframer(**opts), np.sign(s).astype(np.float32)))


def test_fecf_is_checked_and_stripped(rng):
    opts = dict(frame_size=40, fecf=True)
    p = tm_frame(38, rng)
    bits = stream(UNC, [p], rng, **opts)
    (f,) = run(get(UNC).make_deframer(**opts), soft(bits))
    assert f.data == p and f.crc_ok is True
    s = soft(bits)
    s[77 + 32 + 100] *= -1
    assert run(get(UNC).make_deframer(**opts), s) == []
    (f,) = run(get(UNC).make_deframer(keep_invalid=True, **opts), s)
    assert f.crc_ok is False
    # uncoded without FECF: no check at all
    (f,) = run(get(UNC).make_deframer(frame_size=40), soft(stream(UNC, [p + b"xy"], rng, frame_size=40)))
    assert f.crc_ok is None and f.corrected is None


def test_framer_is_continuous_across_frames(rng):
    """frames() = the continuous downlink: one encoder for all frames."""
    opts = dict(frame_size=30, precoding="differential")
    ps = [tm_frame(30, rng, mc=i) for i in range(3)]
    one = get(CC).make_framer(**opts).frames(ps)
    fr = get(CC).make_framer(**opts)
    cbs = [fr.codeblock(p) for p in ps]
    assert (one == encode_line(cbs, "CCSDS", precoding=True)).all()
    fr.frame(ps[0])
    fr.reset()
    assert (fr.frame(ps[0]) == one[:one.size // 3]).all()


def test_non_finite_symbols_do_not_break_the_decoder(rng):
    opts = dict(frame_size=40)
    p = tm_frame(40, rng)
    s = soft(stream(CC, [p], rng, **opts))
    s[5] = np.nan
    s[9] = np.inf
    s[300] = -np.inf
    assert [f.data for f in run(get(CC).make_deframer(**opts), s)] == [p]


# --- synchronisation: flywheel, encoded ASM, shifted codeblocks -----------------------

def test_sync_deframer_reports_sync_errors_and_runs_the_flywheel(rng):
    """The two things the shared SyncDeframer gained for CCSDS, on a toy framing."""
    from groundseg.framing._sync import SyncDeframer
    from groundseg.framing.base import Frame

    class Toy(SyncDeframer):
        sync_bits = bits_from_int(ASM, 32)
        max_sync_errors = 3
        max_frame_symbols = 16

        def decode_frame(self, soft, start_symbol):
            fr = Frame(data=bytes(np.packbits(soft > 0)), end_symbol=0,
                       meta={"errors": self.sync_errors, "flywheel": self.flywheel})
            if fr.data[0] == 0xA5:
                self.expect(start_symbol + 16 + 32)
            return fr

    words = [ASM ^ 0b101, ASM ^ 0xFFFF, ASM]        # 2 errors, 16 (only the flywheel), exact
    bits = np.concatenate([rng.integers(0, 2, 40).astype(np.uint8)] + [
        np.concatenate([bits_from_int(w, 32), bits_from_bytes(b"\xa5" + bytes([i]))])
        for i, w in enumerate(words)])
    for chunk in (None, 1, 7):
        got = run(Toy(), -soft(bits), chunk)
        assert [f.data[1] for f in got] == [0, 1, 2]
        assert [(f.meta["errors"], f.meta["flywheel"], f.inverted) for f in got] == \
            [(2, False, True), (16, True, True), (0, False, True)]

BROKEN_ASM = ASM ^ 0x8421_0F0F          # 12 bits wrong: not found by correlation


@pytest.mark.parametrize("name", [RS, CC])
def test_flywheel_decodes_the_frame_after_a_good_one_without_its_asm(name, rng):
    opts = dict(frame_size=100)
    fr = get(name).make_framer(**opts)
    payloads = [tm_frame(100, rng, mc=i) for i in range(4)]
    cbs = [fr.codeblock(p) for p in payloads]
    conv = "CCSDS" if name == CC else None
    bits = encode_line(cbs, conv, asms=[ASM, BROKEN_ASM, BROKEN_ASM, ASM], tail=64)
    got = run(get(name).make_deframer(**opts), soft(bits))
    assert [f.data for f in got] == payloads
    assert [bool(f.meta["ccsds"].get("flywheel")) for f in got] == [False, True, True, False]
    assert got[1].meta["ccsds"]["asm_errors"] == 12
    # without a good frame before it there is nothing to go by
    got = run(get(name).make_deframer(**opts), soft(encode_line(cbs[1:2], conv, asms=[BROKEN_ASM],
                                                                  tail=64)))
    assert got == []


def test_flywheel_into_noise_gives_nothing_even_with_keep_invalid(rng):
    opts = dict(frame_size=100)
    bits = np.concatenate([stream(RS, [tm_frame(100, rng)], rng, tail=0, **opts),
                           rng.integers(0, 2, 3000).astype(np.uint8)])
    got = run(get(RS).make_deframer(keep_invalid=True, **opts), soft(bits))
    assert len([f for f in got if f.valid]) == 1 and not any(f.meta["ccsds"].get("flywheel")
                                                             for f in got)


def test_encoded_asm_finds_a_frame_the_decoded_search_misses(rng):
    """The ASM's last 26 pairs, damaged in 8 of their 52 symbols: the Viterbi decoder
    turns that into an error burst in the decoded ASM, the encoded-ASM search does not mind."""
    from groundseg.framing._ccsds_sync import encoded_asm
    sym, state, _ = encoded_asm("CCSDS", False)
    assert len(sym) == 52
    ref = fec.ConvEncoder("CCSDS", state=int(rng.integers(0, 64))).encode(
        np.concatenate([bits_from_int(ASM, 32), np.zeros(6, np.uint8)]))
    assert (ref[12:64] == sym).all()        # the same whatever the encoder state before the ASM
    opts = dict(frame_size=120)
    p = tm_frame(120, rng)
    bits = np.concatenate([rng.integers(0, 2, 301).astype(np.uint8),
                           stream(CC, [p], rng, lead=0, **opts)])
    s = soft(bits)
    s[301 + 12 + np.arange(8) * 6] *= -1          # 8 of the 52 stable symbols, spread
    got = run(get(CC).make_deframer(**opts), s)
    assert [f.data for f in got] == [p]
    assert got[0].meta["ccsds"]["coded_sync"] and got[0].meta["ccsds"]["asm_errors"] == 8
    # and inverted, at the other pair alignment
    got = run(get(CC).make_deframer(**opts), -s[1:])
    assert [f.data for f in got] == [p] and got[0].inverted


def test_full_length_codewords_shifted_by_whole_bytes_still_decode():
    """The hazard the deframer guards against (a fact about the code, both bases)."""
    for dual in (False, True):
        rs = fec.ReedSolomon(dual_basis=dual)
        cw = rs.encode_codeword(np.arange(223, dtype=np.uint8))
        assert rs.decode(np.roll(cw, -3))[1] == 0                   # cyclic shift: a codeword
        assert rs.decode(cw ^ np.uint8(0xFF))[1] == 0                # complement: a codeword
        assert rs.decode(fec.ccsds_randomize(np.zeros(255, np.uint8)))[1] == 0
        shifted = np.concatenate([cw[3:], np.array([0x1A, 0xCF, 0xFC], np.uint8)])
        assert rs.decode(shifted)[1] == 3                            # 3 "corrections"


@pytest.mark.parametrize("name, depth", [(RS, 1), (RS, 5), (CC, 1), (CC, 2)])
def test_false_asm_a_few_bytes_off_gives_no_false_frame(name, depth, rng):
    """A near-ASM (2 bit errors) planted whole bytes after a real ASM, inside the frame:
    the candidate there decodes to a shifted copy, which must not come out."""
    opts = dict(frame_size=223 * depth, rs_interleaving=depth)
    fr = get(name).make_framer(**opts)
    payloads = [tm_frame(223 * depth, rng, mc=i) for i in range(3)]
    cbs = [fr.codeblock(p) for p in payloads]
    near = ASM ^ 0x0000_0101
    for k, off in ((0, 4 * depth), (2, 8 * depth)):                # bytes into the codeblock
        cbs[k][off:off + 4] = np.frombuffer(near.to_bytes(4, "big"), np.uint8)
    conv = "CCSDS" if name == CC else None
    bits = encode_line(cbs, conv, tail=64)
    got = run(get(name).make_deframer(**opts), soft(bits))
    assert [f.data for f in got] == payloads
    # the real ASMs gone as well: the shifted copies must still not come out
    bits = encode_line(cbs, conv, tail=64, asms=[BROKEN_ASM] * 3)
    assert run(get(name).make_deframer(**opts), soft(bits)) == []


# --- fuzz --------------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=400), st.sampled_from([UNC, RS, CC]))
def test_random_bits_give_no_frame(data, name):
    s = soft(bits_from_bytes(data))
    assert run(get(name).make_deframer(frame_size=20), s) == []


@settings(max_examples=30, deadline=None)
@given(st.binary(min_size=0, max_size=120), st.sampled_from([RS, CC]),
       st.sampled_from([None, "differential"]))
def test_valid_asm_with_garbage_after_it(garbage, name, precoding):
    bits = np.concatenate([bits_from_int(ASM, 32), bits_from_bytes(garbage + bytes(60))])
    if precoding:
        bits = fec.differential_encode(bits)
    if name == CC:
        bits = fec.ConvEncoder().encode(bits)
    d = get(name).make_deframer(frame_size=20, precoding=precoding)
    assert run(d, soft(bits)) == []


@pytest.mark.parametrize("name", [UNC, RS, CC])
def test_constant_streams_and_truncated_frames(name, rng):
    for v in (0.0, 1.0, -1.0):
        got = run(get(name).make_deframer(frame_size=20), np.full(5000, v, np.float32))
        assert got == []
    bits = get(name).make_framer(frame_size=100).frame(tm_frame(100, rng))
    for cut in (20, 64, 200, len(bits) * 2 // 3):
        assert run(get(name).make_deframer(frame_size=100), soft(bits[:cut]), 97) == []


def test_noise_gives_no_coded_frame_and_bounded_buffers(rng):
    for name in (RS, CC):
        d = get(name).make_deframer(frame_size=223)
        got = []
        for _ in range(10):
            got += d.process(rng.standard_normal(4000).astype(np.float32))
        assert got == []
        bufs = [d._sync._buf] if name == RS else [lane._sync._buf for lane in d._lanes]
        assert all(len(b) <= 8 * 255 + 4000 for b in bufs)


# --- corpus ------------------------------------------------------------------------

def _recordings():
    from conftest import corpus_dir
    path = corpus_dir() / "manifest.json"
    if not path.is_file():
        return [pytest.param(None, marks=pytest.mark.corpus, id="ccsds-no-corpus")]
    recs = json.loads(path.read_text())["recordings"]
    return [pytest.param(r, id=r["file"], marks=pytest.mark.corpus) for r in recs
            if any(str(t.get("framing", "")).startswith("CCSDS") for t in r.get("transmitters", []))]


@pytest.mark.parametrize("rec", _recordings())
def test_corpus_recording(corpus, rec):
    """Every transmitter of the satellite (the reference counts them all), CCSDS frames valid."""
    from groundseg.blocks.sources import SourceSpec
    from groundseg.decode import chains_for_norad, decode
    assert rec is not None
    chains, skipped = chains_for_norad(int(rec["norad"]))
    assert any(c.transmitter.framing.startswith("CCSDS") for c in chains)
    res = decode(SourceSpec(kind="wav", path=str(corpus / rec["file"])), chains)
    ccsds = [f for f in res.frames if f["framing"].startswith("CCSDS")]
    assert all(f["crc_ok"] is True for f in ccsds)
    assert len(res.frames) >= int(rec["reference_frames"]), \
        f"{rec['file']}: {len(res.frames)} frames ({len(ccsds)} CCSDS), reference " \
        f"{rec['reference_frames']}; skipped: {skipped}"

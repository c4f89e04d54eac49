"""S-NET framing: BCH(15,k) soft decoding, interleaving, the satellite's CRC5/CRC13."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from _custom_framing import (CHUNKINGS, decode_recording, flip, garbage_streams, noise_bits,
                             recordings, run, soft)
from groundseg.errors import InputError
from groundseg.framing import get
from groundseg.framing import _bch15 as bch
from groundseg.framing.snet import (HEADER_SYMBOLS, SYNC, crc5, crc13, header_bits,
                                    parse_header_bits, pdu_symbols)

NAME = "S-NET"
PRE = 64
HEAD = PRE + 32                          # preamble + sync

# Two LTU headers of S-NET A as received in the corpus recording (every BCH
# codeword clean): a frame with a 114-byte PDU and an empty one. Their CRC5
# fields are what the satellite computed.
REC_HEADER = {"SrcId": 0, "DstId": 127, "FrCntTx": 0, "FrCntRx": 0, "SNR": 15, "AiTypeSrc": 2,
              "AiTypeDst": 3, "DfcId": 0, "Caller": 0, "Arq": 0, "PduTypeId": 0, "BchRq": 0,
              "Hailing": 0, "UdFl1": 0, "PduLength": 114, "CRC13": 5203, "CRC5": 21}
REC_EMPTY = dict(REC_HEADER, PduLength=0, CRC13=8191, CRC5=14)


# --- BCH(15,k) ----------------------------------------------------------------------

@pytest.mark.parametrize("d,k", [(3, 11), (5, 7), (7, 5)])
def test_bch_codes_have_their_minimum_distance(d, k):
    wd = bch.weight_distribution(d)
    assert sum(wd.values()) == 2 ** k - 1
    assert min(wd) == d
    # cyclic: every codeword rotated is a codeword
    words = {bch.encode_word(m, d) for m in range(2 ** k)}
    assert all((((w << 1) | (w >> 14)) & 0x7FFF) in words for w in words)


def test_bch_recorded_codewords():
    # two header codewords as received from S-NET A (c_0 first); data = c_14..c_10
    for word, data in (("010011010111100", 0b00111), ("000100110101111", 0b11110)):
        bits = np.array([int(c) for c in word], np.uint8)
        assert bch.encode_word(data, 7) == sum(int(b) << i for i, b in enumerate(bits))


@pytest.mark.parametrize("d", [3, 5, 7])
def test_bch_soft_decoding_corrects_t_hard_errors(d, rng):
    k, t = bch.K_OF_D[d], (d - 1) // 2
    data = rng.integers(0, 2, (200, k)).astype(np.uint8)
    cw = bch.encode_bits(data.reshape(-1), d).reshape(-1, 15)
    for row in cw:
        row[rng.choice(15, t, replace=False)] ^= 1
    got, dist = bch.decode_soft(soft(cw.reshape(-1)), d)
    assert np.array_equal(got, data) and (dist == t).all()


def test_bch_soft_beats_hard_decisions(rng):
    # t + 1 = 4 errors on BCH(15,5,7), all weak: hard decoding must fail, ML does not
    data = rng.integers(0, 2, (100, 5)).astype(np.uint8)
    cw = bch.encode_bits(data.reshape(-1), 7).reshape(-1, 15)
    s = soft(cw.reshape(-1)).reshape(-1, 15)
    for row in s:
        pos = rng.choice(15, 4, replace=False)
        row[pos] *= -0.3
    got, dist = bch.decode_soft(s, 7)
    assert np.array_equal(got, data) and (dist == 4).all()


# --- header, CRCs --------------------------------------------------------------------

def test_crc5_matches_the_recorded_headers():
    for h in (REC_HEADER, REC_EMPTY):
        bits = header_bits(h)
        assert len(bits) == 70 and parse_header_bits(bits) == h
        assert crc5(bits) == h["CRC5"]


def test_crc13_of_an_empty_pdu_and_sensitivity():
    assert crc13(b"") == 0x1FFF
    a = bytes(range(114))
    assert crc13(a) != crc13(a[:-1] + b"\x00")


def test_layout_and_interleaving(rng):
    pdu = rng.integers(0, 256, 20, dtype=np.uint8).tobytes()
    bits = get(NAME).make_framer(preamble_bits=PRE).frame(pdu)
    assert int("".join(map(str, bits[PRE:HEAD])), 2) == SYNC
    hdr = bits[HEAD:HEAD + HEADER_SYMBOLS].reshape(15, 14).T      # codeword j = bits j::14
    data, dist = bch.decode_soft(soft(hdr.reshape(-1)), 7)
    assert (dist == 0).all()
    fields = parse_header_bits(data.reshape(-1))
    assert fields["PduLength"] == 20 and fields["AiTypeSrc"] == 2
    assert fields["CRC13"] == crc13(pdu)
    assert len(bits) == HEAD + HEADER_SYMBOLS + pdu_symbols(20, 2) == HEAD + 210 + 2 * 240


@pytest.mark.parametrize("ai", [0, 1, 2, 3])
@pytest.mark.parametrize("n", [1, 14, 15, 114, 300])
def test_round_trip_coding_and_lengths(ai, n, rng):
    pdu = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
    bits = get(NAME).make_framer(ai_type=ai).frame(pdu)
    # uncoded PDUs have only the (weak) CRC13: keep them clear of bit errors
    noise = 0.3 if ai else 0.15
    s = soft(np.concatenate([noise_bits(rng, 31), bits, noise_bits(rng, 31)]), rng, noise=noise)
    (f,) = run(get(NAME).make_deframer(), s)
    assert f.data == pdu and f.crc_ok is True
    assert f.meta["snet"]["AiTypeSrc"] == ai and f.meta["snet"]["PduLength"] == n


@pytest.mark.parametrize("chunk", CHUNKINGS)
def test_burst_any_chunking(chunk, rng):
    pdus = [rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in (114, 5, 60)]
    fr = get(NAME).make_framer()
    bits = np.concatenate([noise_bits(rng, 17), fr.frames(pdus, gap_bits=100)])
    frames = run(get(NAME).make_deframer(), soft(bits, rng, noise=0.4), chunk)
    assert [f.data for f in frames] == pdus


def test_inverted_polarity(rng):
    pdu = b"S-NET polarity"
    bits = get(NAME).make_framer().frame(pdu)
    (f,) = run(get(NAME).make_deframer(), soft(bits, invert=True))
    assert f.data == pdu and f.inverted


def test_corrects_t_errors_per_codeword(rng):
    pdu = rng.integers(0, 256, 50, dtype=np.uint8).tobytes()
    bits = get(NAME).make_framer(ai_type=2, preamble_bits=PRE).frame(pdu)
    errs = []
    for j in range(14):                              # 3 errors in every header codeword
        errs += [HEAD + 14 * i + j for i in rng.choice(15, 3, replace=False)]
    body = HEAD + HEADER_SYMBOLS
    for blk in range(pdu_symbols(50, 2) // 240):     # 2 in every PDU codeword
        for j in range(16):
            errs += [body + 240 * blk + 16 * i + j for i in rng.choice(15, 2, replace=False)]
    (f,) = run(get(NAME).make_deframer(), soft(flip(bits, errs)))
    assert f.data == pdu and f.corrected == len(errs)


def test_empty_frames_and_bad_crc(rng):
    pdu = rng.integers(0, 256, 40, dtype=np.uint8).tobytes()
    fr = get(NAME).make_framer(preamble_bits=PRE)
    bits = fr.frame(pdu)
    # an LTU frame with PduLength 0 (CRC5 recomputed) carries nothing
    empty_hdr = header_bits(dict(REC_EMPTY))
    empty = np.concatenate([bits[:HEAD], bch.encode_bits(empty_hdr, 7).reshape(14, 15).T.reshape(-1)])
    deframer = get(NAME).make_deframer()
    assert run(deframer, soft(empty)) == [] and deframer.stats["empty"] == 1
    # a PDU whose CRC13 field does not match: only with keep_invalid
    wrong = dict(REC_HEADER, PduLength=40, CRC13=(crc13(pdu) + 1) % 8192, CRC5=0)
    hb = header_bits(wrong)
    hb[65:] = [(crc5(hb) >> (4 - i)) & 1 for i in range(5)]
    bad = bits.copy()
    bad[HEAD:HEAD + HEADER_SYMBOLS] = bch.encode_bits(hb, 7).reshape(14, 15).T.reshape(-1)
    assert run(get(NAME).make_deframer(), soft(bad)) == []
    (f,) = run(get(NAME).make_deframer(keep_invalid=True), soft(bad))
    assert f.crc_ok is False and f.data == pdu


def test_pdu_codeword_beyond_t_is_invalid(rng):
    # ML decoding may land on the right word beyond t errors, but the CRC13 could not
    # tell a wrong one: such frames are refused unless the bound is raised
    pdu = rng.integers(0, 256, 14, dtype=np.uint8).tobytes()
    bits = get(NAME).make_framer(ai_type=2, preamble_bits=PRE).frame(pdu)
    body = HEAD + HEADER_SYMBOLS
    errs = [body + 16 * i for i in (0, 5, 9)]           # 3 errors in PDU codeword 0 (t = 2)
    s = soft(flip(bits, errs))
    s[errs] *= 0.2
    assert run(get(NAME).make_deframer(), s) == []
    (f,) = run(get(NAME).make_deframer(max_pdu_errors=3), s)
    assert f.data == pdu


def test_bad_arguments():
    with pytest.raises(InputError):
        get(NAME).make_framer(ai_type=4)
    with pytest.raises(InputError):
        get(NAME).make_framer().frame(b"")
    with pytest.raises(InputError):
        get(NAME).make_deframer(max_header_errors=9)
    with pytest.raises(InputError):
        header_bits({"SrcId": 200})


@settings(max_examples=60, deadline=None)
@given(garbage_streams, st.integers(1, 5000))
def test_fuzz_garbage_gives_nothing(bits, chunk):
    assert run(get(NAME).make_deframer(), soft(bits), chunk) == []


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 210 + 240 * 3 - 1), st.integers(0, 2**32 - 1))
def test_fuzz_truncated_or_garbage_after_sync(cut, seed):
    rng = np.random.default_rng(seed)
    good = get(NAME).make_framer(preamble_bits=PRE).frame(
        rng.integers(0, 256, 30, dtype=np.uint8).tobytes())
    assert run(get(NAME).make_deframer(), soft(good[:HEAD + cut])) == []
    garbage = np.concatenate([good[:HEAD], noise_bits(rng, 3000)])
    assert run(get(NAME).make_deframer(), soft(garbage)) == []


@pytest.mark.parametrize("rec", recordings(NAME))
def test_corpus_recording(corpus, rec):
    assert rec is not None
    frames = decode_recording(corpus, rec, {NAME})
    assert all(f["crc_ok"] for f in frames)
    assert len(frames) >= int(rec["reference_frames"]), \
        f"{rec['file']}: {len(frames)} frames, reference {rec['reference_frames']}"
    for f in frames:
        assert f["snet"]["PduLength"] == len(bytes.fromhex(f["hex"]))

"""GOMspace radio framings: the pieces the AX100 and U482C modules share (private).

Facts used here (from the public descriptions of the NanoCom AX100 / U482C
modes: Daniel Estévez's write-ups on GOMX-1 and GOMX-3, gr-satellites'
documentation of its ``ax100_deframer`` / ``u482c_deframer``, and checked on
the recordings in the corpus):

* Sync words: AX100 0x930B51DE, U482C 0xC3AA6655 (32 bits, MSB first, after an
  0x55/0xAA preamble).
* "Golay length field" (AX100 ASM+Golay mode and U482C): 24 bits right after
  the sync word, an extended Golay(24,12) codeword sent MSB first, 12 parity
  bits then 12 data bits (``groundseg.dsp.golay_ref`` documents the code). Of
  the 12 data bits, bits 7..0 are the number of bytes that follow on the air,
  bit 8 (0x100) says a K=7 r=1/2 convolutional code is used, bit 9 (0x200) the
  CCSDS randomizer, bit 10 (0x400) Reed-Solomon. The U482C sets these flags;
  the AX100 leaves them 0 (seen on every AX100 recording in the corpus) and
  always randomizes and RS-codes.
* Convolutional code (U482C only): NASA-DSN order (0o133 first, then 0o171),
  no inverted output, encoder flushed with 6 zero tail bits; ``n`` bytes on
  the air carry ``n // 2 - 1`` data bytes (the last 16 channel bits are the
  12 tail symbols and 4 padding symbols). Checked on AU02/AU03.
* Randomizer: the CCSDS one (h(x) = x^8+x^7+x^5+x^3+1, all-ones seed, 0xFF
  0x48 0x0E 0xC0...), XORed over the whole RS codeword, restarting every frame.
* Reed-Solomon: the CCSDS (255,223) code (field 0x187, first root 112,
  primitive element alpha^11, 32 parity bytes) in the *conventional* basis
  (not CCSDS' dual basis: checked on AISAT, GOMX-1, AISTECHSAT-3, GOMX-3), shortened
  by leaving out leading zeros: ``n`` received bytes are ``n - 32`` data bytes
  and 32 parity bytes.
* The data is a CSP (CubeSat Space Protocol v1) packet: a 32-bit header in
  network byte order -- priority 2 bits, source 5, destination 5, destination
  port 6, source port 6, reserved 4 (CSP 1.x uses its low bit for
  fragmentation), HMAC, XTEA, RDP, CRC flags -- then the data. Many
  satellites append a CRC-32C (Castagnoli) of the packet: over the data only
  or over header and data, and in either byte order (AISAT: data only,
  little-endian; AISTECHSAT-3, GOMX-3: data only, big-endian; FACSAT-1,
  INNOSAT-2, Suomi 100: header and data, big-endian), sometimes without setting the
  header's CRC flag (1KUNS-PF, TY-2). The deframers therefore test the four
  variants on every packet; a match (chance for a wrong packet: 4 in 2^32) is
  stripped and reported.

Frames are delivered as the CSP packet in the byte order it had on the air
(gr-satellites swaps the four header bytes to little-endian order before
output; we do not: ``meta["csp"]`` carries the parsed header).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from ..dsp import fec
from ..errors import InputError
from ._sync import SyncDeframer, bits_from_bytes, bits_from_int
from .base import Frame, Framer

SYNC_AX100 = 0x930B51DE
SYNC_U482C = 0xC3AA6655
PREAMBLE_BYTE = 0xAA

FLAG_VITERBI = 0x100
FLAG_SCRAMBLER = 0x200
FLAG_RS = 0x400
LENGTH_MASK = 0xFF

RS_PARITY = 32
RS_N = 255
RS_K = RS_N - RS_PARITY
CONV_CONVENTION = "NASA-DSN uninverted"
CONV_TAIL_BITS = 6
MIN_UNCHECKED_CONV_BYTES = 8
HEADER_SYMBOLS = 24
CSP_HEADER_BYTES = 4
CRC_BYTES = 4

MODES = ("auto", "on", "off")

# Erasure retries after a failed errors-only RS decode: erase the f least
# reliable bytes (smallest minimum |soft| over their 8 bits) and decode
# errors and erasures (2e + f <= 32). The chance that a wrong word (a false
# sync) decodes grows with f: about 1e-13 errors-only, 1e-9 with f = 8,
# 2e-7 with f = 12, 1e-5 with f = 16 for a 255-byte codeword (less for
# shorter ones), so we stop at 12. Measured gain on AWGN: about 0.1 dB at
# FER 1e-2 (bench_ax100_sensitivity); f = 16 added nothing measurable.
ERASURE_TRIALS = (4, 8, 12)


# --- codes ------------------------------------------------------------------------

def rs_code():
    """The CCSDS (255,223) Reed-Solomon code in the conventional basis."""
    return fec.ccsds_rs(dual_basis=False)


@lru_cache(maxsize=1)
def _golay_table() -> tuple[np.ndarray, np.ndarray]:
    """(codewords uint32[4096] indexed by data, +-1 float32[4096, 24] MSB first)."""
    words = fec.golay24_encode_array(np.arange(4096, dtype=np.uint16)).astype(np.uint32)
    shifts = np.arange(23, -1, -1, dtype=np.uint32)
    bits = ((words[:, None] >> shifts[None, :]) & 1).astype(np.float32)
    return words, 2.0 * bits - 1.0


def golay_encode_bits(field12: int) -> np.ndarray:
    return bits_from_int(fec.golay24_encode(int(field12)), HEADER_SYMBOLS)


def golay_candidates_soft(soft24: np.ndarray, count: int = 16,
                          max_errors: int = 24) -> list[tuple[int, int]]:
    """The ``count`` most likely length fields, best first: ``[(data12, hard_bit_errors)]``.

    Ranked by correlation with the soft symbols (maximum likelihood on a
    Gaussian channel); codewords more than ``max_errors`` bits from the hard
    decisions are left out.
    """
    words, pm = _golay_table()
    s = np.asarray(soft24, dtype=np.float32)
    corr = pm @ s
    count = max(1, min(int(count), len(corr)))
    top = np.argpartition(-corr, count - 1)[:count]
    top = top[np.argsort(-corr[top], kind="stable")]
    hard = s > 0
    out = []
    for c in top.tolist():
        errors = int(np.count_nonzero((pm[c] > 0) != hard))
        if errors <= max_errors:
            out.append((c, errors))
    return out


def golay_decode_soft(soft24: np.ndarray, max_errors: int = 5) -> tuple[int, int] | None:
    """Maximum-likelihood soft decoding of the 24-bit length field.

    Returns ``(data12, hard_bit_errors)`` for the codeword with the largest
    correlation with the soft symbols, or None when that codeword is more
    than ``max_errors`` bits away from the hard decisions. A hard-decision
    decoder stops at 3; soft ML decoding is right well beyond that (its word
    error rate at Es/N0 0.6 dB is under 1e-2 where 6 % of 24-bit words have
    more than 3 bit errors), and what follows (RS, CRC) rejects a wrong length.
    """
    words, pm = _golay_table()
    s = np.asarray(soft24, dtype=np.float32)
    corr = pm @ s
    best = int(np.argmax(corr))
    errors = int(np.count_nonzero((pm[best] > 0) != (s > 0)))
    if errors > max_errors:
        return None
    return best, errors


# --- CSP ----------------------------------------------------------------------------

def parse_csp_header(header: bytes) -> dict[str, Any]:
    """The CSP v1 header fields of a 4-byte big-endian header."""
    if len(header) < CSP_HEADER_BYTES:
        raise ValueError("a CSP header has 4 bytes")
    h = int.from_bytes(header[:4], "big")
    return {
        "priority": (h >> 30) & 0x3,
        "source": (h >> 25) & 0x1F,
        "destination": (h >> 20) & 0x1F,
        "destination_port": (h >> 14) & 0x3F,
        "source_port": (h >> 8) & 0x3F,
        "reserved": (h >> 4) & 0xF,
        "hmac": bool(h & 0x08),
        "xtea": bool(h & 0x04),
        "rdp": bool(h & 0x02),
        "crc": bool(h & 0x01),
    }


def make_csp_header(priority: int = 2, source: int = 1, destination: int = 10,
                    destination_port: int = 10, source_port: int = 0, flags: int = 0) -> bytes:
    for name, v, bits in (("priority", priority, 2), ("source", source, 5),
                          ("destination", destination, 5), ("destination_port", destination_port, 6),
                          ("source_port", source_port, 6), ("flags", flags, 8)):
        if not 0 <= int(v) < (1 << bits):
            raise InputError(f"CSP {name} must fit {bits} bits, not {v}")
    h = (priority << 30) | (source << 25) | (destination << 20) | (destination_port << 14) \
        | (source_port << 8) | flags
    return h.to_bytes(4, "big")


CRC_VARIANTS = (("data", "big"), ("header+data", "big"), ("data", "little"),
                ("header+data", "little"))


def csp_crc32c(packet: bytes, cover: str = "data", byteorder: str = "big") -> bytes:
    """The CRC-32C of a CSP packet (without CRC) as appended on the air."""
    if cover not in ("data", "header+data") or byteorder not in ("big", "little"):
        raise InputError(f"bad CSP CRC variant {cover!r}/{byteorder!r}")
    body = packet[CSP_HEADER_BYTES:] if cover == "data" else packet
    return int(fec.crc32c(body)).to_bytes(4, byteorder)


def split_csp_crc(packet: bytes) -> tuple[bytes, str | None]:
    """(packet without a matching trailing CRC-32C, the variant matched or None)."""
    if len(packet) < CSP_HEADER_BYTES + CRC_BYTES:
        return packet, None
    body, tail = packet[:-CRC_BYTES], packet[-CRC_BYTES:]
    for cover, order in CRC_VARIANTS:
        if csp_crc32c(body, cover, order) == tail:
            return body, f"{cover} {order}-endian"
    return packet, None


def csp_meta(packet: bytes) -> dict[str, Any]:
    """``meta`` entries for a decoded CSP packet (header fields, CRC)."""
    meta: dict[str, Any] = {}
    if len(packet) >= CSP_HEADER_BYTES:
        meta["csp"] = parse_csp_header(packet)
    return meta


def finish_packet(packet: bytes, meta: dict[str, Any]) -> bytes:
    """Strip a CSP CRC-32C that checks, record what was found in ``meta``."""
    body, variant = split_csp_crc(packet)
    meta.update(csp_meta(body))
    csp = meta.get("csp")
    if variant is not None:
        meta["csp_crc"] = variant
    elif csp is not None and csp["crc"]:
        meta["csp_crc"] = "mismatch"
    return body


# --- soft helpers ------------------------------------------------------------------

def soft_bytes(soft: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(hard bytes, per-byte reliability = min |soft| of its 8 bits); len % 8 == 0."""
    s = np.asarray(soft, dtype=np.float32).reshape(-1, 8)
    hard = np.packbits((s > 0).astype(np.uint8), axis=1).reshape(-1)
    return hard, np.abs(s).min(axis=1)


def shifted_codeword(corrected: np.ndarray, received: np.ndarray) -> bool:
    """True when a decode looks like a shorter codeword read with a too-large length.

    The RS code is cyclic: a codeword c(x) followed by d more bytes, read as
    one longer word, is within d symbol errors of the codeword x^d c(x),
    which ends in d zero bytes. So a length field too large by up to 16
    bytes would "decode" (parity bytes turning up as data). We reject a
    decode whose trailing zero bytes were not all received as zeros; a
    genuine frame is rejected only if its last parity byte is 0 and was hit
    by an error (~1e-4 of frames at FER 1e-2).
    """
    nz = np.flatnonzero(corrected)
    tail = len(corrected) - (int(nz[-1]) + 1 if nz.size else 0)
    return tail > 0 and bool(np.any(received[len(received) - tail:]))


def rs_decode_soft(codeword: np.ndarray, reliability: np.ndarray | None,
                   erasure_trials=ERASURE_TRIALS) -> tuple[np.ndarray | None, int, int]:
    """Errors-only RS decoding, then (with reliabilities) errors-and-erasures retries.

    Returns ``(data or None, bytes corrected, bytes erased)``. A decode that
    ``shifted_codeword`` flags counts as a failure.
    """
    rs = rs_code()
    buf = np.array(codeword, dtype=np.uint8)
    if not RS_PARITY < buf.size <= RS_N:
        return None, -1, 0
    work = buf.copy()
    n = rs.decode_inplace(work)
    if n >= 0:
        if shifted_codeword(work, buf):
            return None, -1, 0
        return work[:-RS_PARITY], n, 0
    if reliability is None:
        return None, -1, 0
    order = np.argsort(reliability, kind="stable")
    for f in erasure_trials:
        if f >= buf.size - 1 or f > RS_PARITY:
            break
        work = buf.copy()
        n = rs.decode_inplace(work, erasures=np.sort(order[:f]))
        if n >= 0:
            if shifted_codeword(work, buf):
                return None, -1, 0
            return work[:-RS_PARITY], n, f
    return None, -1, 0


# --- the Golay length-field framing (AX100 ASM+Golay, U482C) ------------------------

def _mode(name: str, value: str) -> str:
    if value not in MODES:
        raise InputError(f"{name} must be one of {list(MODES)}, not {value!r}")
    return value


def _uses(mode: str, flags: int, bit: int) -> bool:
    return mode == "on" or (mode == "auto" and bool(flags & bit))


class GolayFramedDeframer(SyncDeframer):
    """Sync word, Golay(24,12) length field, [Viterbi], [CCSDS randomizer], [RS].

    ``viterbi``, ``scrambler``, ``rs``: "auto" follows the length field's
    flags, "on"/"off" force (the AX100 ASM+Golay mode forces scrambler and RS
    on, Viterbi off). ``erasures``: retry failed RS words with the least
    reliable bytes erased (soft-decision gain; off for the plain decoder).

    Length field: list decoding. The ``golay_list`` most likely valid fields
    (soft ML ranking, at most ``max_golay_errors`` bits from the hard
    decisions) are tried in turn until one gives a frame that passes its
    checks (RS or CSP CRC); the RS check makes a wrong length harmless
    (errors-only RS decoding of a wrong word succeeds with probability
    ~1e-13, a too-large length is caught by ``shifted_codeword``; the
    erasure retries, riskier, are only made for the most likely length).
    This matters with the convolutional code, where the uncoded length field
    sits at Es/N0 near 0 dB: at Eb/N0 3.5 dB (90-byte U482C packets, frame
    position known), 3 candidates instead of 1 took the FER from 4 % to 1 %
    in the setup of bench_ax100_sensitivity.

    Frames without any check (no RS and no CSP CRC) are delivered, with
    ``crc_ok=None``, only from the most likely length field, only when it
    was received without error, and only when the convolutional code was
    used and its decoder changed fewer than ``max_conv_error_rate`` (8 %) of
    the channel bits of a frame of at least 8 data bytes (the best path
    through random symbols differs from them in about 11 % or more, the
    rate-distortion limit of a rate-1/2 code; below 8 % on 140 random
    symbols has probability ~1e-4), or ``accept_unchecked`` is set. Without
    that rule, noise alone yields such "frames": a false sync (about 2.5 per
    second at 4800 baud with 6 sync errors allowed) carries an error-free
    random length field with probability 2.4e-4, half of those flag no RS:
    one garbage frame every hour or so.
    """

    max_frame_symbols = HEADER_SYMBOLS + 8 * 255
    decode_short_at_end = True     # a longer length candidate may not fit the stream's end

    def __init__(self, sync_word: int, *, viterbi: str = "auto", scrambler: str = "auto",
                 rs: str = "auto", max_sync_errors: int = 4, erasures: bool = True,
                 keep_invalid: bool = False, max_conv_error_rate: float = 0.08,
                 max_golay_errors: int = 6, golay_list: int = 3,
                 accept_unchecked: bool = False) -> None:
        self.sync_bits = bits_from_int(sync_word, 32)
        self.accept_unchecked = bool(accept_unchecked)
        self.max_sync_errors = int(max_sync_errors)
        self.max_golay_errors = int(max_golay_errors)
        self.golay_list = max(1, int(golay_list))
        self.viterbi = _mode("viterbi", viterbi)
        self.scrambler = _mode("scrambler", scrambler)
        self.rs = _mode("rs", rs)
        self.erasures = bool(erasures)
        self.keep_invalid = bool(keep_invalid)
        self.max_conv_error_rate = float(max_conv_error_rate)
        self._header_cache: dict[bytes, list[tuple[int, int, int]]] = {}
        super().__init__()

    def _valid(self, field: int) -> bool:
        n = field & LENGTH_MASK
        flags = field & ~LENGTH_MASK
        coded = (n // 2 - 1) if _uses(self.viterbi, flags, FLAG_VITERBI) else n
        return coded >= 1 and not (_uses(self.rs, flags, FLAG_RS) and coded <= RS_PARITY)

    def _headers(self, head: np.ndarray) -> list[tuple[int, int, int]]:
        """[(bytes on the air, flags, Golay bit errors)], most likely first."""
        key = np.ascontiguousarray(head[:HEADER_SYMBOLS], dtype=np.float32).tobytes()
        hit = self._header_cache.get(key)
        if hit is not None:
            return hit
        cands = golay_candidates_soft(head[:HEADER_SYMBOLS], 4 * self.golay_list + 4,
                                      self.max_golay_errors)
        out = [(f & LENGTH_MASK, f & ~LENGTH_MASK, e) for f, e in cands if self._valid(f)]
        out = out[:self.golay_list]
        if len(self._header_cache) >= 64:        # candidates waiting for their symbols
            self._header_cache.pop(next(iter(self._header_cache)))
        self._header_cache[key] = out
        return out

    def frame_symbols(self, head: np.ndarray) -> int | None:
        if len(head) < HEADER_SYMBOLS:
            return None
        hdrs = self._headers(head)
        if not hdrs:
            return 0
        return HEADER_SYMBOLS + 8 * max(n for n, _, _ in hdrs)

    def decode_frame(self, soft: np.ndarray, start_symbol: int):
        first_invalid = None
        for rank, (n, flags, golay_errors) in enumerate(self._headers(soft)):
            if HEADER_SYMBOLS + 8 * n > len(soft):
                continue
            fr = self._decode(soft[HEADER_SYMBOLS:HEADER_SYMBOLS + 8 * n], n, flags,
                              golay_errors, rank)
            if fr is None:
                continue
            fr.end_symbol = HEADER_SYMBOLS + 8 * n
            if fr.crc_ok is not False:
                return fr
            if first_invalid is None:
                first_invalid = fr
        return first_invalid if self.keep_invalid else None

    def _decode(self, body: np.ndarray, n: int, flags: int, golay_errors: int, rank: int):
        meta: dict[str, Any] = {"golay_errors": golay_errors, "length_field": n,
                                "flags": {"viterbi": bool(flags & FLAG_VITERBI),
                                          "scrambler": bool(flags & FLAG_SCRAMBLER),
                                          "rs": bool(flags & FLAG_RS)}}
        if rank:
            meta["golay_rank"] = rank
        if flags & ~(FLAG_VITERBI | FLAG_SCRAMBLER | FLAG_RS | LENGTH_MASK):
            meta["flags"]["other"] = (flags >> 8) & 0xF8
        reliability = None
        if _uses(self.viterbi, flags, FLAG_VITERBI):
            nbytes = n // 2 - 1
            nsym = 2 * (8 * nbytes + CONV_TAIL_BITS)
            sym = body[:nsym]
            bits = fec.viterbi_decode(sym, CONV_CONVENTION, terminated=True)
            reenc = fec.conv_encode(bits, CONV_CONVENTION, terminate=True)
            conv_errors = int(np.count_nonzero((sym > 0) != (reenc == 1)))
            meta["conv_errors"] = conv_errors
            data = np.packbits(bits)
            conv_ok = (conv_errors <= self.max_conv_error_rate * nsym
                       and nbytes >= MIN_UNCHECKED_CONV_BYTES)
        else:
            data, reliability = soft_bytes(body)
            if not self.erasures or rank:
                reliability = None     # erasure retries only for the most likely length
            conv_ok = True
        if _uses(self.scrambler, flags, FLAG_SCRAMBLER):
            data = fec.ccsds_derandomize(data)
        crc_ok: bool | None
        corrected: int | None
        if _uses(self.rs, flags, FLAG_RS):
            out, corrected, erased = rs_decode_soft(data, reliability)
            if out is None:
                out, crc_ok, corrected = data[:-RS_PARITY], False, None
            else:
                crc_ok = True
                if erased:
                    meta["rs_erasures"] = erased
                meta["rs_errors"] = corrected
            packet = finish_packet(bytes(out), meta)
        else:
            packet = finish_packet(bytes(data), meta)
            corrected = meta.get("conv_errors")
            if "csp_crc" in meta and meta["csp_crc"] != "mismatch":
                crc_ok = True
            elif "csp_crc" in meta or golay_errors or rank:
                crc_ok = False
            elif self.accept_unchecked or (_uses(self.viterbi, flags, FLAG_VITERBI) and conv_ok):
                crc_ok = None
            else:
                crc_ok = False
        if not packet:
            return None
        return Frame(data=packet, end_symbol=0, crc_ok=crc_ok, corrected=corrected, meta=meta)


class GolayFramedFramer(Framer):
    """Payload -> preamble, sync word, Golay length field, coded body (channel bits).

    ``viterbi``, ``scrambler``, ``rs``: which codes to apply (and to flag in
    the length field when ``set_flags``). ``csp_crc``: append a CRC-32C
    (``crc_cover`` "data" or "header+data", ``crc_byteorder``) to the payload
    first; the payload is sent as given otherwise (its CSP header untouched).
    """

    def __init__(self, sync_word: int, *, viterbi: bool = False, scrambler: bool = True,
                 rs: bool = True, set_flags: bool = True, preamble_bytes: int = 8,
                 preamble_byte: int = PREAMBLE_BYTE, csp_crc: bool = False,
                 crc_cover: str = "data", crc_byteorder: str = "big") -> None:
        if preamble_bytes < 0:
            raise InputError(f"preamble_bytes must be >= 0, not {preamble_bytes}")
        self.sync_word = int(sync_word)
        self.viterbi, self.scrambler, self.rs = bool(viterbi), bool(scrambler), bool(rs)
        self.set_flags = bool(set_flags)
        self.preamble_bytes = int(preamble_bytes)
        if not 0 <= int(preamble_byte) <= 255:
            raise InputError(f"preamble_byte must be a byte, not {preamble_byte}")
        self.preamble_byte = int(preamble_byte)
        self.csp_crc = bool(csp_crc)
        self.crc_cover, self.crc_byteorder = crc_cover, crc_byteorder
        csp_crc32c(b"\0" * 4, crc_cover, crc_byteorder)   # validate the variant

    def max_payload(self) -> int:
        limit = 255
        if self.viterbi:
            limit = 255 // 2 - 1
        if self.rs:
            limit = min(limit - RS_PARITY, RS_K)
        return limit - (CRC_BYTES if self.csp_crc else 0)

    def frame(self, payload: bytes) -> np.ndarray:
        payload = bytes(payload)
        if not 1 <= len(payload) <= self.max_payload():
            raise InputError(f"payload must be 1..{self.max_payload()} bytes with these options,"
                             f" not {len(payload)}")
        if self.csp_crc:
            if len(payload) < CSP_HEADER_BYTES:
                raise InputError("a CSP CRC needs a payload with a 4-byte CSP header")
            payload += csp_crc32c(payload, self.crc_cover, self.crc_byteorder)
        data = np.frombuffer(payload, dtype=np.uint8)
        if self.rs:
            data = rs_code().encode_codeword(data)
        if self.scrambler:
            data = fec.ccsds_randomize(data)
        body = bits_from_bytes(data.tobytes())
        if self.viterbi:
            sym = fec.conv_encode(body, CONV_CONVENTION, terminate=True)
            body = np.concatenate([sym, np.zeros(4, np.uint8)])   # pad to whole bytes
            n = len(data) * 2 + 2
        else:
            n = len(data)
        flags = 0
        if self.set_flags:
            flags = (FLAG_VITERBI if self.viterbi else 0) | (FLAG_SCRAMBLER if self.scrambler else 0) \
                | (FLAG_RS if self.rs else 0)
        pre = bits_from_bytes(bytes([self.preamble_byte]) * self.preamble_bytes)
        return np.concatenate([pre, bits_from_int(self.sync_word, 32), golay_encode_bits(flags | n),
                               body]).astype(np.uint8)

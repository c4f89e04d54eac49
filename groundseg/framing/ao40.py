"""AO-40 FEC (Phil Karn, KA9Q, 2002): FUNcube and SMOG-P telemetry; and its short variant.

Registered names (one deframer/framer class, two presets):

* ``"AO-40 FEC"``: 256-byte blocks, 5200 channel symbols. Used by AO-40,
  the FUNcube satellites (AO-73: 1200 baud DBPSK) and SMOG-P/ATL-1 ("long
  concatenated FEC").
* ``"AO-40 FEC short"``: 128-byte blocks, 2652 channel symbols, the variant
  BME (L. Szabo) made for SMOG-P/ATL-1/SMOG-1 ("short concatenated FEC").

Transmit side, from Karn's description and reference encoder (v1.0, 7 Jan
2002) and the BME short-frame encoder::

    data (256 | 128 bytes)
      -> Reed-Solomon: the CCSDS (255,223) code (generator roots alpha^(11(112+i)),
         field x^8+x^7+x^2+x+1) in the *conventional* basis, shortened to
         (160,128); long: two codewords byte-interleaved (even bytes in the
         first, odd bytes in the second, parity too): 320 bytes;
         short: one codeword, 160 bytes
      -> scrambler: XOR with the CCSDS pseudo-random sequence (x^8+x^7+x^5+x^3+1,
         all ones at the first bit: 0xFF 0x48 0x0E 0xC0 ...) over the RS block
      -> convolutional code K=7 r=1/2, the CCSDS one (171, 133 octal, the
         second output inverted; Karn's 0x4F / 0x6D with the newest bit as the
         LSB), 6 zero tail bits: 5132 | 2572 symbols
      -> block interleaver: a matrix of R rows x C columns filled row by row
         (write index w = row * C + col) and sent column by column
         (channel position R * col + row); the first P write positions hold
         the pilot / sync vector, then the coded symbols, then zeros:
           long:  R = 80, C = 65, P = 65 (the whole first row: one sync bit
                  every 80 channel symbols), 3 unused positions
           short: R = 51, C = 52, P = 80 (the first row, 52 sync bits one
                  every 51 symbols, and the first 28 of the second row)
      -> channel symbols (5200 | 2652)

The sync vector is the output of a 7-bit LFSR (polynomial 0x48 in Karn's
notation, start 0x7F, output bit 6): 1111111000011101111001011001001000000100
0100110001011101011011000 (65 bits, and 15 more for the short variant).

Receive side: ``DistributedSyncDeframer`` (``_distributed.py``) scores every
possible start by the soft correlation of the symbols at the sync positions
with the sync vector (z-score >= 4: 3e-5 false hits per position and
polarity; at the Eb/N0 where the code gives FER 1e-2 a real sync vector
scores about 6.5 +- 0.6) or by their bit errors (``syncword_threshold``,
default 13 of 65 / 18 of 80: about 5e-7 false hits), then the candidate is
deinterleaved, Viterbi decoded (soft, terminated), descrambled and RS
decoded. Both polarities (the inverted sync vector means inverted symbols).
DBPSK (FUNcube) needs no polarity: the demodulator's differential decoding
gives "no phase change" = 1, Karn's convention.

Frames delivered: ``data`` the 256 / 128 bytes, ``crc_ok`` True when every
RS codeword decoded (the only check: there is no CRC), ``corrected`` the RS
byte errors corrected, ``meta["ao40"] = {"rs_corrected": [per codeword,
-1 failed], "sync_errors": n, "viterbi_symbol_errors": channel symbols
the Viterbi decoder corrected}``. With ``keep_invalid=True`` failed blocks
too (``crc_ok`` False).

The framer: ``frame(payload)`` takes exactly 256 / 128 bytes and returns
the 5200 / 2652 channel bits.
"""
from __future__ import annotations

import functools

import numpy as np

from ..dsp import fec
from ..errors import InputError
from . import Frame, Framer, FramingSpec, Option, register
from ._distributed import DistributedSyncDeframer

SYNC_POLY = 0x48
SYNC_SEED = 0x7F
RS_CODEWORD = 160                 # (160,128): the CCSDS (255,223) code shortened by 95
TAIL_BITS = 6


def sync_vector(n: int) -> np.ndarray:
    """The first ``n`` bits of the AO-40 sync / pilot sequence."""
    sr = SYNC_SEED
    out = np.empty(n, np.uint8)
    for i in range(n):
        out[i] = (sr >> 6) & 1
        sr = ((sr << 1) | (bin(sr & SYNC_POLY).count("1") & 1)) & 0x7F
    return out


class Variant:
    """The block geometry of one AO-40 FEC variant."""

    def __init__(self, name: str, data_bytes: int, rs_depth: int, rows: int, cols: int,
                 pilot: int, sync_errors: int):
        self.name = name
        self.data_bytes = data_bytes
        self.rs_depth = rs_depth
        self.rows, self.cols, self.pilot = rows, cols, pilot
        self.rs_bytes = RS_CODEWORD * rs_depth
        self.coded_symbols = 2 * (8 * self.rs_bytes + TAIL_BITS)
        self.frame_symbols = rows * cols
        if pilot + self.coded_symbols > self.frame_symbols:
            raise ValueError("AO-40 variant does not fit its interleaver")
        self.default_sync_errors = sync_errors
        w = np.arange(self.frame_symbols)
        self.channel_of_write = rows * (w % cols) + w // cols      # write index -> channel position
        self.pilot_positions = self.channel_of_write[:pilot]
        self.coded_positions = self.channel_of_write[pilot:pilot + self.coded_symbols]
        self.pilot_bits = sync_vector(pilot)
        self.pn = fec.ccsds_randomize(np.zeros(self.rs_bytes, np.uint8))


VARIANTS = {
    "long": Variant("AO-40 FEC", 256, 2, 80, 65, 65, 13),
    "short": Variant("AO-40 FEC short", 128, 1, 51, 52, 80, 18),
}


def _rs():
    return fec.ReedSolomon(dual_basis=False)


def _check_threshold(v: Variant, syncword_threshold) -> int:
    if syncword_threshold is None:
        return v.default_sync_errors
    if isinstance(syncword_threshold, bool) or not isinstance(syncword_threshold, (int, np.integer)) \
            or not 0 <= syncword_threshold <= v.pilot // 3:
        raise InputError(f"{v.name} syncword_threshold must be 0..{v.pilot // 3} bit errors, "
                         f"not {syncword_threshold!r}")
    return int(syncword_threshold)


class Ao40Deframer(DistributedSyncDeframer):
    """Soft symbols in, AO-40 FEC blocks out (see the module docstring)."""

    def __init__(self, variant: str = "long", syncword_threshold: int | None = None,
                 keep_invalid: bool = False):
        if variant not in VARIANTS:
            raise InputError(f"unknown AO-40 FEC variant {variant!r}")
        v = self.v = VARIANTS[variant]
        self.frame_symbols = v.frame_symbols
        self.sync_offsets = v.pilot_positions
        self.sync_bits = v.pilot_bits
        self.max_sync_errors = _check_threshold(v, syncword_threshold)
        self.keep_invalid = bool(keep_invalid)
        super().__init__()
        self._viterbi = fec.ViterbiDecoder("CCSDS")
        self._rs = _rs()

    def decode_frame(self, soft: np.ndarray, start: int) -> Frame | None:
        v = self.v
        coded = soft[v.coded_positions]
        bits = self._viterbi.decode_block(coded, terminated=True, start_state=0)
        recoded = fec.conv_encode(bits, "CCSDS", terminate=True)
        vit_errors = int(np.count_nonzero(recoded != (coded > 0)))
        block = np.packbits(bits) ^ v.pn
        if v.rs_depth == 1:
            data, n = self._rs.decode(block)
            per = [int(n)]
        else:
            data, ns = self._rs.decode_interleaved(block, v.rs_depth)
            per = [int(x) for x in ns]
        ok = all(n >= 0 for n in per)
        if not ok and not self.keep_invalid:
            return None
        if not ok:
            data = block[:v.data_bytes]
        meta = {"ao40": {"rs_corrected": per, "sync_errors": int(self.sync_errors),
                         "viterbi_symbol_errors": vit_errors}}
        return Frame(data=bytes(np.asarray(data, np.uint8)[:v.data_bytes]), end_symbol=0,
                     crc_ok=ok, corrected=sum(n for n in per if n > 0), meta=meta)


class Ao40Framer(Framer):
    """Payload (exactly 256 / 128 bytes) in, channel bits out."""

    def __init__(self, variant: str = "long", syncword_threshold: int | None = None):
        if variant not in VARIANTS:
            raise InputError(f"unknown AO-40 FEC variant {variant!r}")
        self.v = VARIANTS[variant]
        _check_threshold(self.v, syncword_threshold)
        self._rs = _rs()

    def frame(self, payload: bytes) -> np.ndarray:
        v = self.v
        d = np.frombuffer(bytes(payload), np.uint8)
        if d.size != v.data_bytes:
            raise InputError(f"{v.name} frames carry exactly {v.data_bytes} bytes, not {d.size}")
        block = self._rs.encode_codeword(d) if v.rs_depth == 1 \
            else self._rs.encode_interleaved(d, v.rs_depth)
        block = np.asarray(block, np.uint8) ^ v.pn
        coded = fec.conv_encode(np.unpackbits(block), "CCSDS", terminate=True)
        out = np.zeros(v.frame_symbols, np.uint8)
        out[v.pilot_positions] = v.pilot_bits
        out[v.coded_positions] = coded
        return out


_OPTIONS = {
    "syncword_threshold": Option(int, None, help="sync vector bit errors that make a candidate "
                                                 "besides the soft score >= 4 (default 13 of 65, "
                                                 "short: 18 of 80)"),
}


def _spec(name: str, variant: str, description: str) -> FramingSpec:
    return FramingSpec(
        name=name,
        description=description,
        deframer=functools.partial(Ao40Deframer, variant),
        framer=functools.partial(Ao40Framer, variant),
        options=dict(_OPTIONS),
        module=__name__,
    )


register(_spec("AO-40 FEC", "long",
               "AO-40 FEC (KA9Q): 256 bytes, 2x RS(160,128), CCSDS scrambler, K=7 r=1/2, "
               "80x65 interleaver with a distributed 65-bit sync vector (FUNcube, SMOG-P)"))
register(_spec("AO-40 FEC short", "short",
               "AO-40 FEC short (SMOG-P/ATL-1): 128 bytes, RS(160,128), K=7 r=1/2, "
               "51x52 interleaver with 80 pilot bits"))

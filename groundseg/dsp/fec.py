"""FEC and line-coding kernels: one import for the framings.

    from groundseg.dsp import fec

Everything here comes from the Cython kernels (``viterbi``, ``reedsolomon``,
``golay``, ``crc``, ``scrambler``); each has a pure-Python/numpy reference
(``*_ref.py``) with the same API that the tests hold it to. If the kernels are
not built (``make setup``), the references are used and a RuntimeWarning says so
(``fec.IMPLEMENTATION`` is then ``"reference"``).

Threads: Viterbi decoding releases the GIL, so give each thread its own
``ViterbiDecoder`` (and scrambler/differential objects, which carry state);
``ReedSolomon`` methods keep the GIL, so the shared ``ccsds_rs()`` instances are safe.

Conventions: bytes in and out as ``np.uint8`` arrays (bytes/bytearray accepted);
bit arrays are ``np.uint8`` 0/1, first transmitted first; soft symbols are float32
(> 0 for a 1) or int8. Bad arguments raise ``groundseg.errors.InputError``;
an uncorrectable codeword is not an exception (a count of -1).

Convolutional K=7 r=1/2 (CCSDS 131.0-B) -- module ``viterbi``::

    CONVENTIONS   # "CCSDS", "NASA-DSN", "CCSDS uninverted", "NASA-DSN uninverted"
    conv_params(convention="CCSDS", polys=None, invert=None) -> ((p0, p1), invert_mask)
    quantize_soft(symbols, scale=None) -> int8
    conv_encode(bits, convention="CCSDS", *, polys=None, invert=None, terminate=True) -> uint8 symbols
    ConvEncoder(convention="CCSDS", *, polys=None, invert=None, state=0).encode(bits)
    viterbi_decode(symbols, convention="CCSDS", *, polys=None, invert=None,
                   terminated=True, start_state=0, scale=None) -> uint8 bits
    ViterbiDecoder(convention="CCSDS", *, polys=None, invert=None, traceback=96)
        .decode_block(symbols, terminated=True, start_state=0, scale=None) -> bits
        .decode_stream(symbols, scale=None) -> bits   # delayed by `traceback` pairs
        .flush(terminated=False) -> bits ; .reset()

Reed-Solomon GF(2^8) (CCSDS (255,223) by default) -- module ``reedsolomon``::

    ReedSolomon(nroots=32, fcr=112, prim=11, gfpoly=0x187, dual_basis=False)
        .encode(data) -> parity ; .encode_codeword(data) -> data||parity
        .decode(codeword, erasures=None) -> (data, n_corrected)   # -1: uncorrectable
        .decode_inplace(buf, erasures=None) -> n_corrected
        .encode_interleaved(data, depth) -> block
        .decode_interleaved(block, depth, erasures=None) -> (data, n_corrected[depth])
    ccsds_rs(dual_basis=True) -> ReedSolomon (shared instance)
    TAL, TAL_INV, conventional_to_dual(data), dual_to_conventional(data)

Golay(24,12) -- module ``golay``::

    golay24_encode(data12) -> word24 (parity << 12 | data)
    golay24_decode(word24) -> (data12, n_errors)   # n_errors -1: uncorrectable
    golay24_encode_array(data), golay24_decode_array(words) -> (data, n_errors)

CRC -- module ``crc``::

    CrcSpec, PRESETS, CRC16_X25, CRC16_CCITT_FALSE, CRC32, CRC32C, get_spec(name)
    crc(data, spec) -> int ; Crc(spec).compute(data) / .check(data_with_crc, byteorder)
    crc16_x25(data), crc16_ccitt_false(data), crc32(data), crc32c(data)

Scramblers and precoding -- module ``scrambler``::

    CCSDS_POLY, CCSDS_SEED, PN9_POLY, PN9_SEED, G3RUH_POLY, lfsr_bits(poly, seed, n)
    AdditiveScrambler(poly, seed, bit_order="msb").apply_bytes/apply_bits/apply_soft
    ccsds_randomize(data), ccsds_derandomize(data), ccsds_derandomize_soft(soft), pn9_whiten(data)
    MultiplicativeScrambler(poly=G3RUH_POLY, state=0).scramble(bits)
    MultiplicativeDescrambler(poly=G3RUH_POLY, state=0).descramble(bits)
    DifferentialEncoder(prev=0, invert=False).encode(bits)
    DifferentialDecoder(prev=0, invert=False).decode(bits) / .decode_soft(soft)
    differential_encode(bits, prev=0, invert=False), differential_decode(...)

Block interleaver (numpy, module ``interleave``)::

    block_interleave(x, rows, cols), block_deinterleave(x, rows, cols), BlockInterleaver
"""
from __future__ import annotations

import warnings

try:
    from . import crc as _crc
    from . import golay as _golay
    from . import reedsolomon as _rs
    from . import scrambler as _scr
    from . import viterbi as _vit
    IMPLEMENTATION = "cython"
except ImportError as exc:  # kernels not built yet
    warnings.warn(f"groundseg.dsp.fec: Cython kernels not built ({exc}); using the slow "
                  "references (run `make setup`)", RuntimeWarning, stacklevel=2)
    from . import crc_ref as _crc
    from . import golay_ref as _golay
    from . import reedsolomon_ref as _rs
    from . import scrambler_ref as _scr
    from . import viterbi_ref as _vit
    IMPLEMENTATION = "reference"

from .interleave import (BlockInterleaver, block_deinterleave, block_deinterleave_index,  # noqa: E402
                         block_interleave, block_interleave_index)

# convolutional code
K = _vit.K
CONVENTIONS = _vit.CONVENTIONS
conv_params = _vit.conv_params
quantize_soft = _vit.quantize_soft
conv_encode = _vit.conv_encode
ConvEncoder = _vit.ConvEncoder
viterbi_decode = _vit.viterbi_decode
ViterbiDecoder = _vit.ViterbiDecoder

# Reed-Solomon
CCSDS_GFPOLY, CCSDS_FCR, CCSDS_PRIM, CCSDS_NROOTS = (
    _rs.CCSDS_GFPOLY, _rs.CCSDS_FCR, _rs.CCSDS_PRIM, _rs.CCSDS_NROOTS)
TAL, TAL_INV = _rs.TAL, _rs.TAL_INV
conventional_to_dual = _rs.conventional_to_dual
dual_to_conventional = _rs.dual_to_conventional
ReedSolomon = _rs.ReedSolomon
ccsds_rs = _rs.ccsds_rs

# Golay
golay24_encode = _golay.golay24_encode
golay24_decode = _golay.golay24_decode
golay24_encode_array = _golay.golay24_encode_array
golay24_decode_array = _golay.golay24_decode_array

# CRC
CrcSpec = _crc.CrcSpec
PRESETS = _crc.PRESETS
CRC16_X25, CRC16_CCITT_FALSE, CRC32, CRC32C = _crc.CRC16_X25, _crc.CRC16_CCITT_FALSE, _crc.CRC32, _crc.CRC32C
get_spec = _crc.get_spec
crc = _crc.crc
Crc = _crc.Crc
crc16_x25 = _crc.crc16_x25
crc16_ccitt_false = _crc.crc16_ccitt_false
crc32 = _crc.crc32
crc32c = _crc.crc32c

# scramblers, precoding
CCSDS_POLY, CCSDS_SEED, PN9_POLY, PN9_SEED, G3RUH_POLY = (
    _scr.CCSDS_POLY, _scr.CCSDS_SEED, _scr.PN9_POLY, _scr.PN9_SEED, _scr.G3RUH_POLY)
lfsr_bits = _scr.lfsr_bits
AdditiveScrambler = _scr.AdditiveScrambler
ccsds_randomize = _scr.ccsds_randomize
ccsds_derandomize = _scr.ccsds_derandomize
ccsds_derandomize_soft = _scr.ccsds_derandomize_soft
pn9_whiten = _scr.pn9_whiten
MultiplicativeScrambler = _scr.MultiplicativeScrambler
MultiplicativeDescrambler = _scr.MultiplicativeDescrambler
DifferentialEncoder = _scr.DifferentialEncoder
DifferentialDecoder = _scr.DifferentialDecoder
differential_encode = _scr.differential_encode
differential_decode = _scr.differential_decode

__all__ = [n for n in dir() if not n.startswith("_") and n not in ("annotations", "warnings")]

"""GOMspace NanoCom U482C: "U482C" framing (GOMX-1, AISAT, ATHENOXAT-1, AU02, AU03, CZ02).

4800 baud AFSK on FM (audio tones 2400 / 4800 Hz around a 3600 Hz carrier;
the catalog's deviation -1200 Hz makes a 1 the lower tone). On the air::

    preamble 0x55..  | sync 0xC3AA6655 | length field: Golay(24,12) | body (n bytes)
                                          data bits 7..0 = n,
                                          0x100 convolutional code,
                                          0x200 CCSDS randomizer,
                                          0x400 Reed-Solomon

Transmit order of the body: CSP packet -> [RS(255,223), conventional basis,
shortened] -> [CCSDS randomizer] -> [K=7 r=1/2 convolutional code,
NASA-DSN polynomial order (0o133, 0o171), not inverted, 6 zero tail bits,
then 4 padding symbols to a whole byte]. With the convolutional code ``n``
is the coded length: ``n // 2 - 1`` bytes are randomized/RS-coded data. The
deframer follows the flags of each frame (AISAT, GOMX-1, CZ02, ATHENOXAT-1
send randomizer + RS; AU02 and AU03 add the convolutional code) and decodes
the convolutional code with soft decisions. See ``_gomspace`` for the sources
of these facts and the CSP/CRC details.

Sync tolerance: up to 6 of the 32 sync bits may be wrong (4 for the AX100).
The sync word and the length field are not convolutionally coded, so with
the convolutional code they, not the coded body, set the sensitivity: where
the coded body reaches FER 1e-2, about 10 % of the channel bits are wrong.
Allowing 6 sync errors and list-decoding the length field (the 3 most
likely soft-ML candidates, tried until RS passes) reaches FER 1e-2 at
Eb/N0 4.6 dB instead of 6.7 dB with 4 sync errors and one hard-radius
length field (90-byte packets, bench_ax100_sensitivity), for about 2.5
false sync candidates per second on noise at 4800 baud, all rejected.

Frames delivered: the CSP packet (as sent, network byte order) without
parity, padding or a CRC-32C that checks. ``crc_ok`` True when RS decoded
(or, without RS, when a CSP CRC-32C matched); a frame with neither check is
delivered with ``crc_ok=None`` only when its length field had no bit error
and the convolutional decoder (if used) corrected under 8 % of the channel
bits. ``corrected`` = RS byte errors (or, without RS, convolutional channel
bit errors); ``meta``: ``golay_errors``, ``length_field``, ``flags``,
``conv_errors``, ``rs_errors``, ``rs_erasures``, ``csp``, ``csp_crc``.
"""
from __future__ import annotations

from . import FramingSpec, register
from ._gomspace import SYNC_U482C, GolayFramedDeframer, GolayFramedFramer


def u482c_deframer(max_sync_errors: int = 6, erasures: bool = True, keep_invalid: bool = False,
                   max_golay_errors: int = 6, golay_list: int = 3,
                   accept_unchecked: bool = False) -> GolayFramedDeframer:
    return GolayFramedDeframer(SYNC_U482C, viterbi="auto", scrambler="auto", rs="auto",
                               max_sync_errors=max_sync_errors, erasures=erasures,
                               keep_invalid=keep_invalid, max_golay_errors=max_golay_errors,
                               golay_list=golay_list, accept_unchecked=accept_unchecked)


def u482c_framer(viterbi: bool = False, scrambler: bool = True, rs: bool = True,
                 preamble_bytes: int = 8, csp_crc: bool = False, crc_cover: str = "data",
                 crc_byteorder: str = "little") -> GolayFramedFramer:
    """Defaults as AISAT sends: randomizer + RS, CRC-32C (when asked) over the data, little-endian."""
    return GolayFramedFramer(SYNC_U482C, viterbi=viterbi, scrambler=scrambler, rs=rs,
                             set_flags=True, preamble_bytes=preamble_bytes, preamble_byte=0x55,
                             csp_crc=csp_crc, crc_cover=crc_cover, crc_byteorder=crc_byteorder)


register(FramingSpec(
    name="U482C",
    description="GOMspace U482C: sync 0xC3AA6655, Golay(24,12) length field with flags, "
                "optional K=7 r=1/2 code, CCSDS randomizer and RS(255,223); CSP packets",
    deframer=u482c_deframer,
    framer=u482c_framer,
    module=__name__,
))

__all__ = ["u482c_deframer", "u482c_framer"]

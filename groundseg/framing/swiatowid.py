"""Światowid (SatRevolution) image downlink: long packets of small Reed-Solomon blocks.

On the air (9k6 FSK; public description: Daniel Estévez, "Decoding
Światowid" and "Światowid image decoder", August 2019, gr-satellites'
``swiatowid_deframer``; checked on the corpus recording)::

    sync 0x5B5BDDDD | length L (2 bytes, little-endian) | L - 8 bytes | tail
                      \\___________ every byte sent least significant bit first ___/

The L - 8 bytes are RS blocks of 58 bytes -- a (58,48) Reed-Solomon code
shortened from (255,245): field 0x11D, first root alpha^0, primitive
element alpha, 10 parity bytes after the data -- followed by a CRC-16
(polynomial 0x1021, register 0, MSB first: CRC-16/XMODEM) of the blocks,
sent little-endian. The recording's packets have L = 8188: 141 blocks. The
48 data bytes of each block are a little-endian block counter (reset at the
start of a file) and 46 bytes of the JPEG file.

Decoding: the length field is not protected; a value outside 68..8206 is
replaced by the largest packet (8200 bytes after the sync, as the public
decoder reads) and the blocks are decoded as far as they go. When one or two
of its bits are weak (|soft| under half the mean), the values with them
flipped are considered too: blocks past the hard decision's count are
decoded up to the largest alternative, as long as they keep decoding. Each block is
RS decoded on its own, errors only (t = 5): a random 58-byte word decodes
with probability about 4e-6. Erasure retries (option ``erasures``: the 2 or
4 least reliable bytes) would raise that to 1e-4 and 1.5e-3, too much for a
code this short, so they are off by default. A packet cut short (end of a
recording) yields its complete blocks. The packet CRC is checked when every
announced block decoded.

Frames delivered: one per RS block that decodes, in order: the 48 data
bytes; ``crc_ok`` True, ``corrected`` = byte errors, ``end_symbol`` the end
of that block, ``meta``: ``block`` (the block counter), ``index`` (position
in the packet), ``rs_erasures`` when used, and on the packet's last block
``packet_crc_ok`` (when all blocks decoded).
"""
from __future__ import annotations

import inspect

import numpy as np

from ..dsp import fec
from ..errors import InputError
from . import Frame, Framer, FramingSpec, Option, register
from ._softbits import bits_of, check_framer_options, rs_decode_soft, soft_bytes
from ._sync import SyncDeframer, bits_from_int

SYNC = 0x5B5BDDDD
BLOCK_BYTES = 58
RS_PARITY = 10
DATA_BYTES = BLOCK_BYTES - RS_PARITY
CRC_BYTES = 2
LENGTH_OFFSET = 8                   # the length field counts 8 bytes more than follow it
MAX_PACKET_BYTES = 8200             # after the sync word, length field included
MAX_BLOCKS = (MAX_PACKET_BYTES - 2 - CRC_BYTES) // BLOCK_BYTES
MIN_LENGTH = LENGTH_OFFSET + BLOCK_BYTES + CRC_BYTES
MAX_LENGTH = MAX_PACKET_BYTES - 2 + LENGTH_OFFSET
PREAMBLE_BYTE = 0xAA
ERASURE_TRIALS = (2, 4)
LENGTH_FLIPS = 2             # weakest length bits given an alternative value...
WEAK_FRACTION = 0.5          # ... when under this fraction of the mean |soft|

_RS = fec.ReedSolomon(nroots=RS_PARITY, fcr=0, prim=1, gfpoly=0x11D)
_CRC = fec.Crc(fec.CrcSpec("crc16_xmodem", 16, 0x1021, 0x0000, False, False, 0x0000, 0x31C3))


def rs_code():
    return _RS


def packet_crc(blocks: bytes) -> int:
    return _CRC.compute(blocks)


def _length_field(soft16: np.ndarray) -> int:
    b, _ = soft_bytes(soft16, lsb_first=True)
    return int(b[0]) | int(b[1]) << 8


def _length_alternatives(soft16: np.ndarray) -> list[int]:
    """The length field: the hard decision, then the valid values with its (up to 2) weak bits
    flipped."""
    s = np.asarray(soft16, dtype=np.float32)
    hard = _length_field(s)
    mag = np.abs(s)
    weak = [int(j) for j in np.argsort(mag, kind="stable")[:LENGTH_FLIPS]
            if mag[j] < WEAK_FRACTION * float(mag.mean())]
    out = [hard]
    for m in range(1, 1 << len(weak)):
        v = hard
        for i, j in enumerate(weak):
            if m >> i & 1:
                v ^= 1 << j            # symbol j is bit j of the little-endian, LSB-first field
        if MIN_LENGTH <= v <= MAX_LENGTH:
            out.append(v)
    return out


def _payload_bytes(length: int) -> int:
    """Bytes after the length field, from its value (bad values: the largest packet)."""
    if MIN_LENGTH <= length <= MAX_LENGTH:
        return length - LENGTH_OFFSET
    return MAX_PACKET_BYTES - 2


class SwiatowidDeframer(SyncDeframer):
    sync_bits = bits_from_int(SYNC, 32)
    max_frame_symbols = 8 * MAX_PACKET_BYTES
    decode_short_at_end = True

    def __init__(self, max_sync_errors: int = 2, erasures: bool = False,
                 keep_invalid: bool = False) -> None:
        if isinstance(max_sync_errors, bool) or not 0 <= int(max_sync_errors) <= 6:
            raise InputError(f"max_sync_errors must be 0..6, not {max_sync_errors}")
        self.max_sync_errors = int(max_sync_errors)
        self.erasures = bool(erasures)
        self.keep_invalid = bool(keep_invalid)
        self.stats = {"packets": 0, "blocks": 0, "blocks_failed": 0}
        self._last_head: tuple[bytes, int] = (b"", 0)
        super().__init__()

    def frame_symbols(self, head: np.ndarray) -> int | None:
        if len(head) < 16:
            return None
        key = head[:16].tobytes()           # asked again at every chunk while a packet arrives
        if self._last_head[0] != key:
            self._last_head = (key, 8 * (2 + max(_payload_bytes(v)
                                                 for v in _length_alternatives(head[:16]))))
        return self._last_head[1]

    def decode_frame(self, soft: np.ndarray, start_symbol: int):
        def blocks_of(length: int) -> int:
            return min(MAX_BLOCKS, (_payload_bytes(length) - CRC_BYTES) // BLOCK_BYTES)
        announced = blocks_of(_length_field(soft[:16]))
        # a weak length bit may hide a longer packet: blocks past the announced
        # count are taken while they keep decoding
        most = max(blocks_of(v) for v in _length_alternatives(soft[:16]))
        nblocks = min(max(announced, most), (len(soft) - 16) // (8 * BLOCK_BYTES))
        if nblocks <= 0:
            return None
        self.stats["packets"] += 1
        data, rel = soft_bytes(soft[16:16 + 8 * nblocks * BLOCK_BYTES], lsb_first=True)
        frames, good = [], []
        trials = ERASURE_TRIALS if self.erasures else ()
        for i in range(nblocks):
            sl = slice(i * BLOCK_BYTES, (i + 1) * BLOCK_BYTES)
            out, corrected, erased = rs_decode_soft(_RS, data[sl], rel[sl], trials)
            end = 16 + 8 * (i + 1) * BLOCK_BYTES
            if out is None and i >= announced:
                nblocks = i                 # the packet ended where the hard length said
                break
            if out is None:
                self.stats["blocks_failed"] += 1
                if self.keep_invalid:
                    frames.append(Frame(data=data[sl][:DATA_BYTES].tobytes(), end_symbol=end,
                                        crc_ok=False, meta={"index": i}))
                continue
            self.stats["blocks"] += 1
            block = out.tobytes()
            good.append(i)
            meta = {"block": int.from_bytes(block[:2], "little"), "index": i}
            if erased:
                meta["rs_erasures"] = erased
            frames.append(Frame(data=block, end_symbol=end, crc_ok=True, corrected=corrected,
                                meta=meta))
        # the packet CRC, when every block announced is here and decoded
        complete = 2 + nblocks * BLOCK_BYTES + CRC_BYTES
        if nblocks >= announced and len(good) == nblocks and 8 * complete <= len(soft):
            crc_bytes, _ = soft_bytes(soft[8 * (complete - CRC_BYTES):8 * complete], lsb_first=True)
            blocks = bytearray()
            for fr in frames:
                cw = _RS.encode_codeword(np.frombuffer(fr.data, np.uint8))
                blocks += cw.tobytes()
            frames[-1].meta["packet_crc_ok"] = \
                packet_crc(bytes(blocks)) == int(crc_bytes[0]) | int(crc_bytes[1]) << 8
        return frames


class SwiatowidFramer(Framer):
    """Packet payload (a multiple of 48 bytes, up to 141 blocks) -> one packet.

    Each 48-byte piece becomes an RS block (the caller puts the block
    counter in its first two bytes, as the satellite does).
    """

    def __init__(self, preamble_bytes: int = 8, tail_bytes: int = 18, **deframer_options) -> None:
        check_framer_options("Swiatowid", deframer_options, _DEFRAMER_OPTIONS)
        if preamble_bytes < 0 or tail_bytes < 0:
            raise InputError("preamble_bytes and tail_bytes must be >= 0")
        self.preamble_bytes = int(preamble_bytes)
        self.tail_bytes = int(tail_bytes)

    def frame(self, payload: bytes) -> np.ndarray:
        payload = bytes(payload)
        n = len(payload)
        if n == 0 or n % DATA_BYTES or n // DATA_BYTES > MAX_BLOCKS:
            raise InputError(f"a Swiatowid packet carries 1..{MAX_BLOCKS} blocks of {DATA_BYTES} "
                             f"bytes, not {n} bytes")
        blocks = b"".join(_RS.encode_codeword(np.frombuffer(payload[i:i + DATA_BYTES], np.uint8))
                          .tobytes() for i in range(0, n, DATA_BYTES))
        body = blocks + packet_crc(blocks).to_bytes(2, "little")
        length = len(body) + LENGTH_OFFSET
        air = length.to_bytes(2, "little") + body + bytes([0x55]) * self.tail_bytes
        return np.concatenate([bits_of(bytes([PREAMBLE_BYTE]) * self.preamble_bytes),
                               bits_from_int(SYNC, 32), bits_of(air, lsb_first=True)])


_DEFRAMER_OPTIONS = tuple(inspect.signature(SwiatowidDeframer.__init__).parameters)[1:]

register(FramingSpec(
    name="Swiatowid",
    description="Swiatowid image downlink: sync 0x5B5BDDDD, LSB-first bytes, length field, "
                "RS(58,48) blocks (0x11D, roots from alpha^0), CRC-16/XMODEM",
    deframer=SwiatowidDeframer,
    framer=SwiatowidFramer,
    options={"max_sync_errors": Option(int, 2, tuple(range(7)), "sync word bit errors tolerated"),
             "erasures": Option(bool, False, None,
                                "retry RS with the 2 or 4 least reliable bytes erased (raises "
                                "the false block rate on noise from 4e-6 to 1.5e-3 per block)")},
    module=__name__,
))

__all__ = ["SwiatowidDeframer", "SwiatowidFramer", "SYNC", "DATA_BYTES", "rs_code", "packet_crc"]

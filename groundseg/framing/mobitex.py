"""Mobitex and Mobitex-NX (TU Berlin's BEESAT/TUBiX20 variant): "Mobitex", "Mobitex-NX", "BEESAT-9".

From the CML MX909A/CMX909B Mobitex modem datasheets and D. Estevez, "Some
notes on BEESAT and Mobitex-NX" (2016). On the air (4800 baud GMSK/FSK)::

    bit sync 0xCC.. | frame sync | control (2) | FEC (1) | [callsign (6) | CRC (2)] | N data blocks
                      0x5765 Mobitex, 0x0EF0 Mobitex-NX         Mobitex-NX only

* Control byte 0: bits 4..0 = N - 1 (1 to 32 blocks), bits 7..5 = message
  type; control byte 1: baud bit, acknowledge flags... The FEC byte holds
  the 4 parity bits of control byte 0 (high nibble) and byte 1 (low nibble).
* The (12,8) code: parity bit i (i = 0..3, MSB first) is the even parity of
  the byte ANDed with row i of H = 11101100, 11010011, 10111010, 01110101;
  a codeword is the byte (MSB first) followed by its 4 parity bits. Minimum
  distance 3: one error per 12-bit word corrected. Decoded here by soft
  maximum likelihood over the 256 codewords.
* Callsign (Mobitex-NX): 6 ASCII bytes and their CRC-16 (poly 0x1021, init
  0, not reflected, no final XOR), high byte first.
* Data block: 18 data bytes + CRC-16/X.25 (reflected 0x1021, init and
  xorout 0xFFFF) high byte first = 20 bytes -> 20 codewords of 12 bits
  (240 bits) -> interleaved (sent bit i of every codeword in turn: bit i of
  codeword j goes out at position 20 i + j) -> XORed with the 511-bit
  sequence of a 9-stage LFSR (x^9 + x^4 + 1 as the recurrence
  a[n+9] = a[n] ^ a[n+4], all-ones seed), restarted at the first data block
  of each frame and running on across the blocks.

Each data block carries its own CRC and is, in Mobitex, the unit of error
detection and retransmission, so the deframer delivers one ``Frame`` per
data block that passes its CRC: ``data`` the 18 data bytes, ``corrected``
the bit errors the (12,8) code corrected in it, ``meta["mobitex"]`` with
the frame context: ``block`` (0-based), ``blocks`` (N), ``control`` (hex),
``message_type``, ``control_errors`` (most hard bit errors in one control
word), ``callsign`` and ``callsign_errors`` (Mobitex-NX), ``frame_symbol``
(where the frame's sync word ended: the blocks of one frame share it),
``sync_errors``. A frame cut short (end of a recording) still yields the
blocks that arrived. The control words are decoded by soft maximum
likelihood and trusted even beyond one hard error: a wrong block count
only loses blocks or decodes noise that the CRCs reject.

False syncs (a 16-bit word, ``max_sync_errors`` = 2 by default) are
frequent on noise; a block is only believed when its CRC passes and at
most ``MAX_WORDS_IN_ERROR`` (14) of its 20 codewords needed correcting
(random bits need it in 19 of 20 on average, and keep 6 clean with
probability 1e-3), and for Mobitex-NX when the callsign
checks: against ``callsign`` when given (at most ``callsign_errors`` of
its 64 bits wrong), else by its CRC (after flipping up to 2 of the 12
weakest bits).

Presets: "Mobitex" (SOKRAT), "Mobitex-NX" (callsign checked by CRC),
"BEESAT-9" (Mobitex-NX, callsign DP0BEM, always 32 blocks whatever the
control byte says, as gr-satellites' BEESAT-9 variant).
"""
from __future__ import annotations

import functools
import itertools

import numpy as np

from ..dsp import fec
from ..errors import InputError
from . import Frame, Framer, FramingSpec, Option, register
from ._sync import SyncDeframer, bits_from_bytes, bits_from_int

SYNC_MOBITEX = 0x5765
SYNC_NX = 0x0EF0
BIT_SYNC = 0xCC
H_ROWS = (0b11101100, 0b11010011, 0b10111010, 0b01110101)
BLOCK_DATA_BYTES = 18
BLOCK_BYTES = BLOCK_DATA_BYTES + 2
WORD_BITS = 12
BLOCK_BITS = BLOCK_BYTES * WORD_BITS               # 240
MAX_BLOCKS = 32
CONTROL_BITS = 24
CALLSIGN_BYTES = 6
CALLSIGN_BITS = 8 * (CALLSIGN_BYTES + 2)          # 64
SCRAMBLER_POLY, SCRAMBLER_SEED = 0x211, 0x1FF      # a[n+9] = a[n] ^ a[n+4]
MAX_WORDS_IN_ERROR = 14                            # of the 20 codewords of a block
BEESAT9_CALLSIGN = "DP0BEM"

CRC16_XMODEM = fec.CrcSpec("crc16_xmodem", 16, 0x1021, 0x0000, False, False, 0x0000, 0x31C3)


def fec_nibble(byte: int) -> int:
    """The 4 parity bits of ``byte`` (first row of H in the MSB)."""
    return sum((bin(byte & row).count("1") & 1) << (3 - i) for i, row in enumerate(H_ROWS))


def codeword(byte: int) -> int:
    return (byte << 4) | fec_nibble(byte)


_CODE_BITS = np.array([bits_from_int(codeword(b), WORD_BITS) for b in range(256)], dtype=np.uint8)
_CODE_PM = (2.0 * _CODE_BITS.astype(np.float32) - 1.0).T.copy()      # 12 x 256


def decode_words(soft_words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Soft ML decoding of (n, 12) soft symbols: (bytes, hard bit errors per word)."""
    best = np.argmax(soft_words @ _CODE_PM, axis=1)
    errors = np.count_nonzero((soft_words > 0) != _CODE_BITS[best].astype(bool), axis=1)
    return best.astype(np.uint8), errors


@functools.lru_cache(maxsize=1)
def scrambler_sequence() -> np.ndarray:
    """Scrambler bits for the longest frame (the 511-bit sequence repeated)."""
    return fec.lfsr_bits(SCRAMBLER_POLY, SCRAMBLER_SEED, MAX_BLOCKS * BLOCK_BITS)


def interleave_index() -> np.ndarray:
    """``sent[k] = coded[index[k]]`` for one block (coded = 20 words of 12 bits, in order)."""
    return np.arange(BLOCK_BITS).reshape(BLOCK_BYTES, WORD_BITS).T.reshape(-1)


_INTERLEAVE = interleave_index()
_DEINTERLEAVE = np.argsort(_INTERLEAVE)


def block_crc(data18: bytes) -> bytes:
    return fec.crc16_x25(data18).to_bytes(2, "big")


def callsign_crc(call: bytes) -> bytes:
    return fec.crc(call, CRC16_XMODEM).to_bytes(2, "big")


def _callsign_bytes(callsign: str) -> bytes:
    try:
        raw = callsign.encode("ascii")
    except (UnicodeEncodeError, AttributeError):
        raise InputError(f"Mobitex-NX callsign must be ASCII text, not {callsign!r}") from None
    if not 1 <= len(raw) <= CALLSIGN_BYTES:
        raise InputError(f"Mobitex-NX callsign must be 1..{CALLSIGN_BYTES} characters, not {callsign!r}")
    return raw.ljust(CALLSIGN_BYTES)


class MobitexDeframer(SyncDeframer):
    """Frame sync, control + FEC, [callsign], interleaved/scrambled (12,8)-coded data blocks."""

    allow_inverted = True
    decode_short_at_end = True

    def __init__(self, nx: bool = False, callsign: str | None = None, blocks: int | None = None,
                 max_sync_errors: int = 2, callsign_errors: int = 8, keep_invalid: bool = False):
        for name, v, hi in (("max_sync_errors", max_sync_errors, 4),
                            ("callsign_errors", callsign_errors, 16)):
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= hi:
                raise InputError(f"Mobitex {name} must be an integer 0..{hi}, not {v!r}")
        if blocks is not None and (isinstance(blocks, bool) or not isinstance(blocks, int)
                                   or not 1 <= blocks <= MAX_BLOCKS):
            raise InputError(f"Mobitex blocks must be 1..{MAX_BLOCKS} or None, not {blocks!r}")
        self.nx = bool(nx)
        self.callsign = _callsign_bytes(callsign) if callsign else None
        if self.callsign is not None and not self.nx:
            raise InputError("a callsign is part of Mobitex-NX frames only")
        self.fixed_blocks = blocks
        self.max_sync_errors = max_sync_errors
        self.callsign_errors = callsign_errors
        self.keep_invalid = bool(keep_invalid)
        self.sync_bits = bits_from_int(SYNC_NX if self.nx else SYNC_MOBITEX, 16)
        self.head_bits = CONTROL_BITS + (CALLSIGN_BITS if self.nx else 0)
        self.max_frame_symbols = self.head_bits + MAX_BLOCKS * BLOCK_BITS
        if self.callsign is not None:
            self._call_pm = 2.0 * bits_from_bytes(self.callsign + callsign_crc(self.callsign)) - 1.0
        super().__init__()

    # -- frame head ---------------------------------------------------------------
    @staticmethod
    def _control(soft: np.ndarray) -> tuple[bytes, int]:
        """(control bytes, worst hard errors of the two words) from the first 24 symbols."""
        words = np.stack([np.concatenate([soft[0:8], soft[16:20]]),
                          np.concatenate([soft[8:16], soft[20:24]])])
        ctrl, errors = decode_words(words)
        return ctrl.tobytes(), int(errors.max())

    def _n_blocks(self, control: bytes) -> int:
        return self.fixed_blocks or (control[0] & 0x1F) + 1

    def frame_symbols(self, head: np.ndarray) -> int | None:
        if len(head) < CONTROL_BITS:
            return None
        control, _errors = self._control(head)
        return self.head_bits + BLOCK_BITS * self._n_blocks(control)

    def _check_callsign(self, soft: np.ndarray) -> tuple[str | None, int] | None:
        """(callsign, bit errors) or None when it does not check."""
        hard = (soft > 0).astype(np.uint8)
        if self.callsign is not None:
            errors = int(np.count_nonzero(hard != (self._call_pm > 0)))
            if errors > self.callsign_errors:
                return None
            return self.callsign.decode("ascii").rstrip(), errors
        weakest = np.argsort(np.abs(soft))[:12]
        for k in range(3):
            for flips in itertools.combinations(weakest.tolist(), k):
                b = hard.copy()
                b[list(flips)] ^= 1
                raw = np.packbits(b).tobytes()
                if callsign_crc(raw[:CALLSIGN_BYTES]) == raw[CALLSIGN_BYTES:]:
                    try:
                        return raw[:CALLSIGN_BYTES].decode("ascii").rstrip(), k
                    except UnicodeDecodeError:
                        return None
        return None

    # -- data blocks ----------------------------------------------------------------
    def decode_frame(self, soft: np.ndarray, start_symbol: int):
        if len(soft) < self.head_bits + BLOCK_BITS:
            return None                    # cut short before its first block
        control, control_errors = self._control(soft)
        n_blocks = self._n_blocks(control)
        ctx = {"blocks": n_blocks, "control": control.hex(), "message_type": control[0] >> 5,
               "frame_symbol": int(start_symbol), "sync_errors": int(self.sync_errors),
               "control_errors": control_errors}
        if self.nx:
            got = self._check_callsign(soft[CONTROL_BITS:CONTROL_BITS + CALLSIGN_BITS])
            if got is None:
                return None
            ctx["callsign"], ctx["callsign_errors"] = got
        body = soft[self.head_bits:]
        n_have = min(n_blocks, len(body) // BLOCK_BITS)
        if n_have == 0:
            return None
        rx = body[:n_have * BLOCK_BITS].reshape(n_have, BLOCK_BITS)
        seq = scrambler_sequence()[:n_have * BLOCK_BITS].reshape(n_have, BLOCK_BITS)
        rx = np.where(seq > 0, -rx, rx)[:, _DEINTERLEAVE]            # descramble, deinterleave
        data, errors = decode_words(rx.reshape(-1, WORD_BITS))
        data = data.reshape(n_have, BLOCK_BYTES)
        errors = errors.reshape(n_have, BLOCK_BYTES)
        frames = []
        for j in range(n_have):
            blk = data[j].tobytes()
            words_in_error = int(np.count_nonzero(errors[j]))
            ok = (block_crc(blk[:BLOCK_DATA_BYTES]) == blk[BLOCK_DATA_BYTES:]
                  and words_in_error <= MAX_WORDS_IN_ERROR)
            if not ok and not self.keep_invalid:
                continue
            meta = dict(ctx, block=j)
            frames.append(Frame(data=blk[:BLOCK_DATA_BYTES], crc_ok=ok,
                                end_symbol=self.head_bits + (j + 1) * BLOCK_BITS,
                                corrected=int(errors[j].sum()), meta={"mobitex": meta}))
        return frames


class MobitexFramer(Framer):
    """Payload -> 18-byte blocks (the last padded with zeros) -> one Mobitex[-NX] frame."""

    def __init__(self, nx: bool = False, callsign: str | None = None, blocks: int | None = None,
                 message_type: int = 1, control1: int = 0, bit_sync_bytes: int = 4,
                 **deframer_options):
        unknown = set(deframer_options) - set(OPTIONS) - {"callsign_errors"}
        if unknown:
            raise InputError(f"unknown Mobitex framer option(s): {', '.join(sorted(unknown))}")
        for name, v, hi in (("message_type", message_type, 7), ("control1", control1, 255),
                            ("bit_sync_bytes", bit_sync_bytes, 64)):
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= hi:
                raise InputError(f"Mobitex {name} must be an integer 0..{hi}, not {v!r}")
        self.nx = bool(nx)
        if self.nx and not callsign:
            raise InputError("a Mobitex-NX frame needs a callsign")
        self.callsign = _callsign_bytes(callsign) if self.nx else None
        self.fixed_blocks = blocks
        self.message_type, self.control1, self.bit_sync_bytes = message_type, control1, bit_sync_bytes

    def frame(self, payload: bytes) -> np.ndarray:
        payload = bytes(payload)
        n = self.fixed_blocks or max(1, -(-len(payload) // BLOCK_DATA_BYTES))
        if not payload or len(payload) > n * BLOCK_DATA_BYTES or n > MAX_BLOCKS:
            raise InputError(f"a Mobitex frame of {n} blocks holds 1..{n * BLOCK_DATA_BYTES} "
                             f"bytes (at most {MAX_BLOCKS} blocks), not {len(payload)}")
        payload = payload.ljust(n * BLOCK_DATA_BYTES, b"\x00")
        c0, c1 = (self.message_type << 5) | (n - 1), self.control1
        head = bytes((c0, c1, (fec_nibble(c0) << 4) | fec_nibble(c1)))
        if self.nx:
            head += self.callsign + callsign_crc(self.callsign)
        blocks = []
        for j in range(n):
            d = payload[j * BLOCK_DATA_BYTES:(j + 1) * BLOCK_DATA_BYTES]
            d += block_crc(d)
            coded = np.concatenate([_CODE_BITS[b] for b in d])
            blocks.append(coded[_INTERLEAVE])
        body = np.concatenate(blocks) ^ scrambler_sequence()[:n * BLOCK_BITS]
        sync = SYNC_NX if self.nx else SYNC_MOBITEX
        return np.concatenate([bits_from_bytes(bytes((BIT_SYNC,)) * self.bit_sync_bytes),
                               bits_from_int(sync, 16), bits_from_bytes(head), body])


OPTIONS = {
    "max_sync_errors": Option(int, 2, tuple(range(5)), "bit errors tolerated in the 16-bit frame sync"),
}
NX_OPTIONS = dict(OPTIONS, **{
    "callsign": Option(str, None, help="expected Mobitex-NX callsign (else checked by its CRC)"),
    "callsign_errors": Option(int, 8, tuple(range(17)),
                              "bit errors tolerated in callsign + CRC against the expected callsign"),
})
BEESAT9_OPTIONS = dict(NX_OPTIONS, callsign=Option(str, BEESAT9_CALLSIGN,
                                                   help="BEESAT-9's Mobitex-NX callsign"))


def _preset(cls, **fixed):
    def make(**options):
        return cls(**fixed, **options)
    return make


for _name, _fixed, _opts, _what in (
        ("Mobitex", {}, OPTIONS, "Mobitex (sync 0x5765)"),
        ("Mobitex-NX", {"nx": True}, NX_OPTIONS, "Mobitex-NX (sync 0x0EF0, callsign + CRC)"),
        ("BEESAT-9", {"nx": True, "blocks": MAX_BLOCKS}, BEESAT9_OPTIONS,
         "BEESAT-9's Mobitex-NX (callsign DP0BEM, always 32 blocks)")):
    register(FramingSpec(
        name=_name,
        description=f"{_what}: control bytes with (12,8) FEC, 18-byte data blocks with "
                    "CRC-16, (12,8) code, 12x20 interleaving and 9-bit LFSR scrambling",
        deframer=_preset(MobitexDeframer, **_fixed),
        framer=_preset(MobitexFramer, **_fixed),
        options=_opts,
        module=__name__,
    ))

__all__ = ["MobitexDeframer", "MobitexFramer", "decode_words", "codeword", "fec_nibble",
           "scrambler_sequence", "interleave_index", "block_crc", "callsign_crc",
           "SYNC_MOBITEX", "SYNC_NX"]

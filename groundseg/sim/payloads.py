"""What the simulated satellite sends: numbered beacon payloads, recognisable after decoding.

AX.25 framings carry a UI frame from ``GSIM-1`` to ``CQ`` whose text names
the satellite, the sequence number and the UTC time of transmission. Other
framings (CSP over AX100/U482C, CCSDS...) carry ``b"GSEG"``, the sequence
number and the Unix time (both big-endian u32), then the satellite name,
padded with a counting pattern to ``size`` bytes.
"""
from __future__ import annotations

import struct

from ..orbit.elements import iso_utc

AX25_FRAMINGS = ("AX.25", "AX.25 G3RUH")
MAGIC = b"GSEG"


def beacon_payload(framing: str, satellite: str, seq: int, t_unix_s: float, size: int = 48) -> bytes:
    if framing in AX25_FRAMINGS:
        from ..framing.ax25 import ui_frame

        text = f"{satellite} sim beacon {seq:04d} {iso_utc(t_unix_s)}"
        return ui_frame("CQ", "GSIM-1", text.encode("ascii", "replace"))
    head = MAGIC + struct.pack(">II", seq & 0xFFFFFFFF, int(t_unix_s) & 0xFFFFFFFF)
    body = head + satellite.encode("ascii", "replace")[:24]
    pad = bytes(i & 0xFF for i in range(max(0, size - len(body))))
    return body + pad


def parse_beacon(data: bytes) -> int | None:
    """The sequence number of a simulated beacon, or None if ``data`` is not one."""
    if data.startswith(MAGIC) and len(data) >= 12:
        return struct.unpack(">I", data[4:8])[0]
    i = data.find(b"sim beacon ")
    if i >= 0:
        try:
            return int(data[i + 11:i + 15])
        except ValueError:
            return None
    return None

"""KISS TNC emulator: what the host sends is "transmitted" (recorded), ``inject`` "receives".

``transmitted`` holds (port, data) of every data frame from the host,
``params`` the last value of each KISS parameter command. ``inject(data)``
sends a frame to the host as if heard over the air; with ``loopback`` every
transmitted frame is also heard back. ``garbage`` for this protocol is a run
of random bytes with a broken escape inside FENDs (a frame the host must
drop and count).
"""
from __future__ import annotations

from groundseg.storage import kiss

from .base import PtyEmulator


class KissTncEmulator(PtyEmulator):
    kind = "kiss-tnc"

    def __init__(self, *, loopback: bool = False, **kw):
        super().__init__(**kw)
        self.loopback = loopback
        self.decoder = kiss.Decoder()
        self.transmitted: list[tuple[int, bytes]] = []
        self.params: dict[tuple[int, int], bytes] = {}
        self.left_kiss = False

    def reset_input(self) -> None:
        self.decoder = kiss.Decoder()

    def garbage(self) -> bytes:
        junk = bytes(self._rng.randrange(1, 0xC0) for _ in range(self._rng.randint(3, 12)))
        return bytes((kiss.FEND, 0x00)) + junk + bytes((kiss.FESC, 0x41, kiss.FEND))

    def feed(self, data: bytes) -> list[bytes]:
        out = []
        for port, cmd, payload in self.decoder.feed(data):
            if port == 0x0F and cmd == 0x0F:
                self.left_kiss = True
                continue
            if cmd == kiss.CMD_DATA:
                self.transmitted.append((port, payload))
                self.received.append(payload)
                if self.loopback:
                    out.append(kiss.encode(payload, port=port))
            else:
                self.params[(port, cmd)] = payload
        return out

    def inject(self, data: bytes, port: int = 0) -> None:
        """A frame heard over the air, delivered to the host."""
        self._send([kiss.encode(data, port=port)])


def _register() -> None:
    from ..registry import EMULATORS, EmulatorKind

    EMULATORS.add("kiss-tnc", EmulatorKind("kiss-tnc", "KISS TNC (records what is sent, injects received frames)",
                                           KissTncEmulator))


_register()

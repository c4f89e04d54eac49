"""Fuzz KISS: the stream decoder, and the TNC driver's reader fed broken streams from its TNC.

Boundaries:

* ``kiss.decoder``: ``groundseg.storage.kiss.Decoder`` on streams of real
  frames mixed with junk (stray FESC, bad escapes, FEND runs, over-long
  frames) cut into random chunks: never raises; the frames do not depend on
  where the stream was cut; ports and commands are nibbles, payloads within
  ``max_len``; and a real frame after any junk comes out intact;
* ``bridge.kiss_tnc``: ``firmware_bridge.kiss_tnc.KissTnc`` whose TNC (the
  loopback emulator) sends the frames back through the fuzz script plus
  junk of its own: the reader thread stays alive, counts what it dropped,
  and a clean frame sent afterwards is received; what ``send`` writes
  decodes back to the frame sent.
"""
from __future__ import annotations

import time

from hypothesis import given, strategies as st

from firmware_bridge.emulators.kiss_tnc import KissTncEmulator
from firmware_bridge.kiss_tnc import KissTnc
from groundseg.storage import kiss

from ._fakes import ScriptedSerialLink, reply_ops
from ._harness import attempt, fuzz_settings

FEND, FESC, TFEND, TFESC = kiss.FEND, kiss.FESC, kiss.TFEND, kiss.TFESC
_KISS_BYTES = st.sampled_from([bytes((FEND,)), bytes((FESC,)), bytes((FESC, TFEND)), bytes((FESC, TFESC)),
                               bytes((FESC, 0x41)), bytes((FEND, FEND)), bytes((FESC, FEND)), b"\x00", b"\xff"])


@st.composite
def kiss_streams(draw) -> bytes:
    parts = []
    for _ in range(draw(st.integers(0, 6))):
        k = draw(st.integers(0, 3))
        if k == 0:
            parts.append(kiss.encode(draw(st.binary(max_size=80)), port=draw(st.integers(0, 15)),
                                     command=draw(st.integers(0, 15))))
        elif k == 1:
            parts.append(draw(st.binary(max_size=40)))
        elif k == 2:
            parts.append(b"".join(draw(st.lists(_KISS_BYTES, max_size=8))))
        else:
            parts.append(bytes((FEND,)) + bytes(draw(st.integers(100, 300))) + bytes((FEND,)))  # over-long
    return b"".join(parts)


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    pos = sorted({min(len(data), c) for c in cuts})
    out, last = [], 0
    for p in pos:
        out.append(data[last:p])
        last = p
    out.append(data[last:])
    return out


def _decode_checked(args):
    stream, cuts, tail = args
    whole = kiss.Decoder(max_len=128)
    ref = whole.feed(stream + tail)
    d = kiss.Decoder(max_len=128)
    got = []
    for c in _chunks(stream + tail, cuts):
        got += d.feed(c)
    assert got == ref and d.errors == whole.errors, "the frames depend on where the stream was cut"
    for port, cmd, payload in got:
        assert 0 <= port <= 15 and 0 <= cmd <= 15 and len(payload) <= 128
    assert got and got[-1] == (3, 0, b"after the junk"), got[-3:]
    return got


@fuzz_settings(500)
@given(kiss_streams(), st.lists(st.integers(0, 2000), max_size=8))
def test_decoder(stream, cuts):
    tail = kiss.encode(b"after the junk", port=3)
    attempt("kiss.decoder", _decode_checked, (stream, cuts, tail), allowed=())


@fuzz_settings(200)
@given(st.binary(max_size=3000))
def test_decoder_raw_bytes(data):
    attempt("kiss.decoder", _decode_checked, (data, [len(data) // 2], kiss.encode(b"after the junk", port=3)),
            allowed=())


# --- the TNC driver -------------------------------------------------------------------------------------------------


def _wait(pred, timeout_s: float = 5.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.002)
    return pred()


@st.composite
def tnc_cases(draw):
    frames = draw(st.lists(st.binary(min_size=1, max_size=60), max_size=4))
    junk = draw(st.lists(kiss_streams(), max_size=3))
    return frames, junk, draw(reply_ops(endless=False, max_ops=6))


def _tnc_exchange(case):
    frames, junk, script = case
    emu = KissTncEmulator(loopback=True)
    tnc = KissTnc("/dev/fuzz", name="fuzz-tnc", timeout_s=0.5)
    tnc.link = ScriptedSerialLink(emu.feed, script, name=tnc.name, counters=tnc.counters)
    tnc.open()
    try:
        for f in frames:
            tnc.send(f)
        for j in junk:
            tnc.link.inject(j)
        marker = b"clean frame after the fuzz"
        # a FEND first: whatever partial frame the junk left open is closed
        tnc.link.inject(bytes((FEND,)) + kiss.encode(marker))
        got = []

        def received():
            while (item := tnc.receive(0)) is not None:
                got.append(item)
            return (0, marker) in got
        assert _wait(received), f"the clean frame never arrived; got {got[-3:]}"
        assert tnc._reader is not None and tnc._reader.is_alive()
        written = bytes(tnc.link.device.written)
        assert kiss.decode(written) == frames, "what send() wrote does not decode to the frames sent"
        for port, data in got:
            assert 0 <= port <= 15 and isinstance(data, bytes)
        return got
    finally:
        tnc.close()
        emu.stop()


@fuzz_settings(80)
@given(tnc_cases())
def test_kiss_tnc(case):
    attempt("bridge.kiss_tnc", _tnc_exchange, case, allowed=(), limit_s=10.0)

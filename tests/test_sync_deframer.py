"""The shared sync-word deframer machinery, with a toy fixed-length framing."""
import numpy as np
from hypothesis import given, settings, strategies as st

from groundseg.framing._sync import SyncDeframer, bits_from_bytes, bits_from_int, soft_to_bytes
from groundseg.framing.base import Frame

SYNC = 0x1ACFFC1D


class Toy(SyncDeframer):
    sync_bits = bits_from_int(SYNC, 32)
    max_sync_errors = 2
    max_frame_symbols = 64

    def decode_frame(self, soft, start_symbol):
        data = soft_to_bytes(soft)
        if data[:2] != b"OK":
            return None
        return Frame(data=data, end_symbol=0)


def _stream(payloads, rng, gap=37):
    parts = []
    for p in payloads:
        parts += [rng.integers(0, 2, gap).astype(np.uint8), bits_from_int(SYNC, 32), bits_from_bytes(p)]
    parts.append(rng.integers(0, 2, gap).astype(np.uint8))
    bits = np.concatenate(parts)
    return (2.0 * bits - 1.0).astype(np.float32)


def test_finds_every_frame_across_any_chunking(rng):
    payloads = [b"OK" + bytes([i]) * 6 for i in range(5)]
    soft = _stream(payloads, rng)
    for chunk in (1, 7, 31, 64, 1000):
        d = Toy()
        got = []
        for i in range(0, len(soft), chunk):
            got += d.process(soft[i:i + chunk])
        got += d.flush()
        assert [f.data for f in got] == payloads
        # end_symbol is just past the frame
        ends = [f.end_symbol for f in got]
        assert ends == [(37 + 32 + 64) * (k + 1) for k in range(5)]


def test_inverted_polarity_and_sync_errors(rng):
    soft = _stream([b"OK" + b"x" * 6], rng)
    soft[40] = -soft[40]
    soft[50] = -soft[50]          # two sync bit errors: tolerated
    fr = Toy().process(-soft)
    assert len(fr) == 1 and fr[0].inverted and fr[0].data == b"OKxxxxxx"
    soft[60] = -soft[60]          # three: not a sync any more
    assert Toy().process(soft) == []


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=400))
def test_garbage_gives_no_exception(data):
    soft = (2.0 * bits_from_bytes(data) - 1.0).astype(np.float32)
    d = Toy()
    for f in d.process(soft) + d.flush():
        assert f.data[:2] == b"OK"


def test_buffer_stays_bounded(rng):
    d = Toy()
    for _ in range(200):
        d.process(rng.standard_normal(4096).astype(np.float32))
    assert len(d._buf) < 4096 + 200

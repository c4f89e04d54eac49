from hypothesis import given, strategies as st

from groundseg.storage import kiss


def test_escapes_fend_and_fesc():
    enc = kiss.encode(bytes([0xC0, 0x01, 0xDB]))
    assert enc == bytes([0xC0, 0x00, 0xDB, 0xDC, 0x01, 0xDB, 0xDD, 0xC0])


@given(st.lists(st.binary(min_size=1, max_size=300), max_size=8))
def test_round_trip_any_bytes(frames):
    stream = b"".join(kiss.encode(f) for f in frames)
    assert kiss.decode(stream) == frames


def test_incremental_split_anywhere():
    frames = [b"hello", bytes(range(256)), b"\xc0\xdb"]
    stream = b"junk" + b"".join(kiss.encode(f, port=3) for f in frames)
    for cut in range(len(stream)):
        d = kiss.Decoder()
        got = d.feed(stream[:cut]) + d.feed(stream[cut:])
        assert [x[2] for x in got] == frames
        assert all(p == 3 for p, _, _ in got)


def test_bad_escape_drops_only_that_frame():
    d = kiss.Decoder()
    stream = bytes([0xC0, 0x00, 0xDB, 0x41, 0xC0]) + kiss.encode(b"ok")
    assert [x[2] for x in d.feed(stream)] == [b"ok"]
    assert d.errors == 1


@given(st.binary(max_size=2000))
def test_garbage_never_raises(data):
    for port, cmd, payload in kiss.Decoder(max_len=100).feed(data):
        assert len(payload) <= 100 and 0 <= port <= 15 and 0 <= cmd <= 15

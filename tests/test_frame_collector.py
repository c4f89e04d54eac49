from groundseg.blocks.frame_collector import FrameCollector, FrameDeduper


def test_same_bytes_from_two_chains_close_in_time_is_one_frame():
    d = FrameDeduper(window_s=0.25)
    assert d.is_new(b"abc", 10.0, "A")
    assert not d.is_new(b"abc", 10.1, "B")
    assert d.is_new(b"abc", 11.0, "B")       # a repeat a second later is real


def test_same_chain_back_to_back_identical_frames_are_all_kept():
    d = FrameDeduper(window_s=0.25)
    assert all(d.is_new(b"\xc0" * 81, 0.2 * i, "lilac") for i in range(10))


def test_memory_is_bounded():
    d = FrameDeduper(window_s=0.25, horizon_s=5.0)
    for i in range(10000):
        d.is_new(i.to_bytes(4, "big"), i * 0.1, "A")
    assert len(d) <= 52


def test_collector_counts_invalid_and_duplicates():
    got = []
    c = FrameCollector(lambda m, d: got.append(d))
    c({"time_s": 1.0, "crc_ok": True, "transmitter": "a"}, b"x")
    c({"time_s": 1.05, "crc_ok": True, "transmitter": "b"}, b"x")
    c({"time_s": 1.0, "crc_ok": False, "transmitter": "a"}, b"y")
    assert got == [b"x"] and c.duplicates == 1 and c.invalid == 1
    keep = []
    c2 = FrameCollector(lambda m, d: keep.append(d), keep_invalid=True)
    c2({"time_s": 1.0, "crc_ok": False}, b"y")
    assert keep == [b"y"]

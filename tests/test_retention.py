"""Storage retention: old passes and IQ deleted by age (a frozen clock), optional artifacts first when short of space."""
from __future__ import annotations

import os

import pytest

from groundseg.storage import artifacts as art
from groundseg.storage.retention import apply_retention, free_bytes, last_change

NOW = 1_900_000_000.0
DAY = 86400.0


def make_pass(root, pass_id: str, age_days: float, iq_bytes: int = 0, rows_bytes: int = 0, iq_age_days=None):
    d = root / pass_id
    d.mkdir(parents=True)
    files = {art.FRAMES_JSONL: b'{"hex": "00"}\n', art.REPORT: b"{}", art.WATERFALL_PNG: b"png"}
    if iq_bytes:
        files[art.IQ_DATA] = b"\0" * iq_bytes
        files[art.IQ_META] = b"{}"
    if rows_bytes:
        files[art.WATERFALL_ROWS] = b"\0" * rows_bytes
    for name, data in files.items():
        (d / name).write_bytes(data)
        t = NOW - (iq_age_days if name.startswith("iq.") and iq_age_days is not None else age_days) * DAY
        os.utime(d / name, (t, t))
    t = NOW - age_days * DAY
    os.utime(d, (t, t))
    return d


def names(root):
    return sorted(p.name for p in root.iterdir())


def test_old_pass_directories_go_and_recent_ones_stay(tmp_path):
    make_pass(tmp_path, "p-old", 91)
    make_pass(tmp_path, "p-edge", 90)
    make_pass(tmp_path, "p-new", 89.9)
    (tmp_path / "notes").mkdir()                      # not a pass directory: left alone however old
    os.utime(tmp_path / "notes", (0, 0))
    (tmp_path / "stray.txt").write_text("x")
    rep = apply_retention(tmp_path, NOW, retention_days=90)
    assert sorted(rep.passes_deleted) == ["p-edge", "p-old"]
    assert names(tmp_path) == ["notes", "p-new", "stray.txt"]
    assert rep.bytes_freed > 0 and rep.errors == []


def test_nothing_is_deleted_without_retention(tmp_path):
    make_pass(tmp_path, "p-ancient", 10000, iq_bytes=100)
    rep = apply_retention(tmp_path, NOW)
    assert not rep.changed and names(tmp_path) == ["p-ancient"]
    assert (tmp_path / "p-ancient" / art.IQ_DATA).exists()


def test_iq_goes_sooner_than_its_pass(tmp_path):
    make_pass(tmp_path, "p-a", 10, iq_bytes=1000)
    make_pass(tmp_path, "p-b", 3, iq_bytes=1000)
    make_pass(tmp_path, "p-c", 10)                    # no IQ recorded
    rep = apply_retention(tmp_path, NOW, retention_days=90, iq_retention_days=7)
    assert rep.iq_deleted == ["p-a"] and rep.passes_deleted == []
    assert not (tmp_path / "p-a" / art.IQ_DATA).exists() and not (tmp_path / "p-a" / art.IQ_META).exists()
    assert (tmp_path / "p-a" / art.FRAMES_JSONL).exists() and (tmp_path / "p-a" / art.REPORT).exists()
    assert (tmp_path / "p-b" / art.IQ_DATA).exists()
    # deleting the IQ changed the directory's time, not the pass's age: it still goes on time
    assert last_change(tmp_path / "p-a") == pytest.approx(NOW - 10 * DAY)
    rep = apply_retention(tmp_path, NOW, retention_days=9.5, iq_retention_days=7)
    assert sorted(rep.passes_deleted) == ["p-a", "p-c"] and names(tmp_path) == ["p-b"]


def test_the_running_pass_is_never_touched(tmp_path):
    make_pass(tmp_path, "p-run", 400, iq_bytes=10)
    rep = apply_retention(tmp_path, NOW, retention_days=1, iq_retention_days=1, keep=["p-run"])
    assert not rep.changed and (tmp_path / "p-run" / art.IQ_DATA).exists()


class FakeDisk:
    """Free space that grows by what is deleted."""

    def __init__(self, root, free: int):
        self.root, self.base = root, free
        self.start = self.used()

    def used(self) -> int:
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())

    def __call__(self, path) -> int:
        return self.base + (self.start - self.used())


def test_short_of_space_iq_goes_first_oldest_first_then_raw_waterfall_rows(tmp_path):
    make_pass(tmp_path, "p1", 5, iq_bytes=3000, rows_bytes=500)
    make_pass(tmp_path, "p2", 4, iq_bytes=3000, rows_bytes=500)
    make_pass(tmp_path, "p3", 3, iq_bytes=3000, rows_bytes=500)
    disk = FakeDisk(tmp_path, free=1000)
    rep = apply_retention(tmp_path, NOW, min_free_bytes=5000, free_fn=disk)  # 4000 short: two IQ files
    assert rep.dropped_for_space == ["p1/iq.sigmf-data", "p1/iq.sigmf-meta", "p2/iq.sigmf-data",
                                     "p2/iq.sigmf-meta"]
    assert rep.short_bytes == 0 and rep.free_bytes >= 5000
    assert (tmp_path / "p3" / art.IQ_DATA).exists() and (tmp_path / "p1" / art.WATERFALL_ROWS).exists()
    # more pressure: the last IQ, then the raw waterfall rows, never frames, reports or pictures
    rep = apply_retention(tmp_path, NOW, min_free_bytes=disk(tmp_path) + 3800, free_fn=disk)
    assert rep.dropped_for_space == ["p3/iq.sigmf-data", "p3/iq.sigmf-meta", "p1/waterfall.f32",
                                     "p2/waterfall.f32"]
    rep = apply_retention(tmp_path, NOW, min_free_bytes=disk(tmp_path) + 10_000, free_fn=disk)
    assert rep.dropped_for_space == ["p3/waterfall.f32"] and rep.short_bytes > 9000
    for p in ("p1", "p2", "p3"):
        assert names(tmp_path / p) == sorted([art.FRAMES_JSONL, art.REPORT, art.WATERFALL_PNG])


def test_enough_space_drops_nothing(tmp_path):
    make_pass(tmp_path, "p1", 5, iq_bytes=3000)
    rep = apply_retention(tmp_path, NOW, min_free_bytes=1000, free_fn=lambda p: 10**9)
    assert not rep.changed and rep.free_bytes == 10**9


def test_free_bytes_of_a_path_not_made_yet(tmp_path):
    assert free_bytes(tmp_path / "a" / "b") == free_bytes(tmp_path) > 0

"""The durable outbox: SQLite in WAL mode, one row per frame, one delivery row per (frame, sink).

Schema::

    frames(seq INTEGER PRIMARY KEY, id TEXT UNIQUE, t_unix_s, stored_unix_s, norad, pass_id,
           data BLOB, record TEXT)
    deliveries(seq, sink, state, attempts, next_try_unix_s, last_error, done_unix_s,
               PRIMARY KEY (sink, seq))          state: pending | done | rejected | skipped | abandoned

``put`` writes the frame and a pending delivery for each sink in one
transaction (``INSERT OR IGNORE`` on the id: storing the same frame again is
a no-op). Deliveries are taken in ``seq`` order per sink; ``ack``,
``retry``, ``reject``, ``skip`` settle them; ``purge`` deletes frames whose
every delivery is settled, ``retention_s`` after the last settlement.
Pending deliveries are never deleted, whatever the retention.

The fsync policy maps to ``PRAGMA synchronous`` (see ``groundseg.gateway``).
One connection, shared by the publishing thread and the forwarder threads
under a lock (SQLite serialises writers anyway).
"""
from __future__ import annotations

import json
import os
import pathlib
import sqlite3
import threading
import time
import uuid
from typing import Callable, Iterable

from ..errors import InputError
from .sinks import Item

# A fixed namespace for frame ids (a UUIDv4 drawn once for groundseg; never change it: ids would change).
FRAME_NAMESPACE = uuid.UUID("6f3b1d2e-8c4a-4b7e-9d55-2a1f0c9e7b31")
SYNCHRONOUS = {"full": "FULL", "normal": "NORMAL", "off": "OFF"}
SETTLED = ("done", "rejected", "skipped", "abandoned")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS frames (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    t_unix_s REAL NOT NULL,
    stored_unix_s REAL NOT NULL,
    norad INTEGER,
    pass_id TEXT,
    data BLOB NOT NULL,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    seq INTEGER NOT NULL REFERENCES frames(seq) ON DELETE CASCADE,
    sink TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try_unix_s REAL NOT NULL DEFAULT 0,
    last_error TEXT,
    done_unix_s REAL,
    PRIMARY KEY (sink, seq)
);
CREATE INDEX IF NOT EXISTS deliveries_pending ON deliveries(sink, state, seq);
CREATE INDEX IF NOT EXISTS deliveries_by_seq ON deliveries(seq);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""


def frame_id(station_id: str, t_unix_s: float, norad: int | None, data: bytes) -> str:
    """The idempotent id of a frame: UUIDv5 of station, time (to the microsecond), NORAD id and bytes."""
    key = f"{station_id}|{round(float(t_unix_s) * 1e6):d}|{norad if norad is not None else '-'}|{bytes(data).hex()}"
    return str(uuid.uuid5(FRAME_NAMESPACE, key))


def record_frame_id(station_id: str, record: dict, norad: int | None = None,
                    t_unix_s: float | None = None) -> str:
    """The id the gateway gives a stored frame record (``hex``, ``t_unix_s``, ``norad``)."""
    t = record.get("t_unix_s")
    t = float(t) if isinstance(t, (int, float)) else t_unix_s
    if t is None:
        raise InputError("a frame record without t_unix_s")
    n = record.get("norad", norad)
    return frame_id(station_id, t, n, bytes.fromhex(record["hex"]))


class Outbox:
    def __init__(self, path: str | os.PathLike, sinks: Iterable[str], fsync: str = "full",
                 clock: Callable[[], float] = time.time):
        if fsync not in SYNCHRONOUS:
            raise InputError(f"fsync policy {fsync!r} is not one of {', '.join(SYNCHRONOUS)}")
        self.path = pathlib.Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.sinks = tuple(dict.fromkeys(sinks))
        self.fsync = fsync
        self.clock = clock
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None,
                                       check_same_thread=False)
            self._db.row_factory = sqlite3.Row
            mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise InputError(f"{self.path}: SQLite refused WAL mode (got {mode})")
            self._db.execute(f"PRAGMA synchronous={SYNCHRONOUS[fsync]}")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as e:
            raise InputError(f"{self.path}: cannot open the gateway outbox: {e}") from None
        self.abandoned = self._abandon_unknown_sinks()

    # --- writing ------------------------------------------------------------------------------

    def put(self, frame_id_: str, t_unix_s: float, norad: int | None, pass_id: str | None, data: bytes,
            record: dict) -> bool:
        """Store a frame with a pending delivery per sink; False when that id was stored already."""
        now = self.clock()
        rec = json.dumps(record, separators=(",", ":"), default=str)
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                cur = db.execute("INSERT OR IGNORE INTO frames(id, t_unix_s, stored_unix_s, norad, pass_id, data, "
                                 "record) VALUES (?,?,?,?,?,?,?)",
                                 (frame_id_, float(t_unix_s), now, norad, pass_id, bytes(data), rec))
                new = cur.rowcount == 1
                if new:
                    seq = cur.lastrowid
                    db.executemany("INSERT INTO deliveries(seq, sink) VALUES (?, ?)", [(seq, s) for s in self.sinks])
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return new

    def _settle(self, sink: str, seqs: Iterable[int], state: str, error: str | None) -> int:
        seqs = list(seqs)
        if not seqs:
            return 0
        now = self.clock()
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                n = 0
                for s in seqs:
                    n += db.execute("UPDATE deliveries SET state=?, done_unix_s=?, last_error=?, attempts=attempts+1 "
                                    "WHERE sink=? AND seq=? AND state='pending'", (state, now, error, sink, s)).rowcount
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return n

    def ack(self, sink: str, seqs: Iterable[int]) -> int:
        return self._settle(sink, seqs, "done", None)

    def reject(self, sink: str, seq: int, error: str) -> int:
        return self._settle(sink, [seq], "rejected", error[:500])

    def skip(self, sink: str, seq: int, why: str) -> int:
        return self._settle(sink, [seq], "skipped", why[:500])

    def retry(self, sink: str, seqs: Iterable[int], error: str, initial_s: float, max_s: float) -> None:
        """Count a failed attempt; the next try after ``initial_s * 2**(attempts-1)`` (at most ``max_s``)."""
        seqs = list(seqs)
        if not seqs:
            return
        now = self.clock()
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                for s in seqs:
                    row = db.execute("SELECT attempts FROM deliveries WHERE sink=? AND seq=? AND state='pending'",
                                     (sink, s)).fetchone()
                    if row is None:
                        continue
                    attempts = row[0] + 1
                    wait = min(max_s, initial_s * 2.0 ** min(attempts - 1, 30))
                    db.execute("UPDATE deliveries SET attempts=?, next_try_unix_s=?, last_error=? "
                               "WHERE sink=? AND seq=?", (attempts, now + wait, error[:500], sink, s))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def release(self, sink: str) -> int:
        """Make every pending delivery of ``sink`` due now (the sink came back after an outage)."""
        with self._lock:
            return self._db.execute("UPDATE deliveries SET next_try_unix_s=0 WHERE sink=? AND state='pending' "
                                    "AND next_try_unix_s > 0", (sink,)).rowcount

    def _abandon_unknown_sinks(self) -> dict[str, int]:
        """Pending deliveries of sinks no longer configured would hold their frames forever."""
        out: dict[str, int] = {}
        now = self.clock()
        with self._lock:
            rows = self._db.execute("SELECT sink, COUNT(*) FROM deliveries WHERE state='pending' GROUP BY sink"
                                    ).fetchall()
            for sink, n in rows:
                if sink not in self.sinks:
                    self._db.execute("UPDATE deliveries SET state='abandoned', done_unix_s=?, "
                                     "last_error='sink no longer configured' WHERE sink=? AND state='pending'",
                                     (now, sink))
                    out[sink] = n
        return out

    def purge(self, retention_s: float) -> int:
        """Delete frames settled for every sink more than ``retention_s`` ago; the number deleted."""
        cutoff = self.clock() - float(retention_s)
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                cur = db.execute(
                    "DELETE FROM frames WHERE seq IN ("
                    " SELECT f.seq FROM frames f LEFT JOIN deliveries d ON d.seq = f.seq"
                    " GROUP BY f.seq"
                    " HAVING COALESCE(SUM(d.state = 'pending'), 0) = 0"
                    "    AND COALESCE(MAX(d.done_unix_s), f.stored_unix_s) <= ?)", (cutoff,))
                n = cur.rowcount
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return n

    # --- reading --------------------------------------------------------------------------------

    def due(self, sink: str, now: float | None = None, limit: int = 50) -> list[Item]:
        """Pending deliveries of ``sink`` whose retry time has come, oldest first."""
        now = self.clock() if now is None else now
        with self._lock:
            rows = self._db.execute(
                "SELECT f.seq, f.id, f.t_unix_s, f.norad, f.pass_id, f.data, f.record, d.attempts "
                "FROM deliveries d JOIN frames f ON f.seq = d.seq "
                "WHERE d.sink=? AND d.state='pending' AND d.next_try_unix_s <= ? ORDER BY d.seq LIMIT ?",
                (sink, now, int(limit))).fetchall()
        return [Item(r["id"], r["seq"], r["t_unix_s"], r["norad"], r["pass_id"], bytes(r["data"]),
                     json.loads(r["record"]), r["attempts"]) for r in rows]

    def next_try(self, sink: str) -> float | None:
        """When the next pending delivery of ``sink`` may be tried (None: nothing pending)."""
        with self._lock:
            r = self._db.execute("SELECT MIN(next_try_unix_s) FROM deliveries WHERE sink=? AND state='pending'",
                                 (sink,)).fetchone()
        return r[0]

    def count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM frames").fetchone()[0]

    def get(self, frame_id_: str) -> dict | None:
        """A stored frame with its delivery states (for tests and the operator)."""
        with self._lock:
            f = self._db.execute("SELECT * FROM frames WHERE id=?", (frame_id_,)).fetchone()
            if f is None:
                return None
            ds = self._db.execute("SELECT sink, state, attempts, last_error FROM deliveries WHERE seq=?",
                                  (f["seq"],)).fetchall()
        return {"id": f["id"], "seq": f["seq"], "t_unix_s": f["t_unix_s"], "norad": f["norad"],
                "pass_id": f["pass_id"], "hex": bytes(f["data"]).hex(),
                "deliveries": {d["sink"]: {"state": d["state"], "attempts": d["attempts"],
                                           "last_error": d["last_error"]} for d in ds}}

    def stats(self) -> dict:
        """Depth (frames not settled everywhere), oldest undelivered, and per sink state counts."""
        with self._lock:
            db = self._db
            depth, oldest = db.execute(
                "SELECT COUNT(DISTINCT f.seq), MIN(f.stored_unix_s) FROM frames f JOIN deliveries d ON d.seq=f.seq "
                "WHERE d.state='pending'").fetchone()
            per: dict[str, dict] = {s: {"pending": 0, "done": 0, "rejected": 0, "skipped": 0, "abandoned": 0,
                                        "oldest_pending_unix_s": None, "max_attempts": 0, "last_error": None}
                                    for s in self.sinks}
            for sink, state, n, first, attempts in db.execute(
                    "SELECT d.sink, d.state, COUNT(*), MIN(f.stored_unix_s), MAX(d.attempts) FROM deliveries d "
                    "JOIN frames f ON f.seq=d.seq GROUP BY d.sink, d.state"):
                st = per.setdefault(sink, {"pending": 0, "done": 0, "rejected": 0, "skipped": 0, "abandoned": 0,
                                           "oldest_pending_unix_s": None, "max_attempts": 0, "last_error": None})
                st[state] = n
                if state == "pending":
                    st["oldest_pending_unix_s"] = first
                    st["max_attempts"] = attempts
            for sink, st in per.items():
                if st["pending"]:
                    r = db.execute("SELECT last_error FROM deliveries WHERE sink=? AND state='pending' "
                                   "ORDER BY seq LIMIT 1", (sink,)).fetchone()
                    st["last_error"] = r[0] if r else None
            total = db.execute("SELECT COUNT(*) FROM frames").fetchone()[0]
        return {"frames": total, "depth": depth, "oldest_undelivered_unix_s": oldest, "sinks": per}

    def close(self) -> None:
        with self._lock:
            try:
                self._db.close()
            except sqlite3.Error:
                pass

"""The persistent telecommand queue (SQLite, WAL): queued telecommands survive a station restart.

States: ``queued`` -> ``sent`` | ``failed`` | ``expired`` (the pass ended, or
the satellite set, before it could go) | ``cancelled`` | ``refused`` (the
policy said no at send time, e.g. transmit disabled since).
"""
from __future__ import annotations

import json
import os
import pathlib
import sqlite3
import threading
import uuid
from dataclasses import dataclass

STATES = ("queued", "sent", "failed", "expired", "cancelled", "refused")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS telecommands (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    pass_id TEXT NOT NULL,
    norad INTEGER NOT NULL,
    payload BLOB NOT NULL,
    framing TEXT NOT NULL,
    options TEXT NOT NULL,
    link TEXT NOT NULL,
    who TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    queued_unix_s REAL NOT NULL,
    updated_unix_s REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS telecommands_state ON telecommands(state, seq);
"""


@dataclass(frozen=True)
class Telecommand:
    seq: int
    id: str
    pass_id: str
    norad: int
    payload: bytes
    framing: str
    options: dict
    link: dict               # modulation, baud, deviation_hz, af_carrier_hz, freq_hz
    who: str
    state: str
    reason: str
    queued_unix_s: float
    updated_unix_s: float

    def to_dict(self) -> dict:
        from ..orbit.elements import iso_utc

        return {"id": self.id, "pass_id": self.pass_id, "norad": self.norad, "payload_hex": self.payload.hex(),
                "framing": self.framing, "options": self.options, **self.link, "who": self.who,
                "state": self.state, "reason": self.reason, "queued": iso_utc(self.queued_unix_s),
                "updated": iso_utc(self.updated_unix_s)}


class TelecommandQueue:
    def __init__(self, path: str | os.PathLike):
        self.path = pathlib.Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=30.0)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def add(self, pass_id: str, norad: int, payload: bytes, framing: str, options: dict, link: dict, who: str,
            now: float) -> Telecommand:
        cid = uuid.uuid4().hex[:16]
        with self._lock:
            self._db.execute("INSERT INTO telecommands(id, pass_id, norad, payload, framing, options, link, who, "
                             "state, queued_unix_s, updated_unix_s) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                             (cid, pass_id, int(norad), bytes(payload), framing, json.dumps(options),
                              json.dumps(link), who, "queued", now, now))
        return self.get(cid)

    @staticmethod
    def _row(r) -> Telecommand:
        return Telecommand(r["seq"], r["id"], r["pass_id"], r["norad"], bytes(r["payload"]), r["framing"],
                           json.loads(r["options"]), json.loads(r["link"]), r["who"], r["state"], r["reason"],
                           r["queued_unix_s"], r["updated_unix_s"])

    def get(self, cid: str) -> Telecommand | None:
        with self._lock:
            r = self._db.execute("SELECT * FROM telecommands WHERE id=?", (cid,)).fetchone()
        return self._row(r) if r else None

    def list(self, states=None, limit: int = 1000) -> list[Telecommand]:
        q, args = "SELECT * FROM telecommands", []
        if states:
            q += f" WHERE state IN ({','.join('?' * len(states))})"
            args += list(states)
        with self._lock:
            rows = self._db.execute(q + " ORDER BY seq DESC LIMIT ?", (*args, int(limit))).fetchall()
        return [self._row(r) for r in reversed(rows)]

    def pending(self) -> list[Telecommand]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM telecommands WHERE state='queued' ORDER BY seq").fetchall()
        return [self._row(r) for r in rows]

    def finish(self, cid: str, state: str, reason: str, now: float) -> bool:
        """queued -> ``state``; False when it was not queued (any more)."""
        if state not in STATES:
            raise ValueError(state)
        with self._lock:
            n = self._db.execute("UPDATE telecommands SET state=?, reason=?, updated_unix_s=? WHERE id=? AND "
                                 "state='queued'", (state, reason[:500], now, cid)).rowcount
        return n == 1

    def close(self) -> None:
        with self._lock:
            self._db.close()

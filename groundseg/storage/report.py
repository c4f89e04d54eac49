"""The pass report: what happened during one pass, as one JSON document (``report.json``).

Filled in by the executor as the pass goes and written at the end (also when
the pass fails). Keys:

* identity: ``pass_id``, ``task_id``, ``norad``, ``satellite``, ``transmitter``,
  ``freq_hz``, ``chain``, ``rotator``; ``planned``: AOS/TCA/LOS, observed
  span, maximum elevation (Unix seconds, degrees);
* ``state`` and ``reason``: the terminal life-cycle state and why;
* ``timings``: life-cycle moments in station time (Unix seconds: simulated
  time in a simulation), ``max_lag_s`` (how far the flowgraph's stream ran
  behind the clock until the end of the pass) and ``wall_s``: wall-clock
  seconds the pass took;
* ``counts``: frames, invalid frames, Doppler updates sent and applied,
  rotator commands and failures, flowgraph runs and restarts;
* ``doppler``: every correction sent, ``[t_unix_s, doppler_hz]``;
* ``rotator``: the pointing plan (flip, azimuth window) and every command
  ``[t_unix_s, sky_az_deg, sky_el_deg, rot_az_deg, rot_el_deg]``;
* ``flowgraph``: one entry per run of the flowgraph process (pid, start,
  ready, exit code, how it ended);
* ``errors`` / ``warnings``: ``{t_unix_s, where, message}``;
* ``artifacts``: file names in the pass directory; ``simulation``: what the
  simulator sent (when the pass was simulated).
"""
from __future__ import annotations

import json
import os
import pathlib
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import InputError
from .artifacts import write_json_atomic


@dataclass
class PassReport:
    pass_id: str
    task_id: str = ""
    norad: int = 0
    satellite: str = ""
    transmitter: str = ""
    freq_hz: float = 0.0
    chain: str = ""
    rotator: str | None = None
    planned: dict[str, float] = field(default_factory=dict)
    state: str = "planned"
    reason: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    wall_s: float = 0.0
    counts: dict[str, int] = field(default_factory=lambda: {
        "frames": 0, "frames_invalid": 0, "doppler_sent": 0, "doppler_applied": 0, "rotator_commands": 0,
        "rotator_failures": 0, "flowgraph_runs": 0, "flowgraph_restarts": 0})
    doppler: list[list[float]] = field(default_factory=list)
    rotator_plan: dict[str, Any] = field(default_factory=dict)
    rotator_commands: list[list[float]] = field(default_factory=list)
    flowgraph: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    artifacts: dict[str, str] = field(default_factory=dict)
    simulation: dict[str, Any] | None = None

    def __post_init__(self):
        self._lock = threading.Lock()

    def mark(self, what: str, t_unix_s: float) -> None:
        with self._lock:
            self.timings.setdefault(what, float(t_unix_s))

    def count(self, what: str, n: int = 1) -> None:
        with self._lock:
            self.counts[what] = self.counts.get(what, 0) + n

    def error(self, where: str, message: str, t_unix_s: float) -> None:
        with self._lock:
            self.errors.append({"t_unix_s": float(t_unix_s), "where": where, "message": message})

    def warn(self, where: str, message: str, t_unix_s: float) -> None:
        with self._lock:
            self.warnings.append({"t_unix_s": float(t_unix_s), "where": where, "message": message})

    def to_dict(self) -> dict:
        with self._lock:
            d = {k: v for k, v in asdict(self).items()}
        return d

    def write(self, path: str | os.PathLike) -> pathlib.Path:
        return write_json_atomic(pathlib.Path(path), self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> "PassReport":
        p = pathlib.Path(path)
        try:
            d = json.loads(p.read_text())
            return cls(**d)
        except (OSError, ValueError, TypeError) as e:
            raise InputError(f"{p}: not a pass report ({type(e).__name__}: {e})") from None

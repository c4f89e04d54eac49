"""Count the inputs tried per fuzz boundary, the crashes, the hangs and the slowest input.

Every fuzz target reports each input it tried through :func:`record` (the
harness in ``_harness.py`` does it). The tally lives in this process;
``tests/fuzz/conftest.py`` prints it at the end of a pytest session and
writes it as JSON (``bench-out/fuzz-counts.json``); the fuzz benchmark
(``tests/benchmarks/bench_fuzz.py``) does the same for its longer campaign
(``bench-out/fuzz-bench-counts.json``).

The JSON is ``{"boundaries": {name: {"inputs", "crashes", "hangs",
"rejected", "accepted", "slowest_s"}}, "total_inputs": n}``: ``rejected``
counts inputs that ended in the boundary's documented error (InputError,
HardwareError, an error reply), ``accepted`` those that went through.
"""
from __future__ import annotations

import json
import pathlib
import threading
from dataclasses import asdict, dataclass

_LOCK = threading.Lock()


@dataclass
class Tally:
    inputs: int = 0
    accepted: int = 0
    rejected: int = 0
    crashes: int = 0
    hangs: int = 0
    slowest_s: float = 0.0


_TALLIES: dict[str, Tally] = {}


def record(boundary: str, outcome: str, elapsed_s: float = 0.0, n: int = 1) -> None:
    """One input (or ``n``) tried at ``boundary``; ``outcome`` is accepted, rejected, crash or hang."""
    if outcome not in ("accepted", "rejected", "crash", "hang"):
        raise ValueError(f"unknown fuzz outcome {outcome!r}")
    with _LOCK:
        t = _TALLIES.setdefault(boundary, Tally())
        t.inputs += n
        if outcome == "accepted":
            t.accepted += n
        elif outcome == "rejected":
            t.rejected += n
        elif outcome == "crash":
            t.crashes += n
        else:
            t.hangs += n
        if elapsed_s > t.slowest_s:
            t.slowest_s = elapsed_s


def add_inputs(boundary: str, n: int, slowest_s: float = 0.0) -> None:
    """Inputs tried outside the harness (an atheris child process reports its own count)."""
    with _LOCK:
        t = _TALLIES.setdefault(boundary, Tally())
        t.inputs += n
        t.slowest_s = max(t.slowest_s, slowest_s)


def add_crashes(boundary: str, n: int = 1) -> None:
    with _LOCK:
        _TALLIES.setdefault(boundary, Tally()).crashes += n


def reset() -> None:
    with _LOCK:
        _TALLIES.clear()


def summary() -> dict[str, dict]:
    with _LOCK:
        return {name: asdict(t) for name, t in sorted(_TALLIES.items())}


def total_inputs() -> int:
    with _LOCK:
        return sum(t.inputs for t in _TALLIES.values())


def write_json(path: str | pathlib.Path, extra: dict | None = None) -> pathlib.Path:
    p = pathlib.Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    doc = {"boundaries": summary(), "total_inputs": total_inputs()}
    if extra:
        doc.update(extra)
    p.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    return p


def format_table(title: str = "fuzz: inputs tried per boundary") -> str:
    rows = summary()
    if not rows:
        return f"{title}: none"
    w = max(len(n) for n in rows)
    lines = [title, f"  {'boundary':<{w}}  {'inputs':>8}  {'accepted':>8}  {'rejected':>8}  {'crashes':>7}  "
                    f"{'hangs':>5}  {'slowest_s':>9}"]
    for name, t in rows.items():
        lines.append(f"  {name:<{w}}  {t['inputs']:>8}  {t['accepted']:>8}  {t['rejected']:>8}  "
                     f"{t['crashes']:>7}  {t['hangs']:>5}  {t['slowest_s']:>9.4f}")
    lines.append(f"  {'total':<{w}}  {total_inputs():>8}")
    return "\n".join(lines)

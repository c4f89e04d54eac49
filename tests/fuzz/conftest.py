"""At the end of a session that ran fuzz tests: print the inputs tried per boundary, write them as JSON.

The JSON goes to ``bench-out/fuzz-counts.json`` (``GROUNDSEG_FUZZ_COUNTS``
names another file; the fuzz benchmark uses that).
"""
from __future__ import annotations

import os
import pathlib

from . import _count

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _counts_path() -> pathlib.Path:
    return pathlib.Path(os.environ.get("GROUNDSEG_FUZZ_COUNTS") or ROOT / "bench-out" / "fuzz-counts.json")


def pytest_sessionstart(session):
    _count.reset()


def pytest_sessionfinish(session, exitstatus):
    if _count.summary():
        try:
            _count.write_json(_counts_path(), {"exit_status": int(exitstatus)})
        except OSError:
            pass


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not _count.summary():
        return
    terminalreporter.write_sep("-", "fuzz")
    for line in _count.format_table().splitlines():
        terminalreporter.write_line(line)
    terminalreporter.write_line(f"  written to {_counts_path()}")

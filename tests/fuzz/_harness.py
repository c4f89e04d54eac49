"""Running one fuzz input at a boundary: the documented errors are fine, anything else is a failure.

``attempt(boundary, fn, *args, check=..., limit_s=...)`` calls ``fn(*args)``
and classifies what happens:

* it returns: ``check(result)`` (when given) asserts the boundary's contract
  on the result; the input counts as *accepted*;
* it raises one of ``allowed`` (by default ``InputError`` and
  ``HardwareError``, the project's one-line errors): *rejected*, fine;
* it raises anything else, or ``check`` fails: a *crash*, counted and raised
  as ``FuzzFailure`` with the input (its ``repr``, also saved under
  ``bench-out/fuzz-failures/`` to reproduce it);
* it takes longer than ``limit_s`` (the boundary's configured timeout plus
  slack; for parsers a generous bound): a *hang*, counted and raised.

A watchdog (``faulthandler``) ends the process with every thread's traceback
if one input runs for ``5 * limit_s + 30`` seconds: an infinite loop must
not stall the test run (or CI) for ever.

``fuzz_settings(n)`` are the hypothesis settings of a fuzz test: ``n``
examples scaled by ``GROUNDSEG_FUZZ_SCALE`` (the benchmark campaign runs the
same tests with a larger scale), derandomised (the same inputs every run, so
``make test`` is reproducible) unless ``GROUNDSEG_FUZZ_RANDOM=1``.
"""
from __future__ import annotations

import faulthandler
import hashlib
import os
import pathlib
import sys
import time
from typing import Any, Callable

from hypothesis import HealthCheck, settings

from groundseg.errors import HardwareError, InputError

from . import _count

ROOT = pathlib.Path(__file__).resolve().parents[2]
FAILURES_DIR = ROOT / "bench-out" / "fuzz-failures"
ALLOWED: tuple[type[BaseException], ...] = (InputError, HardwareError)
DEFAULT_LIMIT_S = 10.0


class FuzzFailure(AssertionError):
    """A crash (undocumented exception, broken contract) or a hang at a fuzzed boundary."""


def scale() -> float:
    try:
        return max(0.01, float(os.environ.get("GROUNDSEG_FUZZ_SCALE", "1")))
    except ValueError:
        return 1.0


def randomised() -> bool:
    return os.environ.get("GROUNDSEG_FUZZ_RANDOM", "") in ("1", "true", "yes")


def examples(n: int) -> int:
    return max(1, int(round(n * scale())))


def fuzz_settings(n: int, **kw) -> settings:
    rnd = randomised()
    base = dict(max_examples=examples(n), deadline=None, derandomize=not rnd,
                suppress_health_check=list(HealthCheck), print_blob=True)
    if not rnd:
        base["database"] = None
    base.update(kw)
    return settings(**base)


def _show(value: Any, limit: int = 600) -> str:
    r = repr(value)
    return r if len(r) <= limit else r[:limit] + f"... ({len(r)} characters)"


def save_failure(boundary: str, value: Any) -> pathlib.Path | None:
    """The full repr of a failing input, to reproduce it (bench-out/fuzz-failures/)."""
    text = repr(value)
    digest = hashlib.sha1(text.encode("utf-8", "backslashreplace")).hexdigest()[:12]
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in boundary)
    try:
        FAILURES_DIR.mkdir(parents=True, exist_ok=True)
        p = FAILURES_DIR / f"{safe}-{digest}.txt"
        p.write_text(text + "\n", encoding="utf-8", errors="backslashreplace")
        return p
    except OSError:
        return None


def attempt(boundary: str, fn: Callable[..., Any], *args: Any, check: Callable[[Any], None] | None = None,
            allowed: tuple[type[BaseException], ...] = ALLOWED, limit_s: float = DEFAULT_LIMIT_S,
            show: Any = None, **kwargs: Any) -> tuple[Any, BaseException | None]:
    """One input at ``boundary``: ``(result, None)`` if accepted, ``(None, error)`` if rejected as documented."""
    shown = show if show is not None else (args if len(args) != 1 else args[0])
    t0 = time.monotonic()
    faulthandler.dump_traceback_later(5 * limit_s + 30.0, exit=True, file=sys.__stderr__)
    try:
        try:
            result = fn(*args, **kwargs)
        except allowed as e:
            result, err = None, e
        else:
            err = None
            if check is not None:
                check(result)
    except Exception as e:  # noqa: BLE001 - this is what the fuzzer is looking for
        elapsed = time.monotonic() - t0
        _count.record(boundary, "crash", elapsed)
        where = save_failure(boundary, shown)
        kind = "contract broken" if isinstance(e, AssertionError) else f"crash: {type(e).__name__}"
        raise FuzzFailure(f"{boundary}: {kind}: {str(e)[:400]}\n  input: {_show(shown)}"
                          + (f"\n  saved: {where}" if where else "")) from e
    finally:
        faulthandler.cancel_dump_traceback_later()
    elapsed = time.monotonic() - t0
    if elapsed > limit_s:
        _count.record(boundary, "hang", elapsed)
        where = save_failure(boundary, shown)
        raise FuzzFailure(f"{boundary}: hang: {elapsed:.2f} s is over the limit of {limit_s:.2f} s\n"
                          f"  input: {_show(shown)}" + (f"\n  saved: {where}" if where else ""))
    _count.record(boundary, "accepted" if err is None else "rejected", elapsed)
    return result, err


def clear_message(err: BaseException) -> None:
    """A documented error reaches the operator as a clear message (a line, or one line per problem)."""
    text = str(err)
    assert text.strip(), f"{type(err).__name__} without a message"
    assert "Traceback" not in text, f"a traceback inside an error message: {text[:200]!r}"

"""Run the benchmarks: every tests/benchmarks/bench_*.py module's ``main()``.

    python tests/benchmarks/run.py [WORD ...]   # only modules whose name contains a word

Benchmarks print figures and comparisons measured side by side in one run and
write plots to bench-out/. They assert nothing about speed: the machines are
shared and noisy.
"""
from __future__ import annotations

import importlib.util
import pathlib
import sys
import time
import traceback

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def main(argv: list[str]) -> int:
    words = [a for a in argv if not a.startswith("-")]
    mods = sorted(HERE.glob("bench_*.py"))
    if words:
        mods = [m for m in mods if any(w in m.stem for w in words)]
    (ROOT / "bench-out").mkdir(exist_ok=True)
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(HERE))
    failed = []
    for path in mods:
        print(f"\n=== {path.stem} ===", flush=True)
        t0 = time.perf_counter()
        try:
            spec = importlib.util.spec_from_file_location(path.stem, path)
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            mod.main()
        except Exception:
            traceback.print_exc()
            failed.append(path.stem)
        print(f"--- {path.stem}: {time.perf_counter() - t0:.1f} s", flush=True)
    if failed:
        print(f"\nbenchmarks that failed to run: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

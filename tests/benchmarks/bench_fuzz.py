"""Fuzz campaign: the fuzz suite with many more (random) examples, and atheris on the pure-Python parsers.

Two parts, measured in one run:

1. ``tests/fuzz`` under pytest with ``GROUNDSEG_FUZZ_SCALE`` (default 8, or
   ``GROUNDSEG_BENCH_FUZZ_SCALE``) times the examples of ``make test`` and
   fresh random inputs (``GROUNDSEG_FUZZ_RANDOM=1``): every boundary,
   the decode child process and the in-process control server included;
2. coverage-guided atheris (libFuzzer) runs of ``GROUNDSEG_BENCH_ATHERIS_RUNS``
   (default 30000) inputs each on the TLE, OMM, configuration, KISS and
   control-envelope parsers, seeded with valid inputs
   (``tests/fuzz/_atheris_targets.py``). atheris is in the ``test`` extra;
   without it this part says so and is skipped.

Printed: inputs tried per boundary, crashes and hangs (0 expected), the
slowest input per boundary. Written: ``bench-out/fuzz-bench.json`` (and the
pytest log ``bench-out/fuzz-bench-pytest.log``; failing inputs under
``bench-out/fuzz-failures/``). A crash or hang makes the benchmark fail
after everything is printed.
"""
from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
OUT = ROOT / "bench-out"
TARGETS = ("tle", "omm", "config", "kiss", "control_envelope")
TARGET_SCRIPT = ROOT / "tests" / "fuzz" / "_atheris_targets.py"


def _env(**extra) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_pytest_campaign(scale: float) -> dict:
    counts = OUT / "fuzz-bench-counts.json"
    counts.unlink(missing_ok=True)
    log = OUT / "fuzz-bench-pytest.log"
    t0 = time.perf_counter()
    with open(log, "w") as f:
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/fuzz"],
                              cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, timeout=6 * 3600,
                              env=_env(GROUNDSEG_FUZZ_SCALE=scale, GROUNDSEG_FUZZ_RANDOM=1,
                                       GROUNDSEG_FUZZ_COUNTS=counts))
    wall = time.perf_counter() - t0
    doc = json.loads(counts.read_text()) if counts.exists() else {"boundaries": {}}
    tail = log.read_text(errors="replace").strip().splitlines()[-1:] or [""]
    failed = [ln.split(" ", 1)[1].split(" - ")[0] for ln in log.read_text(errors="replace").splitlines()
              if ln.startswith("FAILED ")]
    return {"boundaries": doc.get("boundaries", {}), "exit": proc.returncode, "wall_s": wall,
            "summary": tail[0], "failed_tests": failed}


def atheris_available() -> str | None:
    try:
        import atheris  # noqa: F401
    except ImportError as e:
        return f"atheris is not installed ({e}); `pip install atheris` (wheels for CPython 3.11-3.13 on x86_64)"
    return None


def run_atheris(target: str, runs: int, work: pathlib.Path) -> dict:
    corpus = work / target
    subprocess.run([sys.executable, str(TARGET_SCRIPT), "--seeds", target, str(corpus)], cwd=ROOT, env=_env(),
                   check=True, timeout=300)
    stats_file = work / f"{target}.stats.json"
    fail_dir = OUT / "fuzz-failures"
    fail_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, str(TARGET_SCRIPT), target, f"-runs={runs}", "-seed=1",
                           "-timeout=60", "-rss_limit_mb=3000", f"-artifact_prefix={fail_dir}/atheris-{target}-",
                           "-print_final_stats=1", str(corpus)],
                          cwd=work, env=_env(GROUNDSEG_FUZZ_STATS_FILE=stats_file), capture_output=True,
                          text=True, timeout=3600)
    wall = time.perf_counter() - t0
    out = proc.stdout + proc.stderr
    stats = json.loads(stats_file.read_text()) if stats_file.exists() else {}
    m = re.search(r"stat::number_of_executed_units:\s*(\d+)", out) or re.search(r"Done (\d+) runs", out)
    inputs = int(m.group(1)) if m else int(stats.get("inputs", 0))
    cov = re.findall(r"cov: (\d+)", out)
    crashed = proc.returncode != 0
    hang = "ERROR: libFuzzer: timeout" in out
    detail = ""
    if crashed:
        lines = [ln for ln in out.splitlines() if "Error" in ln or "Exception" in ln or "ERROR" in ln]
        detail = "; ".join(lines[:4])
    return {"inputs": inputs, "crashes": int(crashed and not hang), "hangs": int(hang),
            "slowest_s": float(stats.get("slowest_s", 0.0)),
            "coverage": int(cov[-1]) if cov else None, "wall_s": wall, "detail": detail}


def main() -> None:
    OUT.mkdir(exist_ok=True)
    scale = float(os.environ.get("GROUNDSEG_BENCH_FUZZ_SCALE", "8"))
    runs = int(os.environ.get("GROUNDSEG_BENCH_ATHERIS_RUNS", "30000"))
    report: dict = {"scale": scale, "atheris_runs": runs}

    print(f"fuzz campaign 1: tests/fuzz with {scale:g}x the examples of `make test`, random inputs", flush=True)
    camp = run_pytest_campaign(scale)
    report["pytest"] = camp
    rows = camp["boundaries"]
    w = max([len(n) for n in rows] + [30])
    print(f"  {'boundary':<{w}} {'inputs':>8} {'crashes':>8} {'hangs':>6} {'slowest_s':>10}")
    for name, t in sorted(rows.items()):
        print(f"  {name:<{w}} {t['inputs']:>8} {t['crashes']:>8} {t['hangs']:>6} {t['slowest_s']:>10.4f}")
    total = sum(t["inputs"] for t in rows.values())
    crashes = sum(t["crashes"] for t in rows.values())
    hangs = sum(t["hangs"] for t in rows.values())
    print(f"  {'total':<{w}} {total:>8} {crashes:>8} {hangs:>6}    ({camp['wall_s']:.0f} s; pytest: {camp['summary']})")
    if camp["failed_tests"]:
        print("  failed:", ", ".join(camp["failed_tests"]))

    print(f"\nfuzz campaign 2: atheris (coverage-guided) on the pure-Python parsers, {runs} inputs each",
          flush=True)
    why = atheris_available()
    atheris_rows: dict = {}
    if why:
        print(f"  skipped: {why}")
        report["atheris"] = {"skipped": why}
    else:
        work = pathlib.Path(tempfile.mkdtemp(prefix="groundseg-atheris-"))
        try:
            print(f"  {'target':<{w}} {'inputs':>8} {'crashes':>8} {'hangs':>6} {'slowest_s':>10} {'coverage':>8}")
            for target in TARGETS:
                r = run_atheris(target, runs, work)
                atheris_rows[f"atheris.{target}"] = r
                print(f"  {'atheris.' + target:<{w}} {r['inputs']:>8} {r['crashes']:>8} {r['hangs']:>6} "
                      f"{r['slowest_s']:>10.4f} {r['coverage'] or 0:>8}"
                      + (f"   {r['detail'][:150]}" if r["detail"] else ""), flush=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        report["atheris"] = atheris_rows
        print("  (coverage: libFuzzer's count of instrumented edges reached)")

    all_crashes = crashes + hangs + sum(r["crashes"] + r["hangs"] for r in atheris_rows.values())
    all_inputs = total + sum(r["inputs"] for r in atheris_rows.values())
    report["total_inputs"], report["total_crashes_and_hangs"] = all_inputs, all_crashes
    (OUT / "fuzz-bench.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    print(f"\nfuzz: {all_inputs} inputs, {all_crashes} crashes or hangs (0 expected); "
          f"written to {OUT / 'fuzz-bench.json'}")
    if all_crashes or camp["exit"] != 0:
        raise RuntimeError(f"fuzzing found {all_crashes} crash(es)/hang(s) (pytest exit {camp['exit']}): "
                           f"see {OUT / 'fuzz-bench-pytest.log'} and {OUT / 'fuzz-failures'}")


if __name__ == "__main__":
    main()

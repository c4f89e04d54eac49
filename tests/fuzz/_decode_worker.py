"""Child process that runs ``groundseg.decode.decode`` on fuzzed recordings, one job after another.

    python tests/fuzz/_decode_worker.py JOBS.json

A job is ``{"path", "kind", "samp_rate_sps", "datatype", "iq", "chains": [[modulation, baud, framing,
af_carrier_hz], ...]}``. For each job the worker prints ``START i`` before it and ``END i {json}`` after
it, the JSON being ``{"outcome": "frames"|"rejected"|"crash", "frames", "error", "elapsed_s"}``:
``rejected`` is an ``InputError``/``HardwareError`` (the documented outcome), ``crash`` any other
exception. A hang or an abort of the process (a GNU Radio block that throws, memory) is seen by the
parent (``run_decode_jobs``): no ``END`` line within the limit, or the process gone.

The address space is capped (``GROUNDSEG_FUZZ_DECODE_MEM_MB``, default 3000): a fuzzed file that makes
the decoder allocate without bound ends this process, not the machine.
"""
from __future__ import annotations

import json
import os
import pathlib
import resource
import select
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _limit_memory() -> None:
    mb = int(os.environ.get("GROUNDSEG_FUZZ_DECODE_MEM_MB", "3000"))
    resource.setrlimit(resource.RLIMIT_AS, (mb << 20, mb << 20))


def _run(jobs: list[dict]) -> None:
    from groundseg.blocks.sources import SourceSpec
    from groundseg.decode import adhoc_chain, decode
    from groundseg.errors import HardwareError, InputError

    for i, job in enumerate(jobs):
        print(f"START {i}", flush=True)
        t0 = time.monotonic()
        res = {}
        try:
            chains = [adhoc_chain(m, b, f, af_carrier_hz=af) for m, b, f, af in job["chains"]]
            spec = SourceSpec(kind=job["kind"], path=job["path"], samp_rate_sps=job.get("samp_rate_sps"),
                              iq=job.get("iq"), datatype=job.get("datatype") or "cf32_le")
            out = decode(spec, chains)
            for f in out.frames:
                assert f.get("crc_ok") is not False, f"an invalid frame was delivered: {f}"
                bytes.fromhex(f["hex"])
            res = {"outcome": "frames", "frames": len(out.frames)}
        except (InputError, HardwareError) as e:
            res = {"outcome": "rejected", "error": str(e)[:300]}
        except BaseException as e:  # noqa: BLE001 - reported to the parent
            res = {"outcome": "crash", "error": f"{type(e).__name__}: {str(e)[:300]}"}
        res["elapsed_s"] = round(time.monotonic() - t0, 4)
        print(f"END {i} {json.dumps(res)}", flush=True)


def run_decode_jobs(jobs: list[dict], limit_s: float) -> list[dict]:
    """Run the jobs in worker processes; one result per job (``hang``/``abort`` when the process said so)."""
    results: list[dict | None] = [None] * len(jobs)
    start = 0
    while start < len(jobs):
        todo = pathlib.Path(jobs[start]["path"]).parent / f"jobs-{start}.json"
        todo.write_text(json.dumps(jobs[start:]))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        errlog = open(todo.with_suffix(".stderr"), "w+b")
        proc = subprocess.Popen([sys.executable, str(pathlib.Path(__file__)), str(todo)], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=errlog, stdin=subprocess.DEVNULL)
        current, t_start, buf = None, time.monotonic(), b""
        try:
            while True:
                wait = limit_s - (time.monotonic() - t_start) if current is not None else 120.0
                ready, _, _ = select.select([proc.stdout], [], [], max(0.0, wait))
                if not ready:
                    i = current if current is not None else start
                    results[i] = {"outcome": "hang", "elapsed_s": round(time.monotonic() - t_start, 3),
                                  "error": f"no result within {limit_s:g} s"}
                    start = i + 1
                    break
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:  # the process ended
                    if current is not None:
                        code = proc.wait()
                        errlog.seek(0)
                        err = errlog.read().decode(errors="replace")[-600:]
                        results[current] = {"outcome": "abort", "error": f"exit {code}: {err}",
                                            "elapsed_s": round(time.monotonic() - t_start, 3)}
                        start = current + 1
                    else:
                        start = len(jobs)
                    break
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    text = line.decode(errors="replace")
                    if text.startswith("START "):
                        current, t_start = start + int(text.split()[1]), time.monotonic()
                    elif text.startswith("END "):
                        _, idx, payload = text.split(" ", 2)
                        results[start + int(idx)] = json.loads(payload)
                        current = None
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc.stdout.close()
            errlog.close()
    return [r if r is not None else {"outcome": "abort", "error": "not run"} for r in results]


if __name__ == "__main__":
    _limit_memory()
    _run(json.loads(pathlib.Path(sys.argv[1]).read_text()))

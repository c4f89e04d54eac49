"""How much faster than real time a simulated pass flies.

Figures printed side by side in one run, per transmitter (real seed TLEs and catalog transmitters):

* synthesis: seconds of IQ the pass simulator writes per wall second;
* decoding: the flowgraph process (``flowgraphs.pass_runner``) on that file, unpaced: signal seconds
  per wall second, i.e. the highest simulation speed it sustains, and frames decoded of those sent;
* a whole pass flown by the station (``Station`` in simulation, GS-232B emulator, at ``SPEED``):
  wall time, how far decoding fell behind simulated time (``max_lag_s``), frames decoded.

The goal: the demo's pass (``groundseg station --simulate``) in well under two minutes. A bar plot goes
to bench-out/bench_pass_sim.png.
"""
from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
SPAN_S = 120.0
SPEED = 20.0
CASES = [  # (label, NORAD, sample rate)
    ("FUNcube-1 1k2 DBPSK AO-40", 39444, 32000.0),
    ("FUNcube-1 1k2 DBPSK AO-40", 39444, 48000.0),
    ("S-NET A 1k2 AFSK", 43188, 48000.0),
    ("Suomi 100 9k6 FSK AX100", 43804, 48000.0),
    ("GOMX-1 4k8 AFSK U482C", 39430, 48000.0),
]


def _best_pass(es, station):
    from groundseg.orbit import find_passes

    res = find_passes([es], station, es.epoch_unix_s, es.epoch_unix_s + 2 * 86400)
    return max(res.passes, key=lambda p: p.max_el_deg)


def _start_decoder(sp, tx, norad, work: pathlib.Path):
    """The flowgraph process on the file, unpaced; returns (process, control socket, start time, context)."""
    import zmq

    spec = {"pass_id": "bench", "parent_pid": os.getpid(), "control": f"ipc://{work}/ctl",
            "source": {"kind": "sigmf", "path": str(sp.data_path)}, "freq_hz": sp.freq_hz,
            "stream": {"t0_unix_s": sp.t0_unix_s, "throttle": False},
            "norad": norad, "satellite": "bench", "transmitters": [dataclasses.asdict(tx)],
            "record_iq": None, "waterfall": None}
    path = work / "spec.json"
    path.write_text(json.dumps(spec))
    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-m", "flowgraphs.pass_runner", str(path)], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    ctx = zmq.Context()
    s = ctx.socket(zmq.PUSH)
    s.connect(spec["control"])
    return p, s, t0, ctx


def main() -> None:
    from groundseg.catalog import load_catalog
    from groundseg.config import load_config
    from groundseg.orbit import DopplerModel, GroundStation
    from groundseg.orbit.store import parse_elements
    from groundseg.sim import SimSettings, simulate_pass

    import numpy as np

    sets, _ = parse_elements((ROOT / "seeds" / "tle" / "catalog.tle").read_text())
    by = {s.norad: s for s in sets}
    cat = load_catalog()
    station = GroundStation(52.2297, 21.0122, 110.0)
    rows = []
    print(f"{'transmitter':32s} {'rate':>6s} {'synth x':>8s} {'decode x':>9s} {'frames':>9s}")
    with tempfile.TemporaryDirectory(prefix="gs-bench-") as tmp:
        work = pathlib.Path(tmp)
        for label, norad, fs in CASES:
            es = by[norad]
            tx = next(t for t in cat.by_norad(norad).transmitters if not t.uplink)
            p = _best_pass(es, station)
            t_a = p.tca_unix_s - SPAN_S / 2
            t0 = time.perf_counter()
            sp = simulate_pass(es, station, tx, t_a, t_a + SPAN_S, work / "sig", satellite=label,
                               settings=SimSettings(samp_rate_sps=fs))
            synth = SPAN_S / (time.perf_counter() - t0)
            proc, sock, t1, ctx = _start_decoder(sp, tx, norad, work)
            # the Doppler correction for every 0.5 s, sent up front (applied at each stream time)
            dm = DopplerModel(es, station)
            ts = np.arange(t_a, t_a + SPAN_S + 0.5, 0.5)
            for t, d in zip(ts, dm.offset_hz(tx.frequency_hz, ts)):
                sock.send_json({"doppler_hz": float(d), "t_unix_s": float(t)})
            got = set()
            for line in proc.stdout:
                m = json.loads(line)
                if m["type"] == "frame":
                    got.add(m["record"]["hex"])
            proc.wait()
            wall = time.perf_counter() - t1
            sock.close(0)
            ctx.term()
            view = [f for f in sp.frames if f.in_view]
            ok = sum(1 for f in view if f.payload.hex() in got)
            rows.append((label, fs, synth, SPAN_S / wall, ok, len(view)))
            print(f"{label:32s} {fs / 1e3:5.0f}k {synth:8.1f} {SPAN_S / wall:9.1f} {ok:4d}/{len(view):<4d}", flush=True)
            for f in (sp.data_path, sp.meta_path):
                f.unlink(missing_ok=True)

        # A whole pass flown by the station, as the demo does it.
        from groundseg.schedule import SimClock
        from groundseg.station import SimOptions, Station, with_workdir

        cfg = with_workdir(load_config(ROOT / "seeds" / "station.toml"), work / "station")
        start = time.time()
        st = Station(cfg, SimClock(start, SPEED), simulate=SimOptions(speed=SPEED))
        t0 = time.perf_counter()
        try:
            reps = st.run(max_passes=1)
        finally:
            st.close()
        wall = time.perf_counter() - t0
        for r in reps:
            sim = r.simulation or {}
            dur = r.planned["end_unix_s"] - r.planned["start_unix_s"]
            print(f"\nstation, demo config at {SPEED:g}x: pass {r.pass_id} ({r.transmitter}, {dur:.0f} s observed): "
                  f"{r.state}; whole run {wall:.1f} s wall, the pass itself {r.wall_s:.1f} s; "
                  f"decoding at most {r.timings.get('max_lag_s', 0):.1f} s behind; frames "
                  f"{sim.get('decoded_in_view', 0)}/{sim.get('in_view', 0)} in view")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(8, 4))
        y = np.arange(len(rows))
        ax.barh(y - 0.2, [r[2] for r in rows], 0.4, label="synthesis")
        ax.barh(y + 0.2, [r[3] for r in rows], 0.4, label="decoding (unpaced)")
        ax.axvline(SPEED, color="k", ls="--", lw=0.8, label=f"demo speed {SPEED:g}x")
        ax.set_yticks(y, [f"{r[0]} @{r[1] / 1e3:.0f}k" for r in rows], fontsize=7)
        ax.set_xlabel("x real time")
        ax.legend(fontsize=7)
        fig.tight_layout()
        out = ROOT / "bench-out" / "bench_pass_sim.png"
        out.parent.mkdir(exist_ok=True)
        fig.savefig(out)
        print(f"plot: {out}")
    except ImportError:
        pass


if __name__ == "__main__":
    main()

"""Hardware bridge: how fast a tracking loop can read the rotator, path by path, side by side.

Position queries (``position()``) against emulators on ptys, measured in one run:
* our GS-232B and EasyComm II drivers, directly on the pty;
* our rotctld client -> our rotctld server -> GS-232B driver -> emulator;
* our rotctld client -> Hamlib's rotctld (model 603) -> our GS-232B emulator
  (Hamlib's own path, when libhamlib-utils is installed);
* a station-controller GET_STATUS round trip.
Printed: median and 95th percentile latency, queries per second. And the time
to give up on a silent rotator against its bound timeout_s * (retries + 1).
A bar plot goes to bench-out/bench_bridge.png when matplotlib is there.
"""
from __future__ import annotations

import pathlib
import shutil
import statistics
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
N = 300


def _measure(fn, n=N):
    fn()  # warm up (connect, first open)
    lat = []
    t0 = time.perf_counter()
    for _ in range(n):
        t = time.perf_counter()
        fn()
        lat.append(time.perf_counter() - t)
    wall = time.perf_counter() - t0
    lat.sort()
    return {"median_ms": 1e3 * statistics.median(lat), "p95_ms": 1e3 * lat[int(0.95 * len(lat)) - 1],
            "per_s": n / wall}


def main() -> None:
    from firmware_bridge.emulators import start_emulator
    from firmware_bridge.errors import OperationFailed
    from firmware_bridge.factory import open_rotator
    from firmware_bridge.rotctld_server import RotctldServer
    from firmware_bridge.station_controller import StationController
    from firmware_bridge.testing import hamlib_rotctld

    import logging
    logging.getLogger("firmware_bridge").setLevel(logging.ERROR)  # the silent-rotator runs warn by design
    rows = {}
    cleanup = []
    try:
        gs = start_emulator("gs232b")
        ec = start_emulator("easycomm2")
        sce = start_emulator("station-controller")
        cleanup += [gs.stop, ec.stop, sce.stop]
        gs_rot = open_rotator({"protocol": "gs232b", "device": gs.path, "name": "bench-gs232b"})
        ec_rot = open_rotator({"protocol": "easycomm2", "device": ec.path, "name": "bench-easycomm2"})
        cleanup += [gs_rot.close, ec_rot.close]
        rows["GS-232B direct"] = _measure(gs_rot.position)
        rows["EasyComm II direct"] = _measure(ec_rot.position)

        srv = RotctldServer(gs_rot, port=0).start()
        cleanup.append(srv.stop)
        host, port = srv.address
        via_ours = open_rotator({"protocol": "rotctld", "host": host, "tcp_port": port, "name": "bench-ours"})
        cleanup.append(via_ours.close)
        rows["rotctld client > our server > GS-232B"] = _measure(via_ours.position)

        rotctld = shutil.which("rotctld")
        if rotctld:
            gs2 = start_emulator("gs232b")
            cleanup.append(gs2.stop)
            with hamlib_rotctld(rotctld, 603, gs2.path, baud=9600) as (h, p):
                via_hamlib = open_rotator({"protocol": "rotctld", "host": h, "tcp_port": p, "timeout_s": 5,
                                           "name": "bench-hamlib"})
                rows["rotctld client > Hamlib rotctld > GS-232B"] = _measure(via_hamlib.position, n=60)
                via_hamlib.close()
        else:
            print("rotctld not installed: Hamlib path not measured")

        sc = StationController(sce.path, name="bench-station").open()
        cleanup.append(sc.close)
        rows["station controller GET_STATUS"] = _measure(sc.status)

        print(f"{'path':44} {'median ms':>10} {'p95 ms':>8} {'queries/s':>10}")
        for name, r in rows.items():
            print(f"{name:44} {r['median_ms']:10.2f} {r['p95_ms']:8.2f} {r['per_s']:10.0f}")

        # Giving up on a silent rotator: measured against its bound (the port is ours again).
        via_ours.close()
        srv.stop()
        gs_rot.close()
        print(f"\n{'silent rotator':44} {'gave up s':>10} {'bound s':>8}")
        for timeout_s, retries in [(0.2, 0), (0.2, 2), (0.5, 2), (1.0, 1)]:
            rot = open_rotator({"protocol": "gs232b", "device": gs.path, "timeout_s": timeout_s,
                                "retries": retries, "name": "bench-silent"})
            gs.set_fault("no_reply")
            t0 = time.perf_counter()
            try:
                rot.position()
            except OperationFailed:
                pass
            took = time.perf_counter() - t0
            gs.set_fault(None)
            rot.close()
            print(f"{f'timeout_s={timeout_s} retries={retries}':44} {took:10.3f} {timeout_s * (retries + 1):8.3f}")
    finally:
        for fn in reversed(cleanup):
            try:
                fn()
            except Exception:
                pass

    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    out = ROOT / "bench-out"
    out.mkdir(exist_ok=True)
    fig, ax = plt.subplots(figsize=(8, 3.5))
    names = list(rows)
    ax.barh(names, [rows[n]["median_ms"] for n in names], color="tab:blue", label="median")
    ax.barh(names, [rows[n]["p95_ms"] - rows[n]["median_ms"] for n in names],
            left=[rows[n]["median_ms"] for n in names], color="tab:orange", label="to p95")
    ax.set_xlabel("position query latency (ms), emulators on ptys")
    ax.invert_yaxis()
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "bench_bridge.png", dpi=100)
    print(f"plot: {out / 'bench_bridge.png'}")


if __name__ == "__main__":
    main()

"""Gateway benchmark: outbox write throughput per fsync policy, and forwarding rates per sink.

Measured side by side in one run:

* ``Outbox.put`` (one transaction per frame, as the station stores them) of 120-byte frames with one
  delivery row per sink (two sinks), for ``fsync = full`` (the default: every commit fsync'd),
  ``normal`` (WAL fsync'd at checkpoints) and ``off``; frames per second and per-frame latency
  percentiles, on the disk under the system's temporary directory;
* forwarding of a 2000-frame backlog from the outbox to: a no-op sink (the outbox and worker overhead),
  the ZeroMQ PUB sink, and the MQTT sink against a local mosquitto (QoS 1, a PUBACK per frame, batches
  of 50 and of 1, the broker with and without ``set_tcp_nodelay``) when mosquitto is installed.

A bar chart of the write rates goes to bench-out/bench_gateway.png.
"""
from __future__ import annotations

import os
import pathlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _put_rate(d: pathlib.Path, policy: str, n: int) -> dict:
    from groundseg.gateway.outbox import Outbox, frame_id

    ob = Outbox(d / f"o-{policy}.sqlite", ["mqtt", "sids"], fsync=policy)
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 256, 120, dtype=np.uint8).tobytes() for _ in range(n)]
    lat = np.zeros(n)
    t0 = time.perf_counter()
    for i, f in enumerate(frames):
        a = time.perf_counter()
        fid = frame_id("BENCH", 1.7e9 + i, 39430, f)
        ob.put(fid, 1.7e9 + i, 39430, "p", f, {"hex": f.hex(), "t_unix_s": 1.7e9 + i, "crc_ok": True})
        lat[i] = time.perf_counter() - a
    wall = time.perf_counter() - t0
    ob.close()
    return {"policy": policy, "n": n, "rate": n / wall, "p50_ms": 1e3 * np.percentile(lat, 50),
            "p99_ms": 1e3 * np.percentile(lat, 99)}


def _forward_rate(d: pathlib.Path, name: str, sink, n: int, batch: int) -> float:
    from groundseg.gateway.forwarder import SinkWorker
    from groundseg.gateway.outbox import Outbox, frame_id

    ob = Outbox(d / f"f-{name}.sqlite", [sink.name], fsync="normal")
    for i in range(n):
        f = bytes([i & 0xFF]) * 120
        ob.put(frame_id("BENCH", 1.7e9 + i, 1, f), 1.7e9 + i, 1, "p", f, {"hex": f.hex(), "crc_ok": True})
    w = SinkWorker(sink, ob, batch=batch, idle_poll_s=0.01)
    sink.open()
    w.opened = True
    if hasattr(sink, "connected"):
        sink.connected.wait(10)
    t0 = time.perf_counter()
    w.start()
    while ob.stats()["depth"] and time.perf_counter() - t0 < 300:
        time.sleep(0.01)
    wall = time.perf_counter() - t0
    left = ob.stats()["depth"]
    w.stop()
    ob.close()
    return (n - left) / wall


def _mosquitto(d: pathlib.Path, nodelay: bool):
    exe = shutil.which("mosquitto")
    if exe is None:
        return None, None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = d / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n" + ("user root\n" if os.geteuid() == 0 else "")
                    + ("set_tcp_nodelay true\n" if nodelay else ""))
    proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    return None, None


def main() -> None:
    from groundseg.gateway.sinks import DELIVERED, SINKS, Sink, SinkContext

    ctx = SinkContext("BENCH", 52.0, 21.0, 100.0)
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as tmp:
        d = pathlib.Path(tmp)
        print(f"outbox writes (one transaction per 120-byte frame, 2 sinks) on {tmp}:")
        rows = [_put_rate(d, "full", 400), _put_rate(d, "normal", 3000), _put_rate(d, "off", 3000)]
        for r in rows:
            print(f"  fsync={r['policy']:<7} {r['rate']:9.0f} frames/s   p50 {r['p50_ms']:.3f} ms   "
                  f"p99 {r['p99_ms']:.3f} ms   ({r['n']} frames)")
        full = rows[0]["rate"]
        print(f"  normal is {rows[1]['rate'] / full:.1f}x and off {rows[2]['rate'] / full:.1f}x the rate of full; "
              f"a station decodes at most a few frames per second per chain")

        class Noop(Sink):
            kind = "noop"

            def send(self, items):
                return [DELIVERED] * len(items)

        n = 2000
        print(f"\nforwarding a backlog of {n} frames (frames/s):")
        print(f"  no-op sink, batch 50:   {_forward_rate(d, 'noop', Noop('noop', '', {}, ctx), n, 50):9.0f}")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            zport = s.getsockname()[1]
        z = SINKS.get("zmq_pub").make("zmq", f"tcp://127.0.0.1:{zport}", {}, ctx)
        print(f"  ZeroMQ PUB, batch 50:   {_forward_rate(d, 'zmq', z, n, 50):9.0f}")
        for nodelay in (False, True):
            proc, port = _mosquitto(d, nodelay)
            if proc is None:
                print("  MQTT: mosquitto not installed (apt-get install mosquitto): skipped")
                break
            try:
                for batch in (50, 1):
                    m = SINKS.get("mqtt").make("mqtt", f"mqtt://127.0.0.1:{port}", {}, ctx)
                    rate = _forward_rate(d, f"mqtt{batch}{nodelay}", m, n, batch)
                    print(f"  MQTT QoS 1, batch {batch:<3} (broker set_tcp_nodelay {str(nodelay).lower():<5}): "
                          f"{rate:9.0f}")
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(10)
        print("  (a broker without set_tcp_nodelay holds its PUBACKs for the client's delayed ACK: ~40 ms per batch)")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        out = ROOT / "bench-out"
        out.mkdir(exist_ok=True)
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.bar([r["policy"] for r in rows], [r["rate"] for r in rows])
        ax.set_yscale("log")
        ax.set_ylabel("frames/s")
        ax.set_title("gateway outbox writes per fsync policy")
        fig.tight_layout()
        fig.savefig(out / "bench_gateway.png", dpi=100)
        print(f"\nplot: {out / 'bench_gateway.png'}")
    except ImportError:
        pass


if __name__ == "__main__":
    main()

"""SDR sinks for transmit bursts: ``file`` and ``zmq`` (no hardware), ``uhd`` (a USRP through GNU Radio).

``make_sdr_sink(settings, config) -> SdrSink``; ``sink.transmit(iq,
freq_hz, samp_rate_sps, t_start_unix_s, tag) -> dict`` sends one burst
(complex64 baseband, already Doppler pre-compensated, the radio tuned to
``freq_hz``) and returns where it went; a failure raises ``HardwareError``.

* ``file``: ``<path>/<tag>.sigmf-data`` (cf32_le) and ``<tag>.sigmf-meta``
  (SigMF: sample rate, centre frequency, start time), readable by the
  ``sigmf`` source of the receive chain.
* ``zmq``: the raw cf32 samples on a bound ZeroMQ PUSH socket (a GNU Radio
  ZMQ PULL source with tags off connects to it); a burst with no consumer
  connected within 2 s fails.
* ``uhd``: ``blocks.vector_source_c -> uhd.usrp_sink`` (fc32) with the
  configured device arguments, gain and antenna, run to the end of the
  burst; no UHD support or no device is a ``HardwareError``.
"""
from __future__ import annotations

import json
import pathlib
import threading

import numpy as np

from ..errors import HardwareError, InputError
from ..gateway.sinks import iso8601_ms
from ..registry import Registry
from .settings import SdrSettings

SDR_SINKS: Registry = Registry("uplink SDR sink")


class SdrSink:
    kind = ""

    def __init__(self, settings: SdrSettings, config=None):
        self.settings = settings
        self.config = config
        self.sent = 0

    def transmit(self, iq: np.ndarray, freq_hz: float, samp_rate_sps: float, t_start_unix_s: float,
                 tag: str) -> dict:
        raise NotImplementedError

    def close(self) -> None:
        pass


@SDR_SINKS.register("file")
class FileSdrSink(SdrSink):
    kind = "file"

    def __init__(self, settings, config=None):
        super().__init__(settings, config)
        p = pathlib.Path(settings.path).expanduser()
        if not p.is_absolute() and config is not None:
            p = config.state_dir / p
        self.dir = p

    def transmit(self, iq, freq_hz, samp_rate_sps, t_start_unix_s, tag):
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            data = self.dir / f"{tag}.sigmf-data"
            np.asarray(iq, np.complex64).tofile(data)
            meta = {"global": {"core:datatype": "cf32_le", "core:sample_rate": float(samp_rate_sps),
                               "core:version": "1.0.0", "core:description": f"groundseg uplink burst {tag}"},
                    "captures": [{"core:sample_start": 0, "core:frequency": float(freq_hz),
                                  "core:datetime": iso8601_ms(t_start_unix_s)}],
                    "annotations": []}
            (self.dir / f"{tag}.sigmf-meta").write_text(json.dumps(meta, indent=1))
        except OSError as e:
            raise HardwareError(f"uplink file sink {self.dir}: {e.strerror or e}") from None
        self.sent += 1
        return {"sink": "file", "path": str(data)}


@SDR_SINKS.register("zmq")
class ZmqSdrSink(SdrSink):
    kind = "zmq"
    CHUNK = 8192

    def __init__(self, settings, config=None):
        super().__init__(settings, config)
        import zmq

        self._zmq = zmq
        self.sock = zmq.Context.instance().socket(zmq.PUSH)
        self.sock.setsockopt(zmq.SNDTIMEO, 2000)
        self.sock.setsockopt(zmq.LINGER, 1000)
        try:
            self.sock.bind(settings.address)
        except zmq.ZMQError as e:
            self.sock.close(0)
            raise InputError(f"[uplink.sdr] address {settings.address!r}: {e}") from None
        self.endpoint = self.sock.getsockopt(zmq.LAST_ENDPOINT).decode()
        self._lock = threading.Lock()

    def transmit(self, iq, freq_hz, samp_rate_sps, t_start_unix_s, tag):
        x = np.asarray(iq, np.complex64)
        with self._lock:
            try:
                for i in range(0, x.size, self.CHUNK):
                    self.sock.send(x[i:i + self.CHUNK].tobytes())
            except self._zmq.Again:
                raise HardwareError(f"uplink ZMQ sink {self.endpoint}: no consumer took the burst") from None
        self.sent += 1
        return {"sink": "zmq", "endpoint": self.endpoint, "samples": int(x.size)}

    def close(self) -> None:
        self.sock.close()


@SDR_SINKS.register("uhd")
class UhdSdrSink(SdrSink):
    kind = "uhd"

    def transmit(self, iq, freq_hz, samp_rate_sps, t_start_unix_s, tag):
        try:
            from gnuradio import blocks, gr, uhd
        except ImportError as e:
            raise HardwareError(f"GNU Radio UHD support is not installed ({e})") from None
        s = self.settings
        try:
            snk = uhd.usrp_sink(s.device_args, uhd.stream_args(cpu_format="fc32", channels=[0]), "")
        except RuntimeError as e:
            raise HardwareError(f"no USRP for {s.device_args!r}: {str(e).splitlines()[0] if str(e) else e}") from None
        try:
            snk.set_samp_rate(float(samp_rate_sps))
            snk.set_center_freq(float(freq_hz), 0)
            snk.set_gain(float(s.gain_db), 0)
            if s.antenna:
                snk.set_antenna(s.antenna, 0)
            tb = gr.top_block("groundseg_uplink")
            src = blocks.vector_source_c(np.asarray(iq, np.complex64).tolist(), False)
            tb.connect(src, snk)
            tb.run()
        except RuntimeError as e:
            raise HardwareError(f"USRP transmit failed: {e}") from None
        self.sent += 1
        return {"sink": "uhd", "device_args": s.device_args}


def make_sdr_sink(settings: SdrSettings, config=None) -> SdrSink:
    return SDR_SINKS.get(settings.kind)(settings, config)

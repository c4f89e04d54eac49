"""The flowgraph process of one pass: ``python -m flowgraphs.pass_runner SPEC.json``.

The pass executor (``groundseg.schedule.executor``) starts this as a child
process a lead time before AOS and supervises it
(``groundseg.schedule.supervisor``): it can be killed at any moment without
harm to the station, and it holds the SDR only as long as it lives.

Graph::

    source (SDR, or an IQ file [-> skip] -> stream clock) -+-> ReceiveFlowgraph (Doppler rotator
                                                           |     -> demodulator -> deframer -> frames)
                                                           +-> IQ recorder (cf32, optional)
                                                           +-> waterfall rows (optional)

Spec (JSON object)
    ``pass_id``; ``parent_pid`` (the process exits when its parent dies);
    ``control``: ZeroMQ endpoint (``ipc://...``) this process binds a PULL
    socket on; ``source``: ``{"kind": "sdr", "sdr_args", "samp_rate_sps",
    "gain_db"}`` or a file ``{"kind": "sigmf"|"iq"|"wav", "path",
    "samp_rate_sps", "datatype"}``; ``freq_hz`` (centre frequency);
    ``stream`` (file sources): ``{"t0_unix_s": time of the file's first
    sample, "skip_s": seconds of the file to skip (a restarted run),
    "throttle": true, "clock": {"kind": "real"} or {"kind": "sim",
    "sim_unix_s", "monotonic_s", "speed"}}``: with ``throttle`` sample n is
    released no earlier than clock time t0 + n / samp_rate, so simulated time
    and signal time agree (the simulated clock is rebuilt from its anchor:
    CLOCK_MONOTONIC is the same in every process); ``norad``, ``satellite``,
    ``transmitters`` (catalog transmitter fields); ``record_iq``: ``{"path"}``
    or null; ``waterfall``: ``{"dir", "nfft", "row_s", "t_ref_unix_s"}`` or
    null; ``status_interval_s``; ``drain_timeout_s``; ``stall_timeout_s``
    (wall seconds without a sample from the source, while samples are due,
    after which the stream counts as failed: default 10).

Control (ZeroMQ PULL, one JSON object per message)
    ``{"doppler_hz": D, "t_unix_s": T}``: the Doppler correction for time T
    (the band is shifted by -D). From an SDR it applies at once; from a file
    it applies when the stream reaches T, so the correction follows the
    signal even when decoding runs behind the clock.
    ``{"stop": true, "drain": true, "at_unix_s": T}``: stop. A file source
    reads on until stream time T (or stops reading now without T) and what
    was read is decoded, for at most ``drain_timeout_s``; an SDR stops at
    once. SIGINT or SIGTERM stop at once.

Frames and state go back on stdout, one JSON object per line (chosen over a
second ZeroMQ socket: the pipe needs no address, and its end-of-file tells
the parent the process is gone). Everything else the process or its
libraries print goes to stderr (stdout is moved there first). Lines:

    {"type": "ready", "pid", "samp_rate_sps", "stream_t0_unix_s", "decoders": [...], "skipped": [...]}
    {"type": "status", "t_unix_s", "signal_s", "lag_s", "doppler_hz", "doppler_applied", "frames", "invalid",
     "samples", "overruns", "underruns"}
    {"type": "frame", "record": {... frame record, "t_unix_s" ...}}
    {"type": "warning", "message", "where": "flowgraph"|"storage"}
    {"type": "error", "message", "kind": "input"|"hardware"|"internal"}
    {"type": "done", "reason", "t_unix_s", "signal_s", "frames", "invalid", "doppler_applied", "samples",
     "overruns", "underruns", "iq_samples", "waterfall_rows", "iq_dropped", "waterfall_dropped"}

Counts are cumulative for the process (a restarted flowgraph starts from 0).
``samples``: samples the source delivered (after a file source's skip).
``overruns``: discontinuities the source reported: a source that tags the
stream time (``rx_time``: UHD after every overflow) tags it again after
each gap; every ``rx_time`` tag after the first counts one. A source that
does not tag its overflows (osmosdr, SoapySDR drivers without timestamps,
files) reports 0. ``underruns``: a receive flowgraph has no sink that can
run dry, so it is always 0 here (the field keeps the status line the same
for every flowgraph, the metric ``groundseg_chain_underruns_total`` comes
from it).

Source faults. A block of GNU Radio that fails (an exception in its
``work``: a driver's stream error, a Python block's bug) ends its own thread
and the rest of the flowgraph stalls behind it without ending, so the
process watches the sample counter: no sample for ``stall_timeout_s`` while
samples are due (an SDR always; a paced file once the clock has passed the
stream time) is an ``error`` (kind ``hardware``, "the IQ stream stopped"),
then ``done`` (reason ``stream stopped``) and exit 3. An SDR stream that
ends by itself (a device gone) is the same error, reason ``stream ended``;
only a file ends with reason ``end of input`` (exit 0).

Disk full. The IQ recording (optional, by far the largest artifact) and the
waterfall rows are written by this process. A write that fails (ENOSPC,
EDQUOT, EIO...) never stops the reception: the IQ recording is dropped
first (closed and, when the disk is full, deleted to give its space to
frames and waterfall; a ``warning`` with ``where: storage`` says so); the
waterfall is dropped only when it fails with no IQ recording left to drop.
``done`` names what was dropped (``iq_dropped``/``waterfall_dropped``: the
reason, or null).

Exit status: 0 after ``done``; 2 bad spec or input; 3 hardware (SDR missing,
busy; the IQ stream stopped or an SDR stream ended); 1 internal error.
"""
from __future__ import annotations

import collections
import ctypes
import errno
import json
import math
import os
import signal
import sys
import threading
import time
import traceback

PR_SET_PDEATHSIG = 1
HARD_EXIT_S = 10.0  # after a stop request, exit even if the flowgraph hangs
PACE_S = 0.01       # a paced file source releases samples about this often (wall seconds)


class Protocol:
    """The stdout channel to the parent: one JSON object per line, written whole, under a lock."""

    def __init__(self, fd: int):
        self._f = os.fdopen(fd, "w", buffering=1, encoding="utf-8")
        self._lock = threading.Lock()
        self.broken = False

    def send(self, msg_type: str, /, **data) -> None:
        line = json.dumps({"type": msg_type, **data}, default=_default) + "\n"
        with self._lock:
            if self.broken:
                return
            try:
                self._f.write(line)
                self._f.flush()
            except (BrokenPipeError, OSError, ValueError):
                self.broken = True  # the parent is gone: the death signal will end us


def _default(o):
    if hasattr(o, "item"):
        return o.item()
    if isinstance(o, (bytes, bytearray)):
        return o.hex()
    return str(o)


def _die_with_parent(parent_pid: int | None) -> None:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except OSError:
        pass
    if parent_pid and os.getppid() != parent_pid:
        os._exit(5)  # the parent died before we could ask to follow it


class SimClockView:
    """The parent's simulated clock, rebuilt from its anchor (CLOCK_MONOTONIC is shared by processes)."""

    def __init__(self, sim_unix_s: float, monotonic_s: float, speed: float):
        self.sim, self.mono, self.speed = float(sim_unix_s), float(monotonic_s), float(speed)

    def now(self) -> float:
        return self.sim + (time.monotonic() - self.mono) * self.speed


class RealClockView:
    speed = 1.0

    def now(self) -> float:
        return time.time()


def source_kind_for_sdr(sdr_args: str) -> str:
    """Which ``blocks.sources`` driver opens a chain's ``sdr_args``."""
    a = sdr_args.strip().lower()
    if a.startswith("uhd") or "type=b" in a or "type=x" in a or "type=n" in a:
        return "uhd"
    if a.startswith(("rtl=", "rtl_tcp=")):
        return "rtlsdr"
    return "soapy"


FULL_DISK = (errno.ENOSPC, errno.EDQUOT)


class IqRecorder:
    """The optional IQ recording (cf32, appended): dropped, never fatal, when a write fails.

    ``drop(reason, delete)`` closes it (``delete``: and removes the file, to
    give its space back); ``warn(message)`` tells the parent. Thread-safe
    (the recorder block and the waterfall block may both drop it).
    """

    def __init__(self, path: str, warn):
        self.path = str(path)
        self.warn = warn
        self._lock = threading.Lock()
        self._f = open(self.path, "ab")
        self.samples = 0          # written by this process
        self.dropped: str | None = None

    @property
    def recording(self) -> bool:
        return self._f is not None

    def write(self, iq) -> None:
        with self._lock:
            if self._f is None:
                return
            try:
                self._f.write(iq)
            except OSError as e:
                self._drop_locked(e)
                return
            self.samples += len(iq)

    def drop(self, reason: str, delete: bool) -> bool:
        """Stop recording (and delete the file); False if it was not recording."""
        with self._lock:
            if self._f is None:
                return False
            self._close_locked(delete)
            self.dropped = reason
        self.warn(f"IQ recording dropped after {self.samples} samples: {reason}"
                  + ("; the file is deleted to free its space for frames" if delete else ""))
        return True

    def _drop_locked(self, e: OSError) -> None:
        full = e.errno in FULL_DISK
        self._close_locked(full)
        self.dropped = f"{'disk full' if full else 'write failed'}: {e.strerror or e}"
        self.warn(f"IQ recording dropped after {self.samples} samples: {self.dropped}"
                  + ("; the file is deleted to free its space for frames" if full else ""))

    def _close_locked(self, delete: bool) -> None:
        f, self._f = self._f, None
        try:
            f.close()
        except OSError:
            pass  # the data that did not fit is lost with the recording
        if delete:
            try:
                os.unlink(self.path)
            except OSError:
                pass

    def close(self) -> None:
        with self._lock:
            if self._f is not None:
                try:
                    self._f.close()
                except OSError as e:
                    self.dropped = f"closing failed: {e.strerror or e}"
                self._f = None


def _make_blocks():
    """GNU Radio blocks of this process (defined after GNU Radio is imported)."""
    import numpy as np
    import pmt
    from gnuradio import gr

    class stream_clock(gr.sync_block):
        """Keeps the stream's time: sample n is at t0 + n / samp_rate.

        * With a ``clock`` it paces a file source: sample n is released no
          earlier than clock time t0 + n / samp_rate.
        * Time-tagged Doppler updates (``schedule(t, hz)``) are applied when the
          stream reaches their time: a chunk never spans an update, so the
          correction follows the signal even when the flowgraph runs behind
          the clock.
        * ``finish(at_unix_s)`` ends the stream at that stream time (now if None).
        """

        def __init__(self, samp_rate_sps: float, t0_unix_s: float, clock, apply_doppler):
            gr.sync_block.__init__(self, "groundseg_stream_clock", [np.complex64], [np.complex64])
            self.fs, self.t0, self.clock = float(samp_rate_sps), float(t0_unix_s), clock
            self.apply_doppler = apply_doppler
            self._pending: collections.deque = collections.deque()
            self._lock = threading.Lock()
            self._finish = threading.Event()
            self._stop_at = None

        def schedule(self, t_unix_s: float, doppler_hz: float) -> None:
            with self._lock:
                if self._pending and t_unix_s < self._pending[-1][0]:
                    self._pending.clear()  # out of order: the newest word wins
                self._pending.append((float(t_unix_s), float(doppler_hz)))

        def finish(self, at_unix_s=None) -> None:
            self._stop_at = at_unix_s
            self._finish.set()

        def now_s(self) -> float:
            return self.t0 + self.nitems_written(0) / self.fs

        def work(self, input_items, output_items):
            out = output_items[0]
            done = self.nitems_written(0)
            ts = self.t0 + done / self.fs
            k = len(out)
            if self._finish.is_set():
                if self._stop_at is None or ts >= self._stop_at:
                    return -1
                k = min(k, max(1, int(math.ceil((self._stop_at - ts) * self.fs))))
            if self.clock is not None:
                allowed = int((self.clock.now() - self.t0) * self.fs) - done
                # Release in chunks of about PACE_S of wall time (not sample by sample).
                chunk = max(1, min(k, int(self.fs * self.clock.speed * PACE_S)))
                if allowed < chunk:
                    wait_s = (chunk - allowed) / self.fs / max(self.clock.speed, 1e-9)
                    time.sleep(min(max(wait_s, 0.001), 0.05))
                    allowed = int((self.clock.now() - self.t0) * self.fs) - done
                    if allowed <= 0:
                        return 0
                k = min(k, allowed)
            with self._lock:
                while self._pending and self._pending[0][0] <= ts:
                    self.apply_doppler(self._pending.popleft()[1])
                if self._pending:
                    k = min(k, max(1, int(math.ceil((self._pending[0][0] - ts) * self.fs))))
            out[:k] = input_items[0][:k]
            return k

    class sample_counter(gr.sync_block):
        """Counts the samples a source delivers and the ``rx_time`` tags on them (see ``overruns``)."""

        def __init__(self):
            gr.sync_block.__init__(self, "groundseg_sample_counter", [np.complex64], None)
            self.key = pmt.intern("rx_time")
            self.samples = 0
            self.time_tags = 0

        @property
        def overruns(self) -> int:
            return max(0, self.time_tags - 1)  # the first tag marks the start of the stream

        def work(self, input_items, output_items):
            n = len(input_items[0])
            start = self.nitems_read(0)
            self.time_tags += len(self.get_tags_in_range(0, start, start + n, self.key))
            self.samples += n
            return n

    class waterfall_sink(gr.sync_block):
        """Feeds the waterfall writer; a failed write drops the IQ recording first, then the waterfall."""

        def __init__(self, writer, iq_recorder=None, warn=None):
            gr.sync_block.__init__(self, "groundseg_waterfall", [np.complex64], None)
            self.writer = writer
            self.iq = iq_recorder
            self.warn = warn or (lambda message: None)
            self.dropped: str | None = None

        def work(self, input_items, output_items):
            if self.dropped is None:
                try:
                    self.writer.feed(input_items[0])
                except OSError as e:
                    full = e.errno in FULL_DISK
                    why = f"{'disk full' if full else 'write failed'}: {e.strerror or e}"
                    if self.iq is not None and self.iq.drop(f"{why} (writing the waterfall)", delete=full):
                        pass  # its space is free again: the waterfall goes on
                    else:
                        self.dropped = why
                        self.warn(f"waterfall dropped after {self.writer.rows} rows: {why}")
            return len(input_items[0])

    return stream_clock, waterfall_sink, sample_counter


def _make_iq_sink():
    """The IQ recorder block (defined after GNU Radio is imported)."""
    import numpy as np
    from gnuradio import gr

    class iq_sink(gr.sync_block):
        """Writes the stream to an ``IqRecorder`` (a failed write drops the recording, never the stream)."""

        def __init__(self, recorder):
            gr.sync_block.__init__(self, "groundseg_iq_recorder", [np.complex64], None)
            self.recorder = recorder

        def work(self, input_items, output_items):
            self.recorder.write(input_items[0])
            return len(input_items[0])

    return iq_sink


class PassRunner:
    def __init__(self, spec: dict, proto: Protocol):
        self.spec = spec
        self.proto = proto
        self.stop_requested = threading.Event()
        self.drain = False
        self.stop_at = None
        self.finished = threading.Event()
        self.doppler_hz = 0.0
        self.doppler_applied = 0
        self.frames = 0
        self.collector = None
        self.counter = None      # the sample_counter block on the source
        self.tb = None
        self.sclock = None       # file sources: the stream_clock block
        self.pacing = None       # its clock when the file is paced
        self.waterfall = None
        self.wsink = None        # the waterfall block
        self.recorder = None     # IqRecorder
        self.recording_path = None
        self.stream_t0 = None
        self.file_source = False
        self.decoders: list[str] = []
        self.skipped: list[str] = []
        self._lock = threading.Lock()

    # --- building -----------------------------------------------------------------

    def _clock(self):
        c = (self.spec.get("stream") or {}).get("clock") or {"kind": "real"}
        if c.get("kind") == "sim":
            return SimClockView(c["sim_unix_s"], c["monotonic_s"], c["speed"])
        return RealClockView()

    def _source(self):
        from groundseg.blocks.sources import SourceSpec, open_source
        from groundseg.errors import InputError

        src = self.spec.get("source") or {}
        kind = src.get("kind")
        if kind == "sdr":
            args = str(src.get("sdr_args") or "")
            self.file_source = False
            return open_source(SourceSpec(kind=source_kind_for_sdr(args), device_args=args,
                                          samp_rate_sps=src.get("samp_rate_sps"), freq_hz=self.spec.get("freq_hz"),
                                          gain_db=src.get("gain_db")))
        if kind in ("sigmf", "iq", "wav"):
            s = open_source(SourceSpec(kind=kind, path=src.get("path"), samp_rate_sps=src.get("samp_rate_sps"),
                                       iq=True, datatype=src.get("datatype", "cf32_le")))
            if not s.iq:
                raise InputError(f"{src.get('path')}: a pass needs complex IQ")
            self.file_source = True
            return s
        raise InputError(f"spec: unknown source kind {kind!r} (sdr, sigmf, iq, wav)")

    def _apply_doppler(self, doppler_hz: float) -> None:
        if getattr(self.tb, "rotator", None) is not None:
            self.tb.set_doppler_hz(doppler_hz)
        self.doppler_hz = doppler_hz
        self.doppler_applied += 1

    def build(self) -> None:
        from gnuradio import blocks, gr

        from flowgraphs.receive import Chain, ReceiveFlowgraph
        from groundseg.blocks.frame_collector import FrameCollector
        from groundseg.blocks.sources import Source
        from groundseg.catalog import Transmitter
        from groundseg.errors import InputError
        from groundseg.framing import load_all

        if not self.spec.get("transmitters"):
            raise InputError("spec: no transmitter to receive")
        stream_clock, waterfall_sink, sample_counter = _make_blocks()
        src = self._source()
        fs = float(src.samp_rate_sps)
        stream = self.spec.get("stream") or {}
        head_block = src.block
        keep = []
        if self.file_source:
            skip_n = max(0, int(round(float(stream.get("skip_s", 0.0)) * fs)))
            self.stream_t0 = float(stream.get("t0_unix_s", time.time())) + skip_n / fs
            h = gr.hier_block2("pass_file_source", gr.io_signature(0, 0, 0),
                               gr.io_signature(1, 1, gr.sizeof_gr_complex))
            parts = [src.block]
            if skip_n:
                parts.append(blocks.skiphead(gr.sizeof_gr_complex, skip_n))
            self.pacing = self._clock() if stream.get("throttle", True) else None
            self.sclock = stream_clock(fs, self.stream_t0, self.pacing, self._apply_doppler)
            parts.append(self.sclock)
            h.connect(*parts, h)
            h._keep = parts
            head_block = h
            keep.append(h)
        source = Source(head_block, fs, True, None, dict(src.meta))

        framings = load_all()
        chains = []
        for d in self.spec["transmitters"]:
            tx = Transmitter(**{**d, "options": dict(d.get("options") or {})})
            if tx.uplink:
                continue
            if tx.framing not in framings:
                self.skipped.append(f"{tx.name}: framing {tx.framing!r} not supported yet")
                continue
            chains.append(Chain(tx, norad=self.spec.get("norad"), satellite=self.spec.get("satellite")))
        self.collector = FrameCollector(self._take)
        if chains:
            tb = ReceiveFlowgraph(source, chains, self.collector)
        else:  # nothing to decode: still record and draw the waterfall
            tb = gr.top_block("groundseg_pass_record_only", catch_exceptions=False)
            tb.rotator = None
            tb.connect(source.block, blocks.null_sink(gr.sizeof_gr_complex))
        self.decoders = [c.transmitter.name for c in chains]
        self.counter = sample_counter()
        tb.connect(source.block, self.counter)
        keep.append(self.counter)
        rec = self.spec.get("record_iq")
        if rec:
            # Not blocks.file_sink: a failed write (disk full) throws in its thread, which ends, and the
            # whole flowgraph stalls behind it. The recorder drops the recording and the stream goes on.
            self.recording_path = rec["path"]
            self.recorder = IqRecorder(str(rec["path"]), self._storage_warning)
            sink = _make_iq_sink()(self.recorder)
            tb.connect(source.block, sink)
            keep.append(sink)
        wf = self.spec.get("waterfall")
        if wf:
            from groundseg.storage.waterfall import WaterfallWriter

            start = self.stream_t0 if self.stream_t0 is not None else time.time()
            self.waterfall = WaterfallWriter(wf["dir"], int(wf.get("nfft", 256)), fs,
                                             float(self.spec.get("freq_hz") or 0.0),
                                             float(wf.get("t_ref_unix_s", start)), start,
                                             float(wf.get("row_s", 1.0)))
            wsink = waterfall_sink(self.waterfall, self.recorder, self._storage_warning)
            self.wsink = wsink
            tb.connect(source.block, wsink)
            keep.append(wsink)
        self._keep = keep
        self.tb = tb
        self.samp_rate_sps = fs

    # --- running ------------------------------------------------------------------

    def _storage_warning(self, message: str) -> None:
        self.proto.send("warning", message=message, where="storage")

    def _samples_due(self) -> bool:
        """Whether the source should be delivering now (a paced file waits for its time)."""
        if self.sclock is not None and self.pacing is not None:
            return self.pacing.now() > self.sclock.now_s() + 0.5 * self.pacing.speed
        return True

    def _take(self, meta: dict, data: bytes) -> None:
        from groundseg.decode import frame_record

        rec = frame_record(meta, data)
        t = meta.get("time_s")
        rec["t_unix_s"] = round(self.stream_t0 + float(t), 4) if t is not None else None
        rec["pass_id"] = self.spec.get("pass_id")
        with self._lock:
            self.frames += 1
        self.proto.send("frame", record=rec)

    def stream_now(self) -> float:
        """Stream time of the newest sample taken from the source."""
        if self.sclock is not None:
            return self.sclock.now_s()
        return time.time()

    def status(self) -> dict:
        t = self.stream_now()
        lag = round(max(0.0, self.pacing.now() - t), 3) if self.pacing is not None else None
        c = self.counter
        return {"t_unix_s": round(t, 3), "signal_s": round(t - self.stream_t0, 3), "lag_s": lag,
                "doppler_hz": self.doppler_hz, "doppler_applied": self.doppler_applied, "frames": self.frames,
                "invalid": self.collector.invalid if self.collector else 0,
                "samples": c.samples if c is not None else 0, "overruns": c.overruns if c is not None else 0,
                "underruns": 0}

    def handle(self, msg) -> None:
        if not isinstance(msg, dict):
            self.proto.send("warning", message=f"control: ignored a message that is not an object: {msg!r:.80}")
            return
        if "doppler_hz" in msg:
            try:
                d = float(msg["doppler_hz"])
                t = float(msg.get("t_unix_s", self.stream_now()))
            except (TypeError, ValueError):
                self.proto.send("warning", message=f"control: bad Doppler update {msg!r:.80}")
                return
            if not (math.isfinite(d) and abs(d) < self.samp_rate_sps / 2 and math.isfinite(t)):
                self.proto.send("warning", message=f"control: Doppler {d:g} Hz is outside the band")
                return
            if self.sclock is not None:
                self.sclock.schedule(t, d)
            else:
                self._apply_doppler(d)
        if msg.get("stop"):
            self.drain = bool(msg.get("drain", False))
            at = msg.get("at_unix_s")
            self.stop_at = float(at) if isinstance(at, (int, float)) else None
            self.stop_requested.set()

    def request_stop(self, *_):
        self.drain = False
        self.stop_requested.set()

    def run(self) -> int:
        import zmq

        self.build()
        ctx = zmq.Context()
        sock = ctx.socket(zmq.PULL)
        sock.setsockopt(zmq.LINGER, 0)
        if self.spec.get("control"):
            sock.bind(self.spec["control"])
        if self.stream_t0 is None:
            self.stream_t0 = time.time()
        self.tb.start()
        threading.Thread(target=lambda: (self.tb.wait(), self.finished.set()), daemon=True,
                         name="flowgraph-wait").start()
        self.proto.send("ready", pid=os.getpid(), samp_rate_sps=self.samp_rate_sps,
                        stream_t0_unix_s=self.stream_t0, decoders=self.decoders, skipped=self.skipped)
        for s in self.skipped:
            self.proto.send("warning", message=f"not decoded: {s}")
        interval = float(self.spec.get("status_interval_s", 0.2))
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        next_status = 0.0
        reason = "stopped"
        failed = None
        stall_s = float(self.spec.get("stall_timeout_s") or 10.0)
        progress = {"n": -1, "t": time.monotonic()}

        def stalled() -> str | None:
            """Why the stream counts as stopped (no sample for stall_s while samples are due), or None."""
            mono, n = time.monotonic(), self.counter.samples
            if n != progress["n"] or not self._samples_due():
                progress["n"], progress["t"] = n, mono
                return None
            if mono - progress["t"] <= stall_s:
                return None
            return (f"the IQ stream stopped: no sample for {stall_s:g} s after {n} samples "
                    "(a source or block failed: see the flowgraph log)")

        try:
            while not self.stop_requested.is_set():
                if self.finished.is_set():
                    reason = "end of input"
                    if not self.file_source:  # an SDR does not end: its device is gone or failed
                        reason = "stream ended"
                        failed = (f"the SDR stream ended after {self.counter.samples} samples "
                                  "(device unplugged or failed?)")
                    break
                failed = stalled()
                if failed:
                    reason = "stream stopped"
                    break
                events = dict(poller.poll(timeout=int(min(interval, 0.05) * 1000)))
                if sock in events:
                    while True:
                        try:
                            raw = sock.recv(zmq.NOBLOCK)
                        except zmq.Again:
                            break
                        try:
                            self.handle(json.loads(raw))
                        except ValueError:
                            self.proto.send("warning", message="control: ignored a message that is not JSON")
                now = time.monotonic()
                if now >= next_status:
                    self.proto.send("status", **self.status())
                    next_status = now + interval
        finally:
            if failed:
                self.proto.send("error", kind="hardware", message=failed)
            self._watchdog()
            if not self.finished.is_set():
                if self.drain and self.sclock is not None and not failed:
                    # Decode what was read, and with a time, read on until then (unless the stream stalls).
                    self.sclock.finish(self.stop_at)
                    deadline = time.monotonic() + float(self.spec.get("drain_timeout_s", 5.0))
                    while not self.finished.wait(min(interval, 0.2)) and time.monotonic() < deadline:
                        self.proto.send("status", **self.status())
                        failed = stalled()
                        if failed:
                            reason = "stream stopped"
                            self.proto.send("error", kind="hardware", message=failed)
                            break
                if not self.finished.is_set():
                    self.tb.stop()
                    self.finished.wait(HARD_EXIT_S)
            if self.waterfall is not None:
                try:
                    self.waterfall.close()
                except OSError as e:
                    self._storage_warning(f"waterfall: closing failed: {e.strerror or e}")
            if self.recorder is not None:
                self.recorder.close()
            sock.close()
            ctx.term()
        if (reason == "stopped" and self.file_source and self.drain and self.stop_at is not None
                and self.finished.is_set() and self.stream_now() < self.stop_at - 1.0):
            reason = "end of input"  # draining, the file ended before the time it was to be read to
        st = self.status()
        iq = 0
        if self.recording_path and os.path.exists(self.recording_path):
            iq = os.path.getsize(self.recording_path) // 8
        self.proto.send("done", reason=reason, t_unix_s=st["t_unix_s"], signal_s=st["signal_s"],
                        frames=self.frames, invalid=st["invalid"], doppler_applied=self.doppler_applied,
                        samples=st["samples"], overruns=st["overruns"], underruns=st["underruns"],
                        iq_samples=iq, waterfall_rows=self.waterfall.rows if self.waterfall else 0,
                        iq_dropped=self.recorder.dropped if self.recorder else None,
                        waterfall_dropped=self.wsink.dropped if self.wsink else None)
        return 3 if failed else 0

    def _watchdog(self) -> None:
        def bite():
            time.sleep(HARD_EXIT_S + float(self.spec.get("drain_timeout_s", 5.0)))
            print("pass_runner: flowgraph did not stop: exiting hard", file=sys.stderr, flush=True)
            os._exit(4)
        threading.Thread(target=bite, daemon=True, name="watchdog").start()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # Protocol lines go to the real stdout; stray prints of libraries (some SDR
    # drivers print banners) go to stderr.
    proto = Protocol(os.dup(1))
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    if len(argv) != 1:
        proto.send("error", kind="input", message="usage: python -m flowgraphs.pass_runner SPEC.json")
        return 2
    try:
        with open(argv[0], encoding="utf-8") as f:
            spec = json.load(f)
        if not isinstance(spec, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as e:
        proto.send("error", kind="input", message=f"{argv[0]}: cannot read the spec: {e}")
        return 2
    _die_with_parent(spec.get("parent_pid"))
    runner = PassRunner(spec, proto)
    signal.signal(signal.SIGINT, runner.request_stop)
    signal.signal(signal.SIGTERM, runner.request_stop)
    try:
        from groundseg.errors import GroundsegError, HardwareError
    except ImportError as e:
        proto.send("error", kind="internal", message=f"cannot import groundseg: {e}")
        return 1
    try:
        return runner.run()
    except HardwareError as e:
        proto.send("error", kind="hardware", message=str(e))
        return e.exit_code
    except GroundsegError as e:
        proto.send("error", kind="input", message=str(e))
        return e.exit_code
    except Exception as e:  # noqa: BLE001 - reported to the parent, with the traceback in the log
        traceback.print_exc()
        proto.send("error", kind="internal", message=f"{type(e).__name__}: {e}")
        return 1


if __name__ == "__main__":
    code = main()
    sys.stderr.flush()
    os._exit(code)

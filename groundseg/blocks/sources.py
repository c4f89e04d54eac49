"""Sample sources: files (WAV, raw IQ, SigMF) and hardware (UHD, RTL-SDR, SoapySDR, ZeroMQ).

``open_source(spec)`` checks the input and returns a ``Source`` with the GNU
Radio block, its sample rate, whether it is complex and, for files, its
length. Problems are reported as one line (``InputError``/``HardwareError``).
"""
from __future__ import annotations

import json
import math
import os
import pathlib
import struct
from dataclasses import dataclass, field
from typing import Any

from ..errors import HardwareError, InputError
from ..registry import Registry

SOURCES: Registry = Registry("source kind")


@dataclass
class SourceSpec:
    kind: str                          # a name in SOURCES
    path: str | None = None            # file sources
    samp_rate_sps: float | None = None
    iq: bool | None = None             # WAV: stereo file holds I/Q
    freq_hz: float | None = None       # hardware: centre frequency
    gain_db: float | None = None
    device_args: str = ""              # hardware: UHD/osmosdr/Soapy device string
    address: str | None = None         # zmq: endpoint
    datatype: str = "cf32_le"          # raw IQ files


@dataclass
class Source:
    block: Any
    samp_rate_sps: float
    iq: bool
    n_samples: int | None = None       # files: samples per channel
    meta: dict = field(default_factory=dict)
    ctrl: Any = None                   # hardware: object with set_center_freq/set_gain

    @property
    def seconds(self) -> float | None:
        return None if self.n_samples is None else self.n_samples / self.samp_rate_sps


def open_source(spec: SourceSpec) -> Source:
    return SOURCES.get(spec.kind)(spec)


def guess_kind(path: str) -> str:
    p = path.lower()
    if p.endswith(".wav"):
        return "wav"
    if p.endswith((".sigmf-meta", ".sigmf-data", ".sigmf")):
        return "sigmf"
    return "iq"


# --- files -------------------------------------------------------------------

#: file sources above this rate are refused: no receiver of the station records that much, and a
#: corrupt header claiming it (a WAV rate field holds up to 4.29e9) would make the decode hang
MAX_FILE_SAMP_RATE_SPS = 100e6


def _check_rate(rate, what: str) -> float:
    """A usable sample rate of a file source (finite, positive, not absurd), else ``InputError``."""
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not math.isfinite(rate) or rate <= 0:
        raise InputError(f"{what}: sample rate {rate!r} is not a positive finite number")
    if rate > MAX_FILE_SAMP_RATE_SPS:
        raise InputError(f"{what}: sample rate {rate:g} S/s is above {MAX_FILE_SAMP_RATE_SPS:g} S/s "
                         "(a corrupt header or a wrong --samp-rate)")
    return float(rate)


def _open_file(path: str | None) -> pathlib.Path:
    if not path:
        raise InputError("no input file given")
    p = pathlib.Path(path)
    if not p.exists():
        raise InputError(f"{path}: no such file")
    if p.is_dir():
        raise InputError(f"{path}: is a directory, not a recording")
    if not os.access(p, os.R_OK):
        raise InputError(f"{path}: not readable")
    return p


@dataclass
class WavInfo:
    channels: int
    samp_rate: int
    bits: int
    fmt: int           # 1 PCM, 3 IEEE float
    data_offset: int
    data_bytes: int
    truncated: bool

    @property
    def n_frames(self) -> int:
        return self.data_bytes // (self.channels * self.bits // 8)


def read_wav_header(path: str) -> WavInfo:
    """Parse a RIFF/WAVE header, with clear errors for what is not usable audio."""
    p = _open_file(path)
    size = p.stat().st_size
    with open(p, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
            raise InputError(f"{path}: not a WAV file (no RIFF/WAVE header)")
        fmt = None
        while True:
            ch = f.read(8)
            if 0 < len(ch) < 8:
                raise InputError(f"{path}: truncated WAV header")
            if len(ch) < 8:
                break
            cid, clen = ch[:4], struct.unpack("<I", ch[4:])[0]
            if cid == b"fmt ":
                body = f.read(min(clen, 40))
                if len(body) < 16:
                    raise InputError(f"{path}: truncated WAV format chunk")
                tag, chans, rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
                if tag == 0xFFFE and len(body) >= 26:
                    tag = struct.unpack("<H", body[24:26])[0]
                fmt = (tag, chans, rate, bits)
                f.seek(clen - len(body) + (clen & 1), 1)
            elif cid == b"data":
                if fmt is None:
                    raise InputError(f"{path}: WAV data before its format chunk")
                off = f.tell()
                avail = size - off
                tag, chans, rate, bits = fmt
                if tag not in (1, 3) or (tag == 1 and bits not in (8, 16, 24, 32)) or (tag == 3 and bits not in (32, 64)):
                    raise InputError(f"{path}: unsupported WAV encoding (format {tag}, {bits} bits)")
                if chans < 1 or rate < 1:
                    raise InputError(f"{path}: WAV header has {chans} channels at {rate} Hz")
                n = clen if clen != 0xFFFFFFFF else avail
                info = WavInfo(chans, rate, bits, tag, off, min(n, avail), n > avail)
                if info.n_frames == 0:
                    raise InputError(f"{path}: WAV file has no samples")
                return info
            else:
                f.seek(clen + (clen & 1), 1)
    if fmt is None:
        raise InputError(f"{path}: WAV file has no format chunk")
    raise InputError(f"{path}: WAV file has no data chunk")


#: seconds of silence appended to file sources (demodulators look ahead)
FILE_TAIL_S = 1.0


@SOURCES.register("wav")
def _wav_source(spec: SourceSpec) -> Source:
    """WAV receiver audio (PCM 8/16/24/32-bit or float), or I/Q as a stereo WAV."""
    from .file_source import array_source, wav_reader

    info = read_wav_header(spec.path)
    _check_rate(info.samp_rate, str(spec.path))
    iq = bool(spec.iq)
    if iq and info.channels != 2:
        raise InputError(f"{spec.path}: IQ from WAV needs 2 channels (I, Q), the file has {info.channels}")
    read = wav_reader(str(spec.path), info.data_offset, info.channels, info.fmt, info.bits,
                      info.n_frames, 0, iq)
    block = array_source(read, info.n_frames, iq, int(FILE_TAIL_S * info.samp_rate))
    meta = {"channels": info.channels, "bits": info.bits, "truncated": info.truncated}
    return Source(block, float(info.samp_rate), iq, info.n_frames, meta)


_IQ_TYPES = {  # datatype: (bytes per complex sample)
    "cf32_le": 8, "ci16_le": 4, "ci8": 2, "cu8": 2,
}


def _iq_file_block(path: str, datatype: str, n_samples: int, samp_rate_sps: float):
    from .file_source import array_source, iq_reader

    if datatype not in _IQ_TYPES:
        raise InputError(f"{path}: unsupported IQ datatype {datatype!r} (supported: {', '.join(_IQ_TYPES)})")
    return array_source(iq_reader(str(path), datatype, n_samples), n_samples, True,
                        int(FILE_TAIL_S * samp_rate_sps))


@SOURCES.register("iq")
def _raw_iq_source(spec: SourceSpec) -> Source:
    """Raw interleaved I/Q file (cf32_le, ci16_le, ci8, cu8) at a given sample rate."""
    p = _open_file(spec.path)
    if spec.samp_rate_sps is None:
        raise InputError(f"{spec.path}: a raw IQ file needs --samp-rate")
    rate = _check_rate(spec.samp_rate_sps, str(spec.path))
    width = _IQ_TYPES.get(spec.datatype)
    if width is None:
        raise InputError(f"unsupported IQ datatype {spec.datatype!r} (supported: {', '.join(_IQ_TYPES)})")
    n = p.stat().st_size // width
    if n == 0:
        raise InputError(f"{spec.path}: IQ file has no samples")
    return Source(_iq_file_block(str(p), spec.datatype, n, rate), rate, True, n, {"datatype": spec.datatype})


@SOURCES.register("sigmf")
def _sigmf_source(spec: SourceSpec) -> Source:
    """SigMF recording (.sigmf-meta + .sigmf-data): rate, datatype and frequency from the metadata."""
    base = str(spec.path)
    for suf in (".sigmf-meta", ".sigmf-data", ".sigmf"):
        if base.endswith(suf):
            base = base[: -len(suf)]
    meta_path = _open_file(base + ".sigmf-meta")
    data_path = _open_file(base + ".sigmf-data")
    try:
        meta = json.loads(meta_path.read_text())
        glob = meta["global"]
        datatype = glob["core:datatype"]
        rate = float(glob["core:sample_rate"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, RecursionError) as e:
        raise InputError(f"{meta_path}: not valid SigMF metadata ({type(e).__name__}: {e})") from None
    rate = _check_rate(rate, f"{meta_path}: core:sample_rate")
    if not isinstance(datatype, str) or datatype not in _IQ_TYPES:
        raise InputError(f"{meta_path}: unsupported SigMF datatype {datatype!r} (supported: {', '.join(_IQ_TYPES)})")
    n = data_path.stat().st_size // _IQ_TYPES[datatype]
    if n == 0:
        raise InputError(f"{data_path}: SigMF data file has no samples")
    caps = meta.get("captures")
    if caps is not None and not (isinstance(caps, list) and all(isinstance(c, dict) for c in caps)):
        raise InputError(f"{meta_path}: not valid SigMF metadata (captures is not a list of objects)")
    freq = caps[0].get("core:frequency") if caps else None
    if freq is not None and (isinstance(freq, bool) or not isinstance(freq, (int, float))
                             or not math.isfinite(freq)):
        raise InputError(f"{meta_path}: captures[0] core:frequency {freq!r} is not a finite number")
    return Source(_iq_file_block(str(data_path), datatype, n, rate), rate, True, n,
                  {"datatype": datatype, "freq_hz": freq, "sigmf": glob})


# --- hardware and streams ----------------------------------------------------

class _Tunable:
    """Uniform centre-frequency and gain control over a hardware source."""

    def __init__(self, set_freq, set_gain):
        self._set_freq, self._set_gain = set_freq, set_gain

    def set_center_freq(self, freq_hz: float) -> None:
        self._set_freq(freq_hz)

    def set_gain(self, gain_db: float) -> None:
        self._set_gain(gain_db)


def _need_rate(spec: SourceSpec, what: str) -> float:
    if not spec.samp_rate_sps or spec.samp_rate_sps <= 0:
        raise InputError(f"{what} source needs a sample rate")
    return float(spec.samp_rate_sps)


@SOURCES.register("uhd")
def _uhd_source(spec: SourceSpec) -> Source:
    """Ettus USRP through UHD (gr-uhd)."""
    rate = _need_rate(spec, "UHD")
    try:
        from gnuradio import uhd
    except ImportError:
        raise HardwareError("UHD support is not installed (Debian package gnuradio with gr-uhd)") from None
    try:
        src = uhd.usrp_source(spec.device_args, uhd.stream_args(cpu_format="fc32", channels=[0]))
        src.set_samp_rate(rate)
        if spec.freq_hz:
            src.set_center_freq(spec.freq_hz, 0)
        if spec.gain_db is not None:
            src.set_gain(spec.gain_db, 0)
    except (RuntimeError, LookupError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        if "No devices found" in msg or "KeyError" in msg:
            msg = "no USRP found"
        raise HardwareError(f"USRP {spec.device_args!r}: {msg}") from None
    ctrl = _Tunable(lambda f: src.set_center_freq(f, 0), lambda g: src.set_gain(g, 0))
    return Source(src, src.get_samp_rate(), True, None, {"device": spec.device_args}, ctrl)


def _rtlsdr_present() -> bool:
    # RTL2832U dongles: USB vendor 0bda (Realtek) with the common product ids.
    for dev in pathlib.Path("/sys/bus/usb/devices").glob("*"):
        try:
            vid = (dev / "idVendor").read_text().strip()
            pid = (dev / "idProduct").read_text().strip()
        except OSError:
            continue
        if vid == "0bda" and pid in ("2832", "2838"):
            return True
    return False


@SOURCES.register("rtlsdr")
def _rtlsdr_source(spec: SourceSpec) -> Source:
    """RTL-SDR dongle through gr-osmosdr."""
    rate = _need_rate(spec, "RTL-SDR")
    if not _rtlsdr_present():
        raise HardwareError("no RTL-SDR dongle found on USB")
    try:
        import osmosdr
    except ImportError:
        raise HardwareError("RTL-SDR support needs gr-osmosdr (Debian package gr-osmosdr)") from None
    args = spec.device_args or "rtl=0"
    try:
        src = osmosdr.source(args)
        src.set_sample_rate(rate)
        if spec.freq_hz:
            src.set_center_freq(spec.freq_hz, 0)
        if spec.gain_db is not None:
            src.set_gain_mode(False, 0)
            src.set_gain(spec.gain_db, 0)
    except RuntimeError as e:
        raise HardwareError(f"RTL-SDR {args!r}: {str(e).splitlines()[0]}") from None
    ctrl = _Tunable(lambda f: src.set_center_freq(f, 0), lambda g: src.set_gain(g, 0))
    return Source(src, src.get_sample_rate(), True, None, {"device": args}, ctrl)


@SOURCES.register("soapy")
def _soapy_source(spec: SourceSpec) -> Source:
    """Any SoapySDR device (gr-soapy)."""
    rate = _need_rate(spec, "SoapySDR")
    try:
        from gnuradio import soapy
    except ImportError:
        raise HardwareError("SoapySDR support is not installed (gr-soapy)") from None
    args = spec.device_args or "driver=rtlsdr"
    driver = dict(kv.split("=", 1) for kv in args.split(",") if "=" in kv).get("driver", "")
    try:
        src = soapy.source(args, "fc32", 1, "", "", [""], [""])
        src.set_sample_rate(0, rate)
        if spec.freq_hz:
            src.set_frequency(0, spec.freq_hz)
        if spec.gain_db is not None:
            src.set_gain(0, spec.gain_db)
    except (RuntimeError, ValueError) as e:
        raise HardwareError(f"SoapySDR {args!r} ({driver or 'any driver'}): {str(e).splitlines()[0]}") from None
    ctrl = _Tunable(lambda f: src.set_frequency(0, f), lambda g: src.set_gain(0, g))
    return Source(src, rate, True, None, {"device": args}, ctrl)


@SOURCES.register("zmq")
def _zmq_source(spec: SourceSpec) -> Source:
    """Complex IQ (or float audio with iq=False) from a ZeroMQ PUB stream."""
    rate = _need_rate(spec, "ZeroMQ")
    if not spec.address:
        raise InputError("ZeroMQ source needs an address such as tcp://127.0.0.1:5555")
    from gnuradio import gr, zeromq

    iq = spec.iq is not False
    size = gr.sizeof_gr_complex if iq else gr.sizeof_float
    try:
        src = zeromq.sub_source(size, 1, spec.address, 100, False, -1, "")
    except RuntimeError as e:
        raise InputError(f"ZeroMQ source {spec.address}: {e}") from None
    return Source(src, rate, iq, None, {"address": spec.address})

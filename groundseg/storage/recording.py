"""SigMF metadata for IQ recordings, written with the ``sigmf`` package.

A recording is ``<base>.sigmf-data`` (samples as written by the flowgraph or
the pass simulator) plus ``<base>.sigmf-meta``. ``write_sigmf_meta`` describes
the data file: datatype, sample rate, station position (``core:geolocation``,
GeoJSON [lon, lat, alt]), one capture per continuous run of samples (start
sample, UTC time, centre frequency) and annotations (decoded or transmitted
frames, pass events). Pass metadata goes in the global object under the
``groundseg:`` namespace, declared in ``core:extensions``.
"""
from __future__ import annotations

import datetime as _dt
import os
import pathlib
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputError

DATATYPES = {"cf32_le": 8, "ci16_le": 4, "ci8": 2, "cu8": 2}
NAMESPACE = "groundseg"


@dataclass
class Capture:
    sample_start: int
    t_unix_s: float
    freq_hz: float


@dataclass
class Annotation:
    sample_start: int
    sample_count: int
    label: str
    comment: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # keys without namespace: stored as groundseg:<key>


def sigmf_datetime(t_unix_s: float) -> str:
    t = _dt.datetime.fromtimestamp(t_unix_s, tz=_dt.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def base_path(path: str | os.PathLike) -> pathlib.Path:
    s = str(path)
    for suf in (".sigmf-meta", ".sigmf-data", ".sigmf"):
        if s.endswith(suf):
            return pathlib.Path(s[: -len(suf)])
    return pathlib.Path(s)


def write_sigmf_meta(data_path: str | os.PathLike, *, samp_rate_sps: float, captures: list[Capture],
                     datatype: str = "cf32_le", description: str = "", recorder: str = "groundseg",
                     position: tuple[float, float, float] | None = None, extra: dict[str, Any] | None = None,
                     annotations: list[Annotation] | None = None, checksum: bool = True) -> pathlib.Path:
    """Write ``<base>.sigmf-meta`` next to ``data_path``; returns its path.

    ``position``: (lat_deg, lon_deg, alt_m) of the receiver. ``extra``: pass
    metadata (keys get the ``groundseg:`` prefix).
    """
    from sigmf import SigMFFile

    if datatype not in DATATYPES:
        raise InputError(f"unsupported SigMF datatype {datatype!r} (supported: {', '.join(DATATYPES)})")
    data = pathlib.Path(data_path)
    if not data.is_file():
        raise InputError(f"{data}: no such recording")
    if not samp_rate_sps > 0:
        raise InputError(f"sample rate {samp_rate_sps} must be > 0")
    if not captures:
        raise InputError("a recording needs at least one capture")
    glob: dict[str, Any] = {
        "core:datatype": datatype,
        "core:sample_rate": float(samp_rate_sps),
        "core:recorder": recorder,
        "core:extensions": [{"name": NAMESPACE, "version": "0.1.0", "optional": True}],
    }
    if description:
        glob["core:description"] = description
    if position is not None:
        lat, lon, alt = position
        glob["core:geolocation"] = {"type": "Point", "coordinates": [float(lon), float(lat), float(alt)]}
    for k, v in (extra or {}).items():
        glob[k if ":" in k else f"{NAMESPACE}:{k}"] = v
    meta = SigMFFile(data_file=str(data), global_info=glob, skip_checksum=not checksum)
    n = data.stat().st_size // DATATYPES[datatype]
    for c in sorted(captures, key=lambda c: c.sample_start):
        if not 0 <= c.sample_start <= max(n, 0):
            raise InputError(f"capture at sample {c.sample_start} is outside the {n} samples recorded")
        meta.add_capture(int(c.sample_start), metadata={"core:frequency": float(c.freq_hz),
                                                        "core:datetime": sigmf_datetime(c.t_unix_s)})
    for a in sorted(annotations or [], key=lambda a: a.sample_start):
        if a.sample_start < 0 or a.sample_count < 1:
            continue
        md: dict[str, Any] = {"core:label": a.label}
        if a.comment:
            md["core:comment"] = a.comment
        for k, v in a.extra.items():
            md[k if ":" in k else f"{NAMESPACE}:{k}"] = v
        meta.add_annotation(int(a.sample_start), int(a.sample_count), metadata=md)
    meta_path = pathlib.Path(str(base_path(data)) + ".sigmf-meta")
    tmp = pathlib.Path(str(base_path(data)) + f".tmp{os.getpid()}.sigmf-meta")
    meta.tofile(str(tmp), overwrite=True)
    os.replace(tmp, meta_path)
    return meta_path


def read_sigmf_meta(path: str | os.PathLike) -> dict:
    """The metadata of a recording as a dict (validated by ``sigmf``)."""
    from sigmf import sigmffile

    meta = pathlib.Path(str(base_path(path)) + ".sigmf-meta")
    if not meta.is_file():
        raise InputError(f"{meta}: no such SigMF metadata file")
    try:
        f = sigmffile.fromfile(str(meta), skip_checksum=True)
    except Exception as e:  # the sigmf package raises its own error types
        raise InputError(f"{meta}: not valid SigMF: {e}") from None
    return {"global": f.get_global_info(), "captures": f.get_captures(), "annotations": f.get_annotations()}

"""``sids``: HTTP POST in the SIDS convention (Simple Downlink Share), to public telemetry databases.

``url``: the server's submit address (``https://db.example.org/api/telemetry/``).
One POST per frame, the fields form-encoded in the body
(``application/x-www-form-urlencoded``):

=============  ========================================================  ===========================
field          value                                                      example
=============  ========================================================  ===========================
noradID        NORAD id of the satellite                                  39430
source         the receiving station's callsign (``options.source``)      DL0ABC
timestamp      UTC time of reception, ISO 8601 with milliseconds and Z     2024-05-01T10:21:33.560Z
frame          the frame bytes as upper-case hexadecimal                  8A8A60...
locator        ``longLat`` (WGS84)                                        longLat
longitude      degrees with 5 decimals and E or W                         8.95564E
latitude       degrees with 5 decimals and N or S                         49.73145N
azimuth        antenna azimuth, degrees (when the record has ``az_deg``)   10.5
elevation      antenna elevation, degrees (when the record has ``el_deg``) 85.0
fDown          downlink frequency heard, Hz (record ``freq_hz`` plus its ``doppler_hz`` when known)
version        ``groundseg <version>``
=============  ========================================================  ===========================

Replies: 2xx acknowledges the frame; 408, 429 and 5xx, timeouts and
connection errors are retried with backoff; any other 4xx rejects the frame
for good (counted as failed, not retried: the server will not change its
mind). SIDS has no id field: the frame id goes in an ``X-Frame-Id`` header
for servers that want it; SIDS databases themselves merge duplicates by
(frame, timestamp, source). Frames whose CRC failed are not sent
(``options.only_valid``, default true).

Options: ``source`` (required), ``timeout_s`` (10), ``only_valid`` (true),
``headers`` (a table of extra HTTP headers, e.g. an API token).
"""
from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request

from . import (DELIVERED, SKIPPED, Outcome, Sink, SinkSpec, SinkUnavailable, check_options, in_range, iso8601_ms,
               register)

OPTIONS = {
    "source": (str, lambda s: None if 0 < len(s) <= 64 and s.strip() == s else "1 to 64 characters, no spaces around"),
    "timeout_s": ((int, float), in_range(0.1, 300)),
    "only_valid": (bool, None),
    "headers": (dict, lambda d: None if all(isinstance(k, str) and isinstance(v, str) for k, v in d.items())
                else "header names and values must be strings"),
}


def _check(url: str, options: dict) -> list[str]:
    out = []
    u = urllib.parse.urlsplit(url or "")
    if u.scheme not in ("http", "https") or not u.hostname:
        out.append(f"url: {url!r} is not an http:// or https:// address")
    out += check_options(options, OPTIONS)
    if "source" not in options:
        out.append("options.source: missing (the station's callsign, required by SIDS)")
    return out


def sids_timestamp(t_unix_s: float) -> str:
    return iso8601_ms(t_unix_s)


def sids_longitude(lon_deg: float) -> str:
    return f"{abs(lon_deg):.5f}{'E' if lon_deg >= 0 else 'W'}"


def sids_latitude(lat_deg: float) -> str:
    return f"{abs(lat_deg):.5f}{'N' if lat_deg >= 0 else 'S'}"


def sids_fields(item, source: str, lat_deg: float, lon_deg: float) -> dict[str, str]:
    """The SIDS fields of one frame, as strings, in the convention's order."""
    from ... import __version__

    rec = item.record
    f = {"noradID": str(int(item.norad)), "source": source, "timestamp": sids_timestamp(item.t_unix_s),
         "frame": item.data.hex().upper(), "locator": "longLat", "longitude": sids_longitude(lon_deg),
         "latitude": sids_latitude(lat_deg)}
    for key, name in (("az_deg", "azimuth"), ("el_deg", "elevation")):
        v = rec.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            f[name] = f"{float(v):.1f}"
    fr = rec.get("freq_hz")
    if isinstance(fr, (int, float)) and not isinstance(fr, bool) and fr > 0:
        dop = rec.get("doppler_hz")
        f["fDown"] = str(int(round(fr + (dop if isinstance(dop, (int, float)) and not isinstance(dop, bool) else 0))))
    f["version"] = f"groundseg {__version__}"
    return f


class SidsSink(Sink):
    kind = "sids"

    def send(self, items):
        o = self.options
        out = []
        for it in items:
            if it.norad is None:
                out.append(Outcome.reject("no NORAD id: SIDS needs noradID"))
                continue
            if o.get("only_valid", True) and it.record.get("crc_ok") is False:
                out.append(SKIPPED)
                continue
            fields = sids_fields(it, o["source"], self.context.lat_deg, self.context.lon_deg)
            body = urllib.parse.urlencode(fields).encode("ascii")
            headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Frame-Id": it.frame_id,
                       "User-Agent": fields["version"].replace(" ", "/")}
            headers.update(o.get("headers", {}))
            req = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(req, timeout=float(o.get("timeout_s", 10.0))) as r:
                    r.read(65536)
                out.append(DELIVERED)
            except urllib.error.HTTPError as e:
                why = f"HTTP {e.code} {e.reason}"
                if e.code in (408, 429) or e.code >= 500:
                    out.append(Outcome.retry(why))
                else:
                    out.append(Outcome.reject(why))
            except (urllib.error.URLError, OSError) as e:
                if not out:  # the server is unreachable: nothing of this batch will get through
                    raise SinkUnavailable(f"{self.url}: {getattr(e, 'reason', e)}") from None
                out += [Outcome.retry(f"{getattr(e, 'reason', e)}")] * (len(items) - len(out))
                break
        return out


register(SinkSpec("sids", "HTTP POST in the SIDS convention (public amateur telemetry databases)",
                  f"{__name__}:SidsSink", _check,
                  {"source": "receiver callsign (required)", "timeout_s": "HTTP timeout",
                   "only_valid": "send only frames whose CRC passed (default true)",
                   "headers": "extra HTTP headers"}))

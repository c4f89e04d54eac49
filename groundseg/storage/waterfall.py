"""Waterfalls: averaged power spectra of the IQ stream, written as rows while a pass runs, drawn after it.

Rows file (``waterfall.f32``): float32 rows of ``nfft + 1`` values: the row's
mid time in seconds after ``t_ref_unix_s``, then the power in dB of each FFT
bin, from the lowest frequency to the highest (``fftshift`` order). Each row
averages ``frames_per_row`` Hann-windowed FFTs of consecutive, non-overlapping
blocks (Welch without overlap). A row is appended and flushed as soon as it is
complete, so a flowgraph that is killed leaves every row it finished.
``waterfall.json`` holds the layout (``nfft``, ``samp_rate_sps``,
``center_freq_hz``, ``t_ref_unix_s``, ``row_s``).

``spectrogram()`` computes the same rows from a whole IQ array (numpy), and
``render_png()`` draws rows with matplotlib's Agg backend (no display needed),
optionally with the predicted Doppler curve on top.
"""
from __future__ import annotations

import json
import os
import pathlib
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import InputError

ROWS = "waterfall.f32"
LAYOUT = "waterfall.json"
_FLOOR = 1e-20


@dataclass(frozen=True)
class Layout:
    nfft: int
    samp_rate_sps: float
    center_freq_hz: float
    t_ref_unix_s: float
    row_s: float

    @property
    def frames_per_row(self) -> int:
        return max(1, int(round(self.row_s * self.samp_rate_sps / self.nfft)))

    def freqs_hz(self) -> np.ndarray:
        """Offset of each bin from the centre frequency (fftshift order)."""
        return np.fft.fftshift(np.fft.fftfreq(self.nfft, 1.0 / self.samp_rate_sps))


def _check_layout(nfft: int, samp_rate_sps: float, row_s: float) -> None:
    if not (16 <= nfft <= 65536) or nfft & (nfft - 1):
        raise InputError(f"waterfall nfft {nfft} must be a power of two in 16..65536")
    if not samp_rate_sps > 0:
        raise InputError(f"waterfall sample rate {samp_rate_sps} must be > 0")
    if not row_s > 0:
        raise InputError(f"waterfall row_s {row_s} must be > 0")


class WaterfallWriter:
    """Feed IQ chunks in stream order; complete rows go to ``<dir>/waterfall.f32`` at once.

    ``stream_t0_unix_s`` is the time of the first sample fed; rows are stamped
    relative to ``t_ref_unix_s`` (the same for every flowgraph run of a pass,
    so a restarted flowgraph appends rows to the same time axis).
    """

    def __init__(self, directory: str | os.PathLike, nfft: int, samp_rate_sps: float, center_freq_hz: float,
                 t_ref_unix_s: float, stream_t0_unix_s: float, row_s: float = 1.0):
        _check_layout(nfft, samp_rate_sps, row_s)
        self.dir = pathlib.Path(directory)
        self.layout = Layout(int(nfft), float(samp_rate_sps), float(center_freq_hz), float(t_ref_unix_s),
                             float(row_s))
        lay = self.dir / LAYOUT
        if lay.exists():  # a restarted flowgraph: keep the first run's layout if it matches
            old = read_layout(self.dir)
            if (old.nfft, old.samp_rate_sps) != (self.layout.nfft, self.layout.samp_rate_sps):
                raise InputError(f"{lay}: existing waterfall has another layout")
            self.layout = old
        else:
            tmp = lay.with_name(lay.name + ".tmp")
            tmp.write_text(json.dumps(asdict(self.layout), indent=2) + "\n")
            os.replace(tmp, lay)
        self._f = open(self.dir / ROWS, "ab")
        self._window = np.hanning(self.layout.nfft).astype(np.float32)
        self._wpow = float(np.sum(self._window ** 2))
        self._pending = np.zeros(0, np.complex64)
        self._acc = np.zeros(self.layout.nfft, np.float64)
        self._nacc = 0
        self._row_first_sample = 0
        self._samples = 0  # samples consumed into FFT frames so far
        self._t0_rel = float(stream_t0_unix_s) - self.layout.t_ref_unix_s
        self.rows = 0

    def feed(self, iq: np.ndarray) -> None:
        n = self.layout.nfft
        x = np.concatenate([self._pending, np.asarray(iq, np.complex64)]) if self._pending.size else \
            np.asarray(iq, np.complex64)
        k = x.size // n
        self._pending = x[k * n:].copy()
        if k == 0:
            return
        spec = np.fft.fft(x[:k * n].reshape(k, n) * self._window, axis=1)
        power = (spec.real ** 2 + spec.imag ** 2) / self._wpow
        i = 0
        fpr = self.layout.frames_per_row
        while i < k:
            take = min(fpr - self._nacc, k - i)
            self._acc += power[i:i + take].sum(axis=0)
            self._nacc += take
            self._samples += take * n
            i += take
            if self._nacc == fpr:
                self._emit()

    def _emit(self) -> None:
        fs = self.layout.samp_rate_sps
        mid = (self._row_first_sample + self._samples) / 2.0 / fs
        row = np.empty(self.layout.nfft + 1, np.float32)
        row[0] = self._t0_rel + mid
        row[1:] = 10.0 * np.log10(np.fft.fftshift(self._acc / self._nacc) + _FLOOR)
        self._f.write(row.tobytes())
        self._f.flush()
        self.rows += 1
        self._acc[:] = 0.0
        self._nacc = 0
        self._row_first_sample = self._samples

    def close(self) -> None:
        if not self._f.closed:
            self._f.close()


def read_layout(directory: str | os.PathLike) -> Layout:
    p = pathlib.Path(directory) / LAYOUT
    try:
        d = json.loads(p.read_text())
        return Layout(int(d["nfft"]), float(d["samp_rate_sps"]), float(d["center_freq_hz"]),
                      float(d["t_ref_unix_s"]), float(d["row_s"]))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise InputError(f"{p}: not a waterfall layout ({type(e).__name__}: {e})") from None


def read_waterfall(directory: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, Layout]:
    """(row times in s after t_ref, power dB [rows, nfft], layout); rows sorted by time."""
    lay = read_layout(directory)
    raw = np.fromfile(pathlib.Path(directory) / ROWS, dtype=np.float32)
    w = lay.nfft + 1
    raw = raw[: (raw.size // w) * w].reshape(-1, w)  # a torn last row is dropped
    order = np.argsort(raw[:, 0], kind="stable")
    raw = raw[order]
    return raw[:, 0].astype(np.float64), raw[:, 1:], lay


def spectrogram(iq: np.ndarray, samp_rate_sps: float, nfft: int = 256, row_s: float = 1.0
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row mid times in s from the first sample, bin offsets in Hz, power dB [rows, nfft]) of a whole array."""
    _check_layout(nfft, samp_rate_sps, row_s)
    lay = Layout(nfft, samp_rate_sps, 0.0, 0.0, row_s)
    fpr = lay.frames_per_row
    n_rows = np.asarray(iq).size // (nfft * fpr)
    x = np.asarray(iq, np.complex64)[: n_rows * nfft * fpr].reshape(n_rows, fpr, nfft)
    w = np.hanning(nfft).astype(np.float32)
    spec = np.fft.fft(x * w, axis=2)
    p = (spec.real ** 2 + spec.imag ** 2).mean(axis=1) / float(np.sum(w ** 2))
    db = 10.0 * np.log10(np.fft.fftshift(p, axes=1) + _FLOOR)
    t = (np.arange(n_rows) + 0.5) * fpr * nfft / samp_rate_sps
    return t, lay.freqs_hz(), db


def render_png(path: str | os.PathLike, t_s: np.ndarray, freqs_hz: np.ndarray, db: np.ndarray, *,
               title: str = "", t_label: str = "time (s)", doppler: tuple[np.ndarray, np.ndarray] | None = None,
               marks_s: list[float] | None = None) -> pathlib.Path:
    """Draw a waterfall (time down, frequency across) to a PNG with matplotlib's Agg backend.

    ``doppler``: (times in s on the same axis, offset in Hz) drawn as a dashed
    line; ``marks_s``: times of decoded frames, ticked on the right edge.
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    path = pathlib.Path(path)
    if db.size == 0:
        raise InputError("waterfall: no rows to draw")
    fig = Figure(figsize=(8, 6), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    lo, hi = np.percentile(db, 5), np.percentile(db, 99.5)
    dt = float(np.median(np.diff(t_s))) if t_s.size > 1 else 1.0
    df = float(freqs_hz[1] - freqs_hz[0]) if freqs_hz.size > 1 else 1.0
    extent = (freqs_hz[0] / 1e3 - df / 2e3, freqs_hz[-1] / 1e3 + df / 2e3, t_s[-1] + dt / 2, t_s[0] - dt / 2)
    im = ax.imshow(db, aspect="auto", extent=extent, vmin=lo, vmax=max(hi, lo + 1.0), cmap="viridis",
                   interpolation="nearest")
    if doppler is not None:
        dt_s, dhz = doppler
        ax.plot(np.asarray(dhz) / 1e3, dt_s, "w--", lw=0.8, alpha=0.8, label="predicted Doppler")
        ax.legend(loc="lower right", fontsize=8)
    if marks_s:
        x = np.full(len(marks_s), freqs_hz[-1] / 1e3)
        ax.plot(x, marks_s, "r<", ms=4, label="frames")
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_xlabel("frequency offset (kHz)")
    ax.set_ylabel(t_label)
    if title:
        ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, label="power (dB)")
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}.png")
    fig.savefig(tmp, format="png")
    os.replace(tmp, path)
    return path

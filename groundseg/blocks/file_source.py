"""A file source that reads a recording with numpy and ends with a little silence.

GNU Radio's own file sources stop dead at the last sample, so a demodulator
that looks ahead (feed-forward timing, interpolating filters) never sees the
last frame of a file through. This source pads the end with ``tail_s`` of
zeros. Samples are read with ``numpy.memmap`` in large chunks and converted to
float32 or complex64 in one vectorised step per call.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from gnuradio import gr

# WAV sample formats: (format tag, bits) -> numpy dtype of one sample
_WAV_DTYPES = {(1, 8): np.uint8, (1, 16): np.dtype("<i2"), (1, 32): np.dtype("<i4"),
               (3, 32): np.dtype("<f4"), (3, 64): np.dtype("<f8")}

# Raw IQ datatypes: numpy dtype of one component
_IQ_DTYPES = {"cf32_le": np.dtype("<f4"), "ci16_le": np.dtype("<i2"), "ci8": np.int8, "cu8": np.uint8}


def _scale(raw: np.ndarray, out_dtype) -> np.ndarray:
    """Integer samples to [-1, 1) floats; floats unchanged."""
    if raw.dtype == np.uint8:
        return ((raw.astype(np.float32) - 127.5) / 128.0).astype(out_dtype, copy=False)
    if raw.dtype.kind == "i":
        full = float(1 << (8 * raw.dtype.itemsize - 1))
        return (raw.astype(np.float32) / full).astype(out_dtype, copy=False)
    return raw.astype(out_dtype, copy=False)


class array_source(gr.sync_block):
    """Source of ``n_items`` items produced by ``read(start, count)``, then ``tail`` zeros."""

    def __init__(self, read: Callable[[int, int], np.ndarray], n_items: int, complex_: bool,
                 tail_items: int = 0, name: str = "groundseg_file_source"):
        dt = np.complex64 if complex_ else np.float32
        gr.sync_block.__init__(self, name=name, in_sig=None, out_sig=[dt])
        self._read = read
        self._n = int(n_items)
        self._end = int(n_items) + int(tail_items)
        self._pos = 0

    def work(self, input_items, output_items):
        out = output_items[0]
        if self._pos >= self._end:
            return -1  # WORK_DONE
        k = min(len(out), self._end - self._pos)
        real = max(0, min(k, self._n - self._pos))
        if real:
            out[:real] = self._read(self._pos, real)
        if real < k:
            out[real:k] = 0
        self._pos += k
        return k


def wav_reader(path: str, data_offset: int, channels: int, fmt: int, bits: int,
               n_frames: int, channel: int | None, iq: bool):
    """``read(start, count)`` over a WAV file's data: one channel, or I/Q from two."""
    if bits == 24:
        raw = np.memmap(path, dtype=np.uint8, mode="r", offset=data_offset,
                        shape=(n_frames * channels * 3,))

        def frames(start, count):
            b = np.asarray(raw[start * channels * 3:(start + count) * channels * 3]).reshape(-1, 3)
            v = (b[:, 0].astype(np.int32) | (b[:, 1].astype(np.int32) << 8) | (b[:, 2].astype(np.int32) << 16))
            v = np.where(v >= 1 << 23, v - (1 << 24), v).astype(np.float32) / float(1 << 23)
            return v.reshape(count, channels)
    else:
        dtype = _WAV_DTYPES[(fmt, bits)]
        raw = np.memmap(path, dtype=dtype, mode="r", offset=data_offset, shape=(n_frames, channels))

        def frames(start, count):
            return _scale(np.asarray(raw[start:start + count]), np.float32)

    if iq:
        def read(start, count):
            f = frames(start, count)
            return (f[:, 0] + 1j * f[:, 1]).astype(np.complex64)
    else:
        ch = channel or 0

        def read(start, count):
            return np.ascontiguousarray(frames(start, count)[:, ch], dtype=np.float32)
    return read


def iq_reader(path: str, datatype: str, n_samples: int, offset_bytes: int = 0):
    """``read(start, count)`` over an interleaved I/Q file."""
    dtype = np.dtype(_IQ_DTYPES[datatype])
    raw = np.memmap(path, dtype=dtype, mode="r", offset=offset_bytes, shape=(n_samples, 2))

    def read(start, count):
        v = np.asarray(raw[start:start + count])
        if datatype == "cf32_le":
            return v.view(np.dtype("<c8")).reshape(-1).astype(np.complex64, copy=False)
        f = _scale(v, np.float32)
        return (f[:, 0] + 1j * f[:, 1]).astype(np.complex64)
    return read

"""Fuzz every deframer of the framing registry with the options the catalog uses.

One boundary per framing (``deframer.<name>``), one test per (framing,
options): the defaults, plus each distinct option set of the seed catalog's
transmitters. Inputs, in chunks of random sizes (empty ones too), then
``flush()``:

* random soft symbols (small, unit and huge spread), constant streams (all
  zeros, all ones either sign, alternating);
* NaN, +inf, -inf, 3e38, 1e-38 and -0.0 sprinkled over noise or over a real
  frame;
* real frames from the framing's own framer (random payloads), truncated
  anywhere, followed by garbage (a valid sync and whatever follows), with
  bits flipped, inverted, scaled, back to back.

Contract checked: no exception; every result a ``Frame`` (bytes data, an
``end_symbol`` inside what was fed, ``crc_ok`` True/False/None, FEC counts
non-negative); its metadata goes into a PDU (``pmt``) and into the JSON
line ``groundseg decode`` prints; and a frame marked valid (``crc_ok``
True, without soft repair) that came out of a mutated real frame carries
the payload that was sent (a failed check must never come out as a valid
frame). A deterministic sweep adds every framing's real sync followed by
silence, NaN, a tiny or an infinite constant (a carrier) from every tenth
of the frame on.
"""
from __future__ import annotations

import functools
import json

import numpy as np
import pytest
from hypothesis import given, strategies as st

from groundseg.blocks.deframer_sink import frame_to_meta
from groundseg.errors import InputError
from groundseg.framing import load_all
from groundseg.framing.base import Frame

from ._harness import attempt, fuzz_settings

FRAMINGS = load_all()
MAX_SYMBOLS = 6000
PROBE_LENGTHS = (1, 17, 18, 38, 40, 48, 64, 96, 128, 223, 256)


def configs() -> list[tuple[str, tuple]]:
    """(framing, options) to fuzz: each framing with its defaults, plus the catalog's option sets."""
    from groundseg.catalog import load_catalog

    out = {(name, ()) for name in FRAMINGS.names()}
    for sat in load_catalog():
        for tx in sat.transmitters:
            if tx.framing in FRAMINGS and tx.options:
                out.add((tx.framing, tuple(sorted(tx.options.items()))))
    return sorted(out, key=lambda c: (c[0], repr(c[1])))


CONFIGS = configs()
# framer-only options a framing needs to build real frames
_FRAMER_EXTRA = {"Mobitex-NX": {"callsign": "DP0BEM"}}


@functools.lru_cache(maxsize=None)
def profile(name: str, options: tuple):
    """The framer for real frames and the payload lengths it accepts (None: no framer can be built)."""
    spec = FRAMINGS.get(name)
    opts = dict(options)
    try:
        framer = spec.make_framer(**{**_FRAMER_EXTRA.get(name, {}), **opts})
    except (InputError, NotImplementedError, TypeError):
        return None
    lengths = [n for n in {*PROBE_LENGTHS, opts.get("frame_size", 0)} if n] if name != "CCSDS TC" else [8, 40]
    ok = []
    for n in sorted(lengths):
        try:
            framer.frame(_payload(name, bytes(n)))
            ok.append(n)
        except (InputError, ValueError):
            pass
    return (framer, tuple(ok)) if ok else None


def _payload(name: str, data: bytes) -> bytes:
    if name == "CCSDS TC":
        from groundseg.uplink.tc import TcFrame

        return TcFrame(scid=0x1AB, vcid=3, seq=len(data) & 0xFF, data=data or b"\x00").encode()
    return data


SPECIALS = (np.nan, np.inf, -np.inf, 3e38, -3e38, 1e-38, -0.0)


@st.composite
def soft_inputs(draw, name: str, options: tuple):
    """(soft symbols float32, chunk sizes, payload of the real frame in them or None)."""
    prof = profile(name, options)
    kind = draw(st.integers(0, 9)) if prof else draw(st.integers(0, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    n = draw(st.integers(0, MAX_SYMBOLS))
    payload = None
    if kind == 0:
        x = rng.normal(scale=draw(st.sampled_from([0.05, 1.0, 30.0])), size=n)
    elif kind == 1:
        x = np.full(n, draw(st.sampled_from([0.0, 1.0, -1.0, 1e-30])))
        if draw(st.booleans()):
            x[::2] *= -1
    elif kind in (2, 3):
        x = rng.normal(size=n)
    else:
        framer, lengths = prof
        payload = _payload(name, rng.integers(0, 256, draw(st.sampled_from(lengths)), dtype=np.uint8).tobytes())
        bits = framer.frame(payload).astype(np.float32)
        frame = (2.0 * bits - 1.0) * draw(st.sampled_from([1.0, 1.0, 0.3, 40.0]))
        lead = rng.normal(scale=0.3, size=draw(st.integers(0, 200)))
        if kind == 4:  # truncated anywhere
            frame = frame[:draw(st.integers(0, len(frame)))]
        elif kind == 5:  # a valid start (preamble and sync) then garbage
            frame = np.concatenate([frame[:draw(st.integers(0, max(1, len(frame) // 3)))],
                                    rng.choice([-1.0, 1.0], size=draw(st.integers(0, len(frame))))])
        elif kind == 6:  # bits flipped
            flips = rng.integers(0, len(frame), draw(st.integers(1, 40)))
            frame[flips] *= -1
        elif kind == 7:  # inverted and noisy
            frame = -frame + rng.normal(scale=0.4, size=len(frame))
        elif kind == 8:  # twice, the second copy cut short
            frame = np.concatenate([frame, frame[:draw(st.integers(0, len(frame)))]])
        x = np.concatenate([lead, frame, rng.normal(scale=0.3, size=draw(st.integers(0, 64)))])[:4 * MAX_SYMBOLS]
    x = x.astype(np.float32)
    if kind in (3, 9) or draw(st.integers(0, 7)) == 0:  # special values over noise or a real frame
        if len(x):
            idx = rng.integers(0, len(x), draw(st.integers(1, 30)))
            x[idx] = draw(st.sampled_from(SPECIALS))
            if draw(st.integers(0, 3)) == 0:
                x[draw(st.integers(0, len(x) - 1)):] = draw(st.sampled_from(SPECIALS))
    chunks = draw(st.lists(st.integers(0, 1500), max_size=6))
    return x, chunks, payload


def _feed(deframer, x: np.ndarray, chunks: list[int]) -> list[Frame]:
    out, pos = [], 0
    for c in chunks:
        out += deframer.process(x[pos:pos + c])
        pos += min(c, max(0, len(x) - pos))
    out += deframer.process(x[pos:])
    out += deframer.flush()
    return out


def _check_frames(frames, n_symbols: int, payload: bytes | None) -> None:
    import pmt

    assert isinstance(frames, list)
    for f in frames:
        assert isinstance(f, Frame), type(f)
        assert isinstance(f.data, (bytes, bytearray)), type(f.data)
        assert f.crc_ok in (True, False, None), f.crc_ok
        assert f.corrected is None or int(f.corrected) >= 0
        assert int(f.repaired_bits) >= 0
        assert isinstance(f.meta, dict)
        assert 0 <= int(f.end_symbol) <= n_symbols + 1, (f.end_symbol, n_symbols)
        meta = frame_to_meta(f, time_s=float(f.end_symbol) / 9600.0, extra={"framing": "x"})
        pmt.to_pmt(meta)
        json.dumps({**meta, "hex": bytes(f.data).hex()})
        if payload is not None and f.crc_ok is True and not f.repaired_bits:
            # Block framings (Mobitex) deliver blocks of the payload, the last one padded with zeros.
            # Frames made valid by soft repair (bits flipped until the CRC passes) are exempt: their
            # false-positive rate is a documented trade-off of each framing (2^-16 per combination).
            assert bytes(f.data) in payload + bytes(256), \
                f"a frame marked valid that was not sent: {bytes(f.data).hex()[:80]}"


def _run(name: str, options: tuple, x: np.ndarray, chunks: list[int], payload):
    d = FRAMINGS.get(name).make_deframer(**dict(options))
    frames = _feed(d, x, chunks)
    _check_frames(frames, len(x), payload)
    return frames


@pytest.mark.parametrize("name, options", CONFIGS, ids=[f"{n}{dict(o) if o else ''}" for n, o in CONFIGS])
def test_deframer(name, options):
    @fuzz_settings(60)
    @given(soft_inputs(name, options))
    def fuzz(inp):
        x, chunks, payload = inp
        attempt(f"deframer.{name}", _run, name, options, x, chunks, payload, allowed=(), limit_s=30.0,
                show=(name, options, x.tolist() if len(x) <= 64 else f"{len(x)} symbols", chunks, payload))

    fuzz()


def test_every_framing_builds_real_frames_for_the_fuzz():
    """The fuzz reaches past the sync of every framing (its framer makes the real frames it mutates)."""
    missing = [name for name in FRAMINGS.names() if profile(name, ()) is None]
    assert missing == [], missing


FILLS = (0.0, np.nan, np.inf, -np.inf, 1e-30)


def _sweep(name: str, options: tuple) -> list:
    framer, lengths = profile(name, options)
    rng = np.random.default_rng(11)
    bad = []
    for n in lengths[:2]:
        payload = _payload(name, rng.integers(0, 256, n, dtype=np.uint8).tobytes())
        soft = 2.0 * framer.frame(payload).astype(np.float32) - 1.0
        for fill in FILLS:
            for frac in np.linspace(0.0, 0.95, 12):
                x = soft.copy()
                x[int(frac * len(x)):] = fill
                x = np.concatenate([np.zeros(30, np.float32), x, np.full(300, fill, np.float32)])
                frames = _feed(FRAMINGS.get(name).make_deframer(**dict(options)), x, [])
                try:
                    _check_frames(frames, len(x), payload)
                except AssertionError as e:
                    bad.append((fill, round(float(frac), 2), str(e)[:80]))
    return bad


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name, options", CONFIGS, ids=[f"{n}{dict(o) if o else ''}" for n, o in CONFIGS])
def test_sync_then_silence_nan_or_carrier_is_never_a_valid_frame(name, options):
    bad = attempt(f"deframer.{name}", _sweep, name, options, allowed=(), limit_s=60.0)[0]
    assert bad == [], bad


@pytest.mark.parametrize("fill", [0.0, np.nan, 1.0, -1.0])
@pytest.mark.parametrize("name", ["CCSDS Reed-Solomon", "CCSDS Concatenated"])
def test_ccsds_sync_followed_by_a_constant_is_not_a_frame(name, fill):
    """An ASM followed by silence (or NaN, or a carrier) came out as a 'valid' frame holding the CCSDS
    randomizer sequence: the derandomized constant codeblock is a Reed-Solomon codeword."""
    framer = FRAMINGS.get(name).make_framer()
    soft = 2.0 * framer.frame(bytes(range(223))).astype(np.float32) - 1.0
    x = np.concatenate([np.zeros(30, np.float32), soft[:96], np.full(len(soft), fill, np.float32)])
    frames = _feed(FRAMINGS.get(name).make_deframer(), x, [])
    assert [f for f in frames if f.crc_ok] == []

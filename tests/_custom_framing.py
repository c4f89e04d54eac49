"""Helpers for the satellite-specific framing tests (3CAT-1, Reaktor, Astrocast, S-NET,
Swiatowid, AAUSAT-4, OPS-SAT): soft symbols, streaming runs, corpus decoding."""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import strategies as st

CHUNKINGS = [1, 7, 64, 1000, 4096, None]


def soft(bits, rng=None, noise: float = 0.0, invert: bool = False) -> np.ndarray:
    """Channel bits -> +-1 soft symbols, optionally with Gaussian noise (sigma ``noise``)."""
    s = 2.0 * np.asarray(bits, np.float32) - 1.0
    if invert:
        s = -s
    if rng is not None and noise:
        s = s + noise * rng.standard_normal(len(s)).astype(np.float32)
    return s.astype(np.float32)


def run(deframer, s: np.ndarray, chunk: int | None = None) -> list:
    out = []
    if chunk is None:
        out += deframer.process(s)
    else:
        for i in range(0, len(s), chunk):
            out += deframer.process(s[i:i + chunk])
    return out + deframer.flush()


def noise_bits(rng, n: int) -> np.ndarray:
    return rng.integers(0, 2, n).astype(np.uint8)


def flip(bits: np.ndarray, positions) -> np.ndarray:
    b = np.array(bits, dtype=np.uint8)
    b[list(positions)] ^= 1
    return b


# hypothesis: what must never give a frame nor raise
garbage_streams = st.one_of(
    st.binary(min_size=0, max_size=3000).map(lambda b: np.unpackbits(np.frombuffer(b, np.uint8))),
    st.integers(0, 20000).map(lambda n: np.zeros(n, np.uint8)),
    st.integers(0, 20000).map(lambda n: np.ones(n, np.uint8)),
)


def recordings(framing: str) -> list:
    """pytest params: the corpus recordings with a transmitter of ``framing``."""
    from groundseg.corpus import default_corpus_dir
    path = default_corpus_dir() / "manifest.json"
    if not path.is_file():
        return [pytest.param(None, marks=pytest.mark.corpus, id=f"{framing}-no-corpus")]
    recs = json.loads(path.read_text())["recordings"]
    return [pytest.param(r, id=r["file"], marks=pytest.mark.corpus) for r in recs
            if any(t.get("framing") == framing for t in r.get("transmitters", []))]


def decode_recording(corpus, rec, framings: set[str]) -> list[dict]:
    """Frames of ``framings`` that ``groundseg.decode`` gets from a recording with the catalog."""
    from groundseg.blocks.sources import SourceSpec
    from groundseg.decode import chains_for_norad, decode
    chains, _ = chains_for_norad(int(rec["norad"]))
    chains = [c for c in chains if c.transmitter.framing in framings]
    assert chains, f"no catalog transmitter with framing {framings} for {rec['satellite']}"
    res = decode(SourceSpec(kind="wav", path=str(corpus / rec["file"])), chains)
    return [f for f in res.frames if f["framing"] in framings]

"""Decode every recording of a corpus manifest and compare with its reference counts."""
from __future__ import annotations

import concurrent.futures as cf
import json
import multiprocessing as mp
import os
import pathlib
from dataclasses import dataclass

from .errors import InputError


def default_corpus_dir() -> pathlib.Path:
    env = os.environ.get("GROUNDSEG_CORPUS")
    if env:
        return pathlib.Path(env)
    return pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "recordings"


def load_manifest(corpus_dir: str | os.PathLike) -> list[dict]:
    d = pathlib.Path(corpus_dir)
    path = d / "manifest.json"
    if not path.is_file():
        raise InputError(f"{d}: no manifest.json (is this a recordings corpus?)")
    try:
        doc = json.loads(path.read_text())
        recs = doc["recordings"]
        for r in recs:
            r["file"], r["norad"], int(r.get("reference_frames", 0))
    except (ValueError, KeyError, TypeError) as e:
        raise InputError(f"{path}: not a valid corpus manifest ({type(e).__name__}: {e})") from None
    return recs


@dataclass
class CorpusRow:
    file: str
    satellite: str
    reference: int
    decoded: int
    seconds: float
    wall_s: float
    error: str = ""
    skipped: int = 0


def decode_recording(corpus_dir: str, rec: dict) -> CorpusRow:
    """Decode one recording with every catalog transmitter of its satellite."""
    from .blocks.sources import SourceSpec
    from .decode import chains_for_norad, decode
    from .errors import GroundsegError

    ref = int(rec.get("reference_frames", 0))
    row = CorpusRow(rec["file"], rec.get("satellite", ""), ref, 0, float(rec.get("seconds", 0)), 0.0)
    try:
        chains, skipped = chains_for_norad(int(rec["norad"]))
        row.skipped = len(skipped)
        if not chains:
            row.error = "no supported transmitter"
            return row
        path = str(pathlib.Path(corpus_dir) / rec["file"])
        res = decode(SourceSpec(kind="wav", path=path), chains)
        row.decoded = len(res.frames)
        row.wall_s = res.wall_s
    except GroundsegError as e:
        row.error = str(e)
    return row


def run_corpus(corpus_dir: str | os.PathLike, jobs: int | None = None, only: list[str] | None = None):
    """Yield a ``CorpusRow`` per recording as each finishes (largest files first)."""
    recs = load_manifest(corpus_dir)
    if only:
        recs = [r for r in recs if r["file"] in only or r["file"].rsplit(".", 1)[0] in only]
    d = pathlib.Path(corpus_dir)
    recs.sort(key=lambda r: -(d / r["file"]).stat().st_size if (d / r["file"]).exists() else 0)
    jobs = jobs or os.cpu_count() or 1
    if jobs == 1:
        for r in recs:
            yield decode_recording(str(d), r)
        return
    ctx = mp.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as ex:
        futs = [ex.submit(decode_recording, str(d), r) for r in recs]
        for f in cf.as_completed(futs):
            yield f.result()

"""Every recording of the corpus decodes at least its reference frame count.

The reference is what gr-satellites 4.4 decodes from the file (manifest.json).
The whole corpus is decoded once (``groundseg.corpus.run_corpus``, the code
behind ``groundseg corpus``) and each file is asserted on its own.
"""
import json

import pytest

from conftest import corpus_dir

pytestmark = pytest.mark.corpus


def _manifest():
    p = corpus_dir() / "manifest.json"
    return json.loads(p.read_text())["recordings"] if p.is_file() else []


RECORDINGS = _manifest()


@pytest.fixture(scope="module")
def results(corpus):
    from groundseg.corpus import run_corpus
    return {row.file: row for row in run_corpus(str(corpus), jobs=2)}


@pytest.mark.parametrize("rec", RECORDINGS, ids=[r["file"] for r in RECORDINGS])
def test_recording_meets_reference(results, rec):
    row = results[rec["file"]]
    assert row.error == "" or row.decoded >= row.reference, row.error
    assert row.decoded >= rec["reference_frames"]


def test_corpus_total_beats_reference(results, corpus):
    assert len(results) == len(RECORDINGS) >= 40
    decoded = sum(r.decoded for r in results.values())
    reference = sum(r.reference for r in results.values())
    with_frames = sum(1 for r in results.values() if r.decoded)
    assert decoded > reference
    assert with_frames > sum(1 for r in results.values() if r.reference)


def test_corpus_command_prints_the_scoreboard(corpus):
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-m", "groundseg.cli", "corpus", str(corpus),
                          "--only", "us01.wav", "--only", "ty_2.wav"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    last = out.stdout.strip().splitlines()[-1]
    assert last.startswith("corpus: 2 recordings with frames (reference 2), ")

"""`make demo`'s program decodes every frame it sends (self-contained: no corpus)."""
import subprocess
import sys


def test_demo_decodes_all_frames_it_sends():
    out = subprocess.run([sys.executable, "-m", "groundseg.cli", "demo"], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    last = out.stdout.strip().splitlines()[-1]
    assert last.startswith("demo: decoded 24 of 24 frames"), out.stdout[-2000:]
    assert out.stdout.count("GSEG1-1>CQ") == 24

"""`make demo`'s program: the station flies one simulated pass on its embedded default and says so."""
import json
import os
import re
import stat
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_demo_flies_a_pass_and_decodes_every_frame_sent_in_view(tmp_path):
    work = tmp_path / "demo"
    (work / "passes").mkdir(parents=True)
    stale = work / "passes" / "left-over-from-last-run"
    stale.write_text("x")
    out = subprocess.run([sys.executable, "-m", "groundseg.cli", "demo", "--workdir", str(work),
                          "--metrics-port", "0"], capture_output=True, text=True, timeout=400, cwd=ROOT)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    lines = out.stdout.strip().splitlines()
    verdict = lines[-1]
    m = re.fullmatch(r"demo: OK: pass (\S+) completed, decoded (\d+) of (\d+) frames sent in view; "
                     r"report (\S+), waterfall (\S+)", verdict)
    assert m, out.stdout[-3000:]
    pass_id, decoded, in_view = m.group(1), int(m.group(2)), int(m.group(3))
    assert in_view > 10 and decoded == in_view

    # the evidence is where the summary says, and agrees with it
    report = json.loads(open(m.group(4)).read())
    assert report["pass_id"] == pass_id and report["state"] == "completed"
    assert report["simulation"]["decoded_in_view"] == decoded == report["simulation"]["in_view"]
    assert open(m.group(5), "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    frames = [json.loads(x) for x in (work / "passes" / pass_id / "frames.jsonl").read_text().splitlines()]
    assert len(frames) >= decoded
    # the frames were printed as they decoded
    assert sum(1 for x in lines if "  frame " in x) == len(frames)
    # the file gateway sink forwarded them all into the work directory
    forwarded = sum(len(p.read_text().splitlines()) for p in (work / "frames").rglob("*") if p.is_file())
    assert forwarded == len(frames)

    # a fresh state each run, the CURVE keys made once and kept secret
    assert not stale.exists()
    keys = work / "keys"
    for secret in ("server.key_secret", "demo-operator.key_secret"):
        assert stat.S_IMODE((keys / secret).stat().st_mode) == 0o600
    assert (keys / "clients" / "operator" / "demo-operator.key").exists()
    assert "key_secret" not in "".join(x for x in lines if "frame" in x)

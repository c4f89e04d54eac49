"""The README's promises: its two commands, and its registry tables in step with the code."""
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_readme_tables_match_the_registries():
    out = subprocess.run([sys.executable, str(ROOT / "tools" / "update_readme.py"), "--check"])
    assert out.returncode == 0, "README tables are stale: run tools/update_readme.py"


def test_readme_shows_both_commands_and_ci_runs_make_test():
    text = (ROOT / "README.md").read_text()
    assert "make test" in text and "make demo" in text
    assert "make test" in (ROOT / ".ci" / "run").read_text()

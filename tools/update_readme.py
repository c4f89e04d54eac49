"""Regenerate the README's registry tables (between <!-- list:KIND --> and <!-- end -->).

    .venv/bin/python tools/update_readme.py          # rewrite README.md
    .venv/bin/python tools/update_readme.py --check  # exit 1 if it is out of date
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from groundseg.cli import list_markdown  # noqa: E402

BLOCK = re.compile(r"(<!-- list:(\w+) -->\n)(.*?)(<!-- end -->)", re.S)


def render(text: str) -> str:
    return BLOCK.sub(lambda m: m.group(1) + list_markdown(m.group(2)) + m.group(4), text)


def main(argv) -> int:
    path = ROOT / "README.md"
    text = path.read_text()
    new = render(text)
    if "--check" in argv:
        return 0 if new == text else 1
    path.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

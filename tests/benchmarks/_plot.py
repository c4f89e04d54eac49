"""Plot set-up shared by the benchmarks: matplotlib without a display, figures into bench-out/."""
from __future__ import annotations

import pathlib

OUT = pathlib.Path(__file__).resolve().parents[2] / "bench-out"


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (matplotlib comes from Debian's python3-matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    OUT.mkdir(exist_ok=True)
    return plt

"""``python -m groundseg.control.daemon [groundseg station options]``: the station daemon with its control plane.

``groundseg station --config FILE`` is the daemon; its control plane starts
from the ``[control]`` section. Until ``groundseg/station.py`` starts it
itself (the hook asked for: in ``cmd_station``, after the ``Station`` is
made, ``control = groundseg.control.start_control_plane(station)``, closed
before ``station.close()``; ``station.run(..., max_idle_s=math.inf)`` and no
idle skipping in a simulation while a control plane is up), this entry point
runs ``cmd_station`` unchanged with ``station_api.ControlledStation`` in
place of ``Station``, which does exactly that. The options are those of
``groundseg station``.
"""
from __future__ import annotations

import argparse
import sys

from ..errors import GroundsegError


def main(argv: list[str] | None = None) -> int:
    from .. import station as st
    from . import settings  # noqa: F401 - the [control] section parser, before the file is read
    from .station_api import _station_class

    p = argparse.ArgumentParser(prog="python -m groundseg.control.daemon")
    sub = p.add_subparsers(dest="command")
    st.add_cli(sub)
    args = p.parse_args(["station", *(sys.argv[1:] if argv is None else argv)])
    original = st.Station
    st.Station = _station_class()
    try:
        return int(st.cmd_station(args) or 0)
    except GroundsegError as e:
        print(f"groundseg: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    finally:
        st.Station = original


if __name__ == "__main__":
    sys.exit(main())

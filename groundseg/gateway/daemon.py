"""``python -m groundseg.gateway.daemon [groundseg station options]``: the station daemon with its gateway.

Until ``groundseg/station.py`` attaches the gateway itself (the hook asked
for: in ``cmd_station``, ``import groundseg.gateway`` before the
configuration is read, so that the ``[gateway]`` section parser is
registered; right after ``Station(...)`` and before any other subscriber,
``gateway = attach_gateway(station, config)``; ``gateway.close()`` before
``station.close()``), this entry point runs ``cmd_station`` unchanged with
a ``Station`` subclass that does exactly that. The uplink service is
attached the same way when the configuration has an ``[uplink]`` section.
The options are those of ``groundseg station``.
"""
from __future__ import annotations

import argparse
import sys

from ..errors import GroundsegError


def station_class(base):
    class GatewayStation(base):
        """A Station whose frames go through the gateway's outbox (attached before anything subscribes)."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            from .wiring import attach_gateway

            self.gateway = attach_gateway(self, self.config)
            self.uplink = None
            try:
                from ..uplink.wiring import attach_uplink

                self.uplink = attach_uplink(self, self.config)
            except BaseException:
                self.gateway.close()
                raise

        def close(self):
            try:
                if self.uplink is not None:
                    self.uplink.close()
                self.gateway.close()
            finally:
                super().close()

    return GatewayStation


def main(argv: list[str] | None = None) -> int:
    from .. import station as st
    from .. import gateway  # noqa: F401 - the [gateway] section parser, before the file is read
    from .. import uplink  # noqa: F401 - the [uplink] section parser

    p = argparse.ArgumentParser(prog="python -m groundseg.gateway.daemon")
    sub = p.add_subparsers(dest="command")
    st.add_cli(sub)
    args = p.parse_args(["station", *(sys.argv[1:] if argv is None else argv)])
    original = st.Station
    st.Station = station_class(original)
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

"""Remote control of the station over ZeroMQ: requests, live events and frames, CURVE authentication.

Contract
--------
In: JSON requests on a ROUTER socket (``[control] endpoint``), each
``{"v", "id", "cmd", "args"}`` from a DEALER/REQ client, and the station's
events (``groundseg.station.EventBus``). Out: exactly one JSON reply per
well-formed request (``{"ok": true, "result"}`` or ``{"ok": false, "error":
{"code", "message", "details"}}``), and events on a PUB socket
(``[control] pub_endpoint``) as ``[topic, json]``: ``station.state``,
``plan``, ``pass.state``, ``pass.report``, ``frame.<norad>``, ``doppler``,
``radio``, ``rotator``, ``warning``, ``error``, ``heartbeat``. Messages
that are not ``[identity, b"", payload]`` are dropped and counted; nothing a
client sends stops the server. See PROTOCOL.md for the protocol and every
command.

Security: CURVE with pyzmq's ZAP authenticator. The station has a keypair;
allowed client public keys live in ``<keys_dir>/clients/<role>/``; a key not
there gets no connection. Roles: ``readonly`` (read commands, events) and
``operator`` (everything). Plain mode only when configured, and only on
ipc:// or loopback. Secret key files are 0600 and never logged or sent.

Modules: ``protocol`` (envelope, versions, error codes, limits), ``schema``
(argument schemas), ``commands`` (the command registry: schema, role, docs,
handler), ``settings`` (the [control] section), ``auth`` (key policy and its
ZAP driver), ``keys`` (key files and ``groundseg keys``), ``station_api``
(the adapter to ``Station``), ``server`` (ROUTER + PUB in a thread),
``client`` (``Client`` with lazy-pirate retries, ``Subscriber``), ``ctl``
(``groundsegctl``), ``testing`` (keys, free ports and a simulated daemon for
tests and benchmarks). The station daemon, ``groundseg station``
(``groundseg.station.cmd_station``), starts the control plane with
``start_control_plane(station)`` when the configuration has a ``[control]``
section.
"""
from . import settings as _settings  # noqa: F401 - registers the [control] config section


def start_control_plane(station, settings=None):
    """Start the control plane of a ``Station`` from its [control] section (None when disabled)."""
    from .server import start_control_plane as _start

    return _start(station, settings)


def __getattr__(name):
    if name in ("Client", "Subscriber", "Credentials", "RemoteError", "ControlUnavailable", "KeyRefused"):
        from . import client

        return getattr(client, name)
    if name == "ControlServer":
        from .server import ControlServer

        return ControlServer
    raise AttributeError(name)


def add_cli(sub) -> None:
    """``groundseg keys`` and ``groundseg ctl``."""
    from . import ctl, keys

    keys.add_cli(sub)
    ctl.add_cli(sub)

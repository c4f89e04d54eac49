"""Uplink: telecommands queued through the control plane, framed, modulated, Doppler pre-compensated, sent.

Contract
--------
In: ``UplinkService.queue_telecommand(pass_id, payload, framing, role, who,
...)`` (what the control plane's ``uplink.queue`` command calls). Out: one
burst of complex baseband per telecommand to an SDR sink (UHD through GNU
Radio; a file or ZeroMQ sink without hardware), and one line per
transmission in the transmission log (what was sent, when, how).

Policy (``policy.py``), checked when a telecommand is queued and again at
the moment it would be sent; each refusal is a clear one-line error with a
code (``forbidden``, ``refused``, ``not_found``, ``invalid``) and nothing is
transmitted:

* only a client with the ``operator`` role may queue;
* only when ``[uplink] transmit_enabled = true``;
* only against a known pass, and only inside it (between its AOS and LOS,
  the pass not cancelled, failed or over);
* only with the satellite at least ``[uplink] min_el_deg`` high (at queue
  time the pass must culminate above it; at send time the satellite must be
  above it from the start to the end of the burst).

Stages (one module each): ``tc`` (CCSDS TC transfer frame, CLTU with
BCH(63,56), randomiser; the "CCSDS TC" framing of the framing registry,
framer and a deframer for monitoring/loopback, is
``groundseg.framing.ccsds_tc``), ``framing`` (a telecommand payload to a
frame and channel bits: AX.25 UI, AX.25 G3RUH, CCSDS TC), ``burst`` (channel bits to baseband with our
modulators, ``groundseg.dsp.modulation``), ``doppler`` (uplink
pre-compensation: the carrier offset ``DopplerModel.offset_hz(f,
t, "uplink")`` applied sample by sample so that the satellite hears the
nominal frequency), ``sdr`` (sinks: ``file``, ``zmq``, ``uhd``), ``txlog``
(the transmission log), ``queue`` (the persistent queue), ``service``
(queueing, the send loop), ``commands`` (control-plane command
definitions), ``wiring`` (``attach_uplink(station, config)``). The
``[uplink]`` section is parsed by ``settings``.
"""
from __future__ import annotations

from . import settings as _settings  # noqa: F401 - registers the [uplink] config section

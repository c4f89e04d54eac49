"""The pass simulator: a satellite pass over the station as the SDR would record it.

Contract:

* In: a real element set (``orbit.ElementSet``), the station
  (``orbit.GroundStation`` and its horizon mask), a catalog transmitter
  (frequency, modulation, baud, framing and its options) and a time span.
* Out (``signal.simulate_pass``): complex baseband IQ centred on the
  transmitter's nominal frequency, as ``cf32_le`` in ``<base>.sigmf-data``
  plus ``<base>.sigmf-meta`` (SigMF, with the pass and every transmitted
  frame annotated), and the list of frames sent (time, payload, elevation,
  range, Eb/N0, whether the station could see the satellite).
* The signal: beacon frames built by the transmitter's framer
  (``framing.get(...).make_framer()``) from payloads of ``payloads.py``,
  modulated by our modulators (``dsp.modulation.MODULATIONS``), shifted by
  the Doppler of ``orbit.DopplerModel`` (the downlink shift at every sample,
  phase continuous), scaled by the link budget of ``link.py`` (free-space
  path loss against the slant range), zero while the satellite is below the
  geometric horizon and ``obstruction_db`` weaker while it is behind the
  station's horizon mask, over a white noise floor of fixed power.
* ``provider.py`` plugs the simulator (or a fixed recording) into the pass
  executor as the source of each pass's IQ, in place of the SDR.

Times are UTC Unix seconds; frequencies Hz; angles degrees; ranges metres.
"""
from .link import LinkBudget, fspl_db
from .signal import SentFrame, SimSettings, SimulatedPass, simulate_pass

__all__ = ["LinkBudget", "fspl_db", "SentFrame", "SimSettings", "SimulatedPass", "simulate_pass"]

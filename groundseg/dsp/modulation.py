"""The registry of modulations: demodulator block and modulator for each.

Entries name their implementations as ``"module:callable"`` strings so that
reading the catalog does not import GNU Radio.

Demodulator callable: ``(samp_rate_sps, baud, iq, **params) -> gr.hier_block2``
with one input (float32 receiver audio when ``iq`` is false, complex64 baseband
when true) and one float32 output of soft symbols, one per channel symbol,
positive for a 1. Params come from the catalog transmitter: ``deviation_hz``,
``af_carrier_hz`` and modulation specific ones.

Modulator callable: ``(bits, samp_rate_sps, baud, iq, **params) -> ndarray``
returning float32 audio (what an FM/SSB receiver would output) or complex64
baseband at unit amplitude.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

from ..registry import Registry


@dataclass(frozen=True)
class ModulationSpec:
    name: str
    description: str
    demodulator: str
    modulator: str
    # catalog fields this modulation uses, with their defaults (None: required)
    params: dict[str, Any] = field(default_factory=dict)

    def _resolve(self, ref: str) -> Callable:
        mod, _, attr = ref.partition(":")
        return getattr(importlib.import_module(mod), attr)

    def make_demodulator(self, samp_rate_sps: float, baud: float, iq: bool, **params):
        return self._resolve(self.demodulator)(samp_rate_sps, baud, iq, **self._params(params))

    def modulate(self, bits, samp_rate_sps: float, baud: float, iq: bool, **params):
        return self._resolve(self.modulator)(bits, samp_rate_sps, baud, iq, **self._params(params))

    def _params(self, params: dict[str, Any]) -> dict[str, Any]:
        out = dict(self.params)
        out.update({k: v for k, v in params.items() if v is not None})
        return out


MODULATIONS: Registry[ModulationSpec] = Registry("modulation")


def _add(name, family, description, **params):
    key = name.lower()
    MODULATIONS.add(name, ModulationSpec(
        name=name,
        description=description,
        demodulator=f"groundseg.blocks.{family}_demod:{key}_demodulator",
        modulator=f"groundseg.dsp.{family}_mod:{key}_modulate",
        params=params,
    ))


_add("FSK", "fsk", "2-FSK: from FM receiver audio (baseband NRZ) or complex IQ", deviation_hz=None)
_add("GFSK", "fsk", "Gaussian-filtered 2-FSK (BT 0.5 unless given), demodulated as FSK",
     deviation_hz=None, bt=0.5)
_add("AFSK", "afsk", "audio FSK: two tones (carrier +/- deviation) on an FM channel; "
     "negative deviation swaps the tones", af_carrier_hz=1700, deviation_hz=500)
_add("BPSK", "psk", "coherent BPSK: from SSB audio (carrier near 1500 Hz or 12 kHz) or IQ",
     af_carrier_hz=None)
_add("DBPSK", "psk", "differentially decoded BPSK (soft symbols are phase changes)",
     af_carrier_hz=None)

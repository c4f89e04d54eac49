"""The one schema of a satellite catalog file, checked field by field."""
from __future__ import annotations

from typing import Any

TOP_FIELDS = {
    "name": (str, True),
    "norad": (int, True),
    "transmitters": (list, True),
    "aliases": (list, False),
}
TX_FIELDS = {
    "name": (str, True),
    "frequency_hz": (int, True),
    "modulation": (str, True),
    "baud": ((int, float), True),
    "framing": (str, True),
    "deviation_hz": ((int, float), False),
    "af_carrier_hz": ((int, float), False),
    "options": (dict, False),
    "uplink": (bool, False),
}


def _typename(t) -> str:
    if isinstance(t, tuple):
        return " or ".join(x.__name__ for x in t)
    return t.__name__


def _check_fields(doc: dict, fields: dict, where: str) -> list[str]:
    errs = []
    for key, (typ, required) in fields.items():
        if key not in doc:
            if required:
                errs.append(f"{where}: missing required field '{key}'")
            continue
        v = doc[key]
        if isinstance(v, bool) and typ is not bool:
            errs.append(f"{where}.{key}: expected {_typename(typ)}, got {v!r}")
        elif not isinstance(v, typ):
            errs.append(f"{where}.{key}: expected {_typename(typ)}, got {type(v).__name__} {v!r}")
    for key in doc:
        if key not in fields:
            errs.append(f"{where}: unknown field '{key}'")
    return errs


def validate(doc: Any, where: str = "") -> tuple[list[str], list[str]]:
    """Check one catalog document. Returns (errors, warnings), each a list of lines.

    Warnings are for transmitters whose framing this version cannot decode yet:
    the file is valid, the transmitter is skipped at decode time.
    """
    from ..dsp.modulation import MODULATIONS
    from ..framing import load_all

    framings = load_all()
    if not isinstance(doc, dict):
        return [f"{where}: a catalog file must be a mapping, not {type(doc).__name__}"], []
    errs = _check_fields(doc, TOP_FIELDS, where)
    warns: list[str] = []
    norad = doc.get("norad")
    if isinstance(norad, int) and not isinstance(norad, bool) and not 1 <= norad <= 999_999_999:
        errs.append(f"{where}.norad: {norad} is not a valid catalog number")
    txs = doc.get("transmitters")
    if isinstance(txs, list):
        if not txs:
            errs.append(f"{where}.transmitters: at least one transmitter is needed")
        names = set()
        for i, tx in enumerate(txs):
            w = f"{where}.transmitters[{i}]"
            if not isinstance(tx, dict):
                errs.append(f"{w}: must be a mapping")
                continue
            errs += _check_fields(tx, TX_FIELDS, w)
            if tx.get("name") in names:
                errs.append(f"{w}.name: duplicate transmitter name {tx.get('name')!r}")
            names.add(tx.get("name"))
            f = tx.get("frequency_hz")
            if isinstance(f, int) and not 1_000_000 <= f <= 100_000_000_000:
                errs.append(f"{w}.frequency_hz: {f} Hz is outside 1 MHz..100 GHz")
            b = tx.get("baud")
            if isinstance(b, (int, float)) and not isinstance(b, bool) and not 10 <= b <= 10_000_000:
                errs.append(f"{w}.baud: {b} is outside 10..10e6")
            mod = tx.get("modulation")
            if isinstance(mod, str) and mod not in MODULATIONS:
                errs.append(f"{w}.modulation: unknown modulation {mod!r}"
                            f" (known: {', '.join(MODULATIONS.names())})")
            fr = tx.get("framing")
            if isinstance(fr, str):
                if fr in framings:
                    opts = tx.get("options") or {}
                    if isinstance(opts, dict):
                        errs += [f"{w}.options: {e}" for e in framings.get(fr).check_options(opts)]
                else:
                    warns.append(f"{w}.framing: {fr!r} is not supported by this version")
    return errs, warns

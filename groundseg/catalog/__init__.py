"""Satellite catalog: seeds/satellites/*.yaml in, validated ``Satellite`` objects out.

One YAML file per satellite (name, NORAD id, transmitters with frequency,
modulation, baud rate, framing, deviation, audio carrier and framing options),
checked by one schema (``schema.py``) against the modulation and framing
registries. ``load_catalog()`` reports every problem of every file at once.
"""
from .loader import Catalog, Satellite, Transmitter, default_seeds_dir, load_catalog

__all__ = ["Catalog", "Satellite", "Transmitter", "load_catalog", "default_seeds_dir"]

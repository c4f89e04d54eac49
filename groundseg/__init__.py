"""groundseg: open software for satellite ground receiving and gateway stations.

Stages (each a sub-package whose docstring states its contract):
dsp (kernels), blocks (GNU Radio blocks), framing (deframers/framers),
catalog, orbit, schedule, control, telemetry, gateway, storage.
"""

__version__ = "0.1.0"

"""GNU Radio flowgraphs of the station.

``receive.py`` is the receive flowgraph the station runs for a pass and that
``groundseg decode`` runs on a file: source -> channel (Doppler/LO correction)
-> one demodulator per distinct (modulation, baud, deviation, carrier) ->
one deframer per transmitter -> frames. The ``.grc`` files are the same graphs
per modulation family for GNU Radio Companion, built from the block YAML in
``grc/``.

``pass_runner.py`` is the process of one pass (``python -m
flowgraphs.pass_runner SPEC.json``): the pass executor
(``groundseg.schedule.executor``) starts it a lead time before the pass and
its supervisor (``groundseg.schedule.supervisor``) watches it. It opens the
source (the chain's SDR, or a simulated or recorded IQ file paced to the
station clock), runs the receive flowgraph with the IQ recorder and the
waterfall, applies the time-tagged Doppler corrections it receives over
ZeroMQ, and reports on stdout, one JSON object per line: ``ready``,
``status`` (cumulative samples, overruns, underruns, Doppler corrections
applied, frames), ``frame``, ``warning``, ``error``, ``done`` (the same
final counts). It can be killed at any moment without harm to the station
and dies with it.
"""

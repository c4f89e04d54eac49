"""GNU Radio flowgraphs of the station.

``receive.py`` is the receive flowgraph the station runs for a pass and that
``groundseg decode`` runs on a file: source -> channel (Doppler/LO correction)
-> one demodulator per distinct (modulation, baud, deviation, carrier) ->
one deframer per transmitter -> frames. The ``.grc`` files are the same graphs
per modulation family for GNU Radio Companion, built from the block YAML in
``grc/``.
"""

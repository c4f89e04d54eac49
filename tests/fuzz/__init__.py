"""Fuzz tests of every input boundary: bad input ends in a documented error, never a crash or a hang.

One module per boundary family (``test_fuzz_<boundary>.py``), each with a
bounded number of hypothesis examples so that ``make test`` runs the whole
suite in about a minute on two cores; ``tests/benchmarks/bench_fuzz.py``
runs the same tests with many more (random) examples plus coverage-guided
atheris campaigns on the pure-Python parsers.

Shared pieces: ``_harness.attempt`` (one input: accepted, rejected with the
documented error, or a counted crash/hang), ``_count`` (inputs tried per
boundary, printed at the end of the session and written to
``bench-out/fuzz-counts.json``), ``_mutate`` (byte and text mutations and
structured generators shared by the tests and the atheris targets).
"""

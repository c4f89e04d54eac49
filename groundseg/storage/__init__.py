"""Storage: per-pass artifacts.

Frames as JSON lines and KISS files, SigMF IQ recordings with pass metadata,
waterfall PNGs and pass reports. Writers take frame records (the dicts that
``groundseg decode`` prints) and never lose what is already written: files are
appended and flushed frame by frame.

* ``artifacts.py``: the directory of one pass (fixed file names) and its
  ``FrameWriter`` (JSON lines + KISS, flushed, optionally fsynced, per frame);
  readers that skip a line torn by a crash.
* ``kiss.py``: KISS framing.
* ``recording.py``: SigMF metadata (``sigmf`` package) for IQ files: captures,
  station position, pass metadata under ``groundseg:``, frame annotations.
* ``waterfall.py``: spectrum rows appended while a pass runs (numpy FFT),
  the same from a whole array, and the PNG (matplotlib Agg).
* ``report.py``: the pass report (counts, timings, Doppler and rotator
  record, flowgraph runs, errors, warnings) as JSON, written atomically.
* ``retention.py``: ``[storage] retention_days`` / ``iq_retention_days``
  (old pass directories and IQ recordings deleted) and ``min_free_mb``
  (optional artifacts, IQ first, dropped oldest first when the disk fills);
  the station daemon applies it at start, after each pass and daily.
"""

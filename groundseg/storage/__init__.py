"""Storage: per-pass artifacts.

Frames as JSON lines and KISS files, SigMF IQ recordings with pass metadata,
waterfall PNGs and pass reports. Writers take frame records (the dicts that
``groundseg decode`` prints) and never lose what is already written: files are
appended and flushed frame by frame.
"""

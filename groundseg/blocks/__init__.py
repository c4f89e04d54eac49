"""GNU Radio blocks: streams in, PDUs out.

Contract:

* ``sources.py`` turns a source description (WAV, raw or SigMF IQ file, UHD,
  RTL-SDR, SoapySDR, ZeroMQ stream) into a GNU Radio source block; files are
  checked first and hardware is opened through the same code, failing with a
  one-line ``HardwareError`` when the device is absent.
* ``fsk_demod.py``, ``afsk_demod.py``, ``psk_demod.py`` build the demodulator
  hier block of each modulation (see ``groundseg.dsp.modulation``): receiver audio
  (float32) or baseband IQ (complex64) in, soft symbols (float32, one per
  channel symbol, > 0 for a 1) out. Demodulators may tag the soft-symbol
  stream with ``snr_db`` and ``freq_offset_hz`` (float pmt values).
* ``deframer_sink.py`` wraps any ``groundseg.framing`` deframer: soft symbols
  in, one PDU per frame out on message port ``out`` (metadata dict + u8vector).
* ``frame_collector.py`` receives those PDUs, de-duplicates frames seen by
  several chains and hands each frame to a callback.
"""

"""Convolutional encoder and Viterbi decoder (viterbi.pyx) against the reference, libfec and theory."""
from __future__ import annotations

import ctypes
import ctypes.util
import pathlib

import numpy as np
import pytest

from conftest import need
from groundseg.dsp import fec
from groundseg.dsp import viterbi as kernel
from groundseg.dsp import viterbi_ref as ref
from groundseg.errors import InputError

VECTORS = pathlib.Path(__file__).parent / "vectors" / "fec_viterbi.npz"
IMPLS = [pytest.param(ref, id="ref"), pytest.param(kernel, id="kernel")]
CONVS = list(ref.CONVENTIONS)
# the same conventions as libfec/GNU Radio polynomial pairs (LSB = newest bit, negative = inverted)
LIBFEC_POLYS = {"CCSDS": (0x4F, -0x6D), "NASA-DSN": (-0x6D, 0x4F),
                "CCSDS uninverted": (0x4F, 0x6D), "NASA-DSN uninverted": (0x6D, 0x4F)}


def _bpsk(sym: np.ndarray, ebn0_db: float, rng, rate: float = 0.5) -> np.ndarray:
    sigma = np.sqrt(1.0 / (2.0 * rate * 10 ** (ebn0_db / 10)))
    return ((2.0 * sym - 1.0) + sigma * rng.standard_normal(sym.size)).astype(np.float32)


def test_facade_uses_the_kernels():
    assert fec.IMPLEMENTATION == "cython"
    assert fec.viterbi_decode is kernel.viterbi_decode
    assert fec.ViterbiDecoder is kernel.ViterbiDecoder


@pytest.mark.parametrize("impl", IMPLS)
def test_impulse_response_is_the_generator_polynomials(impl):
    # a single 1: output i over 7 steps spells polys[i] MSB first (MSB = tap on the newest bit)
    sym = impl.conv_encode([1], "CCSDS uninverted", terminate=True).reshape(-1, 2)
    assert "".join(map(str, sym[:, 0])) == "1111001"      # 0o171
    assert "".join(map(str, sym[:, 1])) == "1011011"      # 0o133
    inv = impl.conv_encode([1], "CCSDS", terminate=True).reshape(-1, 2)
    assert (inv[:, 0] == sym[:, 0]).all() and (inv[:, 1] == 1 - sym[:, 1]).all()
    nasa = impl.conv_encode([1], "NASA-DSN", terminate=True).reshape(-1, 2)
    assert (nasa[:, 0] == 1 - sym[:, 1]).all() and (nasa[:, 1] == sym[:, 0]).all()


def test_encoder_kernel_matches_reference_with_state(rng):
    bits = rng.integers(0, 2, 1000).astype(np.uint8)
    for conv in CONVS:
        k, r = kernel.ConvEncoder(conv), ref.ConvEncoder(conv)
        for c in np.array_split(bits, 6):
            assert (k.encode(c) == r.encode(c)).all() and k.state == r.state
    custom = dict(polys=(0o117, 0o155), invert=3)
    assert (kernel.conv_encode(bits, None, **custom) == ref.conv_encode(bits, None, **custom)).all()


@pytest.mark.parametrize("conv", CONVS)
def test_libfec_decodes_our_encoding(conv, rng):
    path = ctypes.util.find_library("fec")
    need(path is not None, "libfec (Debian libfec0/libfec-dev) not installed")
    lib = ctypes.CDLL(path)
    lib.create_viterbi27.restype = ctypes.c_void_p
    lib.create_viterbi27.argtypes = [ctypes.c_int]
    for f in ("init_viterbi27", "delete_viterbi27"):
        getattr(lib, f).argtypes = [ctypes.c_void_p] + ([ctypes.c_int] if f.startswith("init") else [])
    lib.update_viterbi27_blk.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
    lib.chainback_viterbi27.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint]
    nbits = 800
    bits = rng.integers(0, 2, nbits).astype(np.uint8)
    sym = (kernel.conv_encode(bits, conv) * 255).astype(np.uint8)   # libfec: 0 = strong 0, 255 = strong 1
    lib.set_viterbi27_polynomial((ctypes.c_int * 2)(*LIBFEC_POLYS[conv]))
    try:
        v = lib.create_viterbi27(nbits)
        lib.init_viterbi27(v, 0)
        lib.update_viterbi27_blk(v, sym.ctypes.data, nbits + 6)
        out = np.zeros(nbits // 8, np.uint8)
        lib.chainback_viterbi27(v, out.ctypes.data, nbits, 0)
        lib.delete_viterbi27(v)
    finally:
        lib.set_viterbi27_polynomial((ctypes.c_int * 2)(0x4F, 0x6D))
    assert (np.unpackbits(out) == bits).all()


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("conv", CONVS)
def test_error_free_at_high_snr(impl, conv, rng):
    n = 3000 if impl is kernel else 400
    bits = rng.integers(0, 2, n).astype(np.uint8)
    soft = _bpsk(impl.conv_encode(bits, conv), 7.0, rng)
    assert (impl.viterbi_decode(soft, conv) == bits).all()
    assert (impl.viterbi_decode(impl.quantize_soft(soft), conv) == bits).all()      # int8 input
    assert (impl.viterbi_decode(soft * 1000, conv) == bits).all()                    # any scale
    open_ = impl.viterbi_decode(soft, conv, terminated=False, start_state=None)
    assert open_.size == n + 6 and (open_[:n] == bits).all()


def test_bit_error_rate_at_3db_well_below_uncoded(rng):
    n = 100000
    bits = rng.integers(0, 2, n).astype(np.uint8)
    sym = kernel.conv_encode(bits, "CCSDS")
    soft = _bpsk(sym, 3.0, rng)
    coded_ber = np.mean(kernel.viterbi_decode(soft, "CCSDS") != bits)
    # uncoded BPSK at Eb/N0 = 3 dB: Q(sqrt(2 Eb/N0)) = 2.3e-2
    uncoded = _bpsk(bits, 3.0, rng, rate=1.0)
    uncoded_ber = np.mean((uncoded > 0) != bits)
    assert 0.015 < uncoded_ber < 0.03
    # K=7 r=1/2 soft decision: about 2e-4 at 3 dB (libfec measures the same); errors come in
    # bursts, so leave a margin
    assert coded_ber < 1e-3
    assert coded_ber < uncoded_ber / 20


# the kernel has two add-compare-select cores (AVX-512 vector types, plain loops): test both
CORES = [pytest.param(False, id="loop-core"),
         pytest.param(True, id="vector-core", marks=pytest.mark.skipif(
             not kernel.VECTOR_CORE, reason="built without AVX-512BW: only the loop core exists"))]


@pytest.mark.parametrize("vector", CORES)
def test_kernel_matches_reference_exactly(vector, rng):
    for trial in range(24):
        conv = CONVS[trial % 4]
        n = int(rng.integers(7, 300)) if trial % 6 else 2000      # long: cost re-centring
        bits = rng.integers(0, 2, n).astype(np.uint8)
        soft = _bpsk(kernel.conv_encode(bits, conv), float(rng.uniform(-1, 4)), rng)
        scale = None if trial % 3 == 0 else float(rng.uniform(5, 60))
        dec = kernel.ViterbiDecoder(conv)
        dec.vector_core = vector
        for term, start in ((True, 0), (False, None), (False, 0), (False, 17)):
            a = dec.decode_block(soft, terminated=term, start_state=start, scale=scale)
            b = ref.viterbi_decode(soft, conv, terminated=term, start_state=start, scale=scale)
            assert a.size == b.size and (a == b).all(), (trial, term, start)


@pytest.mark.parametrize("vector", CORES)
def test_streaming_kernel_matches_reference_with_any_chunking(vector, rng):
    for trial in range(12):
        conv = CONVS[trial % 4]
        bits = rng.integers(0, 2, 500).astype(np.uint8)
        soft = _bpsk(kernel.conv_encode(bits, conv), 1.5, rng)
        tb = int(rng.integers(6, 80))
        k, r = kernel.ViterbiDecoder(conv, traceback=tb), ref.ViterbiDecoder(conv, traceback=tb)
        k.vector_core = vector
        cuts = np.sort(rng.integers(0, soft.size, 6))          # odd sizes and empty chunks too
        for chunk in np.split(soft, cuts):
            a, b = k.decode_stream(chunk, scale=25.0), r.decode_stream(chunk, scale=25.0)
            assert a.size == b.size and (a == b).all()
        a, b = k.flush(terminated=trial % 2 == 0), r.flush(terminated=trial % 2 == 0)
        assert a.size == b.size and (a == b).all()


@pytest.mark.parametrize("impl", IMPLS)
def test_streaming_recovers_the_bits(impl, rng):
    bits = rng.integers(0, 2, 1500 if impl is kernel else 300).astype(np.uint8)
    soft = _bpsk(impl.conv_encode(bits, "CCSDS"), 6.0, rng)
    dec = impl.ViterbiDecoder("CCSDS", traceback=40)
    out = [dec.decode_stream(c, scale=30.0) for c in np.array_split(soft, 9)]
    assert sum(o.size for o in out) == bits.size + 6 - 40        # delayed by the traceback
    out.append(dec.flush(terminated=True))
    assert (np.concatenate(out)[: bits.size] == bits).all()
    # after flush the decoder starts afresh
    again = np.concatenate([dec.decode_stream(soft, scale=30.0), dec.flush(terminated=True)])
    assert (again[: bits.size] == bits).all()


@pytest.mark.parametrize("impl", IMPLS)
def test_golden_vectors(impl):
    v = np.load(VECTORS)
    for i, conv in enumerate(v["conventions"].tolist()):
        assert (impl.conv_encode(v[f"c{i}_bits"], conv) == v[f"c{i}_symbols"]).all()
        soft = v[f"c{i}_soft"]
        assert (impl.viterbi_decode(soft, conv) == v[f"c{i}_decoded_terminated"]).all()
        assert (impl.viterbi_decode(soft, conv, terminated=False, start_state=None)
                == v[f"c{i}_decoded_open"]).all()


@pytest.mark.parametrize("impl", IMPLS)
def test_quantize_soft(impl, rng):
    q = np.array([-128, -127, 0, 5, 127], np.int8)
    assert impl.quantize_soft(q).tolist() == [-127, -127, 0, 5, 127]
    y = rng.standard_normal(5000).astype(np.float32) * 0.01
    qf = impl.quantize_soft(y)
    assert qf.dtype == np.int8 and abs(np.abs(qf).mean() - ref.AUTO_SCALE_TARGET) < 1.0
    assert ((qf > 0) == (y > 0.0001)).sum() > 4900
    assert impl.quantize_soft([1e9, -1e9], scale=1.0).tolist() == [127, -127]


@pytest.mark.parametrize("impl", IMPLS)
def test_bad_arguments_rejected(impl):
    bad_calls = [
        lambda: impl.viterbi_decode(np.zeros(21, np.float32)),            # odd symbol count
        lambda: impl.viterbi_decode(np.zeros(10, np.float32)),            # shorter than the tail
        lambda: impl.viterbi_decode(np.zeros(20, np.float32), "Voyager"),
        lambda: impl.viterbi_decode(np.zeros(20, np.float32), None, polys=(0o171, 0o132)),
        lambda: impl.viterbi_decode(np.zeros(20, np.float32), start_state=64),
        lambda: impl.ViterbiDecoder(traceback=3),
        lambda: impl.conv_encode([0, 1, 2]),
    ]
    for call in bad_calls:
        with pytest.raises(InputError):
            call()

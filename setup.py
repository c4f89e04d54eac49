"""Build script for groundseg's Cython kernels.

Every ``.pyx`` file under ``groundseg/`` becomes an extension module of the
same dotted name, so adding a kernel needs no change here.
"""
import os
import pathlib

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

ROOT = pathlib.Path(__file__).parent


def _extensions():
    flags = ["-O3", "-fno-strict-aliasing"]
    # Built on the station itself, so tune for its CPU unless asked not to
    # (GROUNDSEG_PORTABLE=1 when building packages for other machines).
    if not os.environ.get("GROUNDSEG_PORTABLE"):
        flags.append("-march=native")
    # GROUNDSEG_BUILD_ONLY=hdlc,viterbi builds only the kernels whose module
    # name contains one of the words (for quick rebuilds while developing).
    only = [w for w in os.environ.get("GROUNDSEG_BUILD_ONLY", "").split(",") if w]
    exts = []
    for pyx in sorted(ROOT.glob("groundseg/**/*.pyx")):
        rel = pyx.relative_to(ROOT).with_suffix("")
        if only and not any(w in rel.name for w in only):
            continue
        exts.append(Extension(
            ".".join(rel.parts),
            [str(pyx.relative_to(ROOT))],
            include_dirs=[numpy.get_include()],
            extra_compile_args=flags,
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        ))
    return exts


setup(
    ext_modules=cythonize(
        _extensions(),
        language_level=3,
        compiler_directives={
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
        quiet=True,
    ),
)

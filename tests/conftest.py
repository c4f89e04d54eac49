"""Shared fixtures.

Tests that need something from outside the project (the recordings corpus, a
Debian peer program) skip locally when it is absent but FAIL under CI
(``CI=true``): nothing is silently skipped there.
"""
from __future__ import annotations

import os
import pathlib
import shutil

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need(condition: bool, why: str) -> None:
    """Skip (locally) or fail (in CI) when a prerequisite is missing."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"prerequisite missing in CI: {why}")
    pytest.skip(why)


def need_program(name: str) -> str:
    path = shutil.which(name)
    need(path is not None, f"program {name!r} not installed")
    return path


def corpus_dir() -> pathlib.Path:
    env = os.environ.get("GROUNDSEG_CORPUS")
    return pathlib.Path(env) if env else (ROOT.parent / "shared" / "recordings")


@pytest.fixture(scope="session")
def corpus() -> pathlib.Path:
    d = corpus_dir()
    need((d / "manifest.json").is_file(), f"recordings corpus not found at {d}")
    return d


@pytest.fixture
def rng():
    import numpy as np
    return np.random.default_rng(12345)

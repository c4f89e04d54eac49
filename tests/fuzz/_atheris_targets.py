"""Coverage-guided fuzzing (atheris, libFuzzer) of the pure-Python parsers, one target per run.

    python tests/fuzz/_atheris_targets.py TARGET [libFuzzer options] [CORPUS_DIR ...]

Targets: ``tle``, ``omm``, ``config``, ``kiss``, ``control_envelope``. The
parser modules are imported under ``atheris.instrument_imports()`` so that
libFuzzer sees their branches. Each input gets the same contract as in the
pytest suite: the documented outcome (a result or the documented error),
anything else is re-raised for libFuzzer to report as a crash (the input is
saved with ``-artifact_prefix``). ``--seeds DIR`` writes the seed corpus
(valid inputs from ``_seeds``) into DIR and exits.

The target keeps ``{"inputs", "slowest_s"}`` (inputs run, the slowest
input in seconds) in the JSON file named by ``GROUNDSEG_FUZZ_STATS_FILE``,
rewritten when the slowest input changes, every 1000 inputs and at a crash
(libFuzzer ends the process itself).
"""
from __future__ import annotations

import atexit
import json
import os
import pathlib
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for p in (str(ROOT), str(HERE.parent)):
    if p not in sys.path:
        sys.path.insert(0, p)

STATS = {"inputs": 0, "slowest_s": 0.0}


def _report() -> None:
    path = os.environ.get("GROUNDSEG_FUZZ_STATS_FILE")
    if path:
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(STATS, f)
        os.replace(tmp, path)


def seeds(target: str) -> list[bytes]:
    from fuzz import _seeds

    if target == "tle":
        return ["\n".join(t).encode() + b"\n" for t in _seeds.tle_triples()]
    if target == "omm":
        recs = list(_seeds.omm_records())
        return [_seeds.render_omm(recs[:2], f).encode() for f in _seeds.OMM_FORMS]
    if target == "config":
        return [_seeds.EXAMPLE_CONFIG.read_bytes(), _seeds.DEMO_CONFIG.read_bytes()]
    if target == "kiss":
        return [_seeds.kiss_stream()]
    if target == "control_envelope":
        return _seeds.control_requests()
    raise SystemExit(f"unknown target {target!r}")


def make_target(target: str):
    import atheris

    with atheris.instrument_imports():
        from groundseg.control import protocol as P
        from groundseg.orbit import omm as omm_mod
        from groundseg.orbit import tle as tle_mod
        from groundseg.storage import kiss
        if target == "config":
            import groundseg.config as config_mod
            config_mod.load_section_modules()
    from groundseg.errors import InputError

    def check_sets(res):
        sets, errs = res
        assert all(isinstance(e, str) and e for e in errs)
        for es in sets:
            err, r, _v = es.satrec().sgp4_tsince(0.0)
            assert err == 0 and all(x == x and abs(x) != float("inf") for x in r), es
            es.tle_lines()

    if target == "tle":
        def one(data: bytes):
            check_sets(tle_mod.parse_tle_text(data.decode("latin-1")))
    elif target == "omm":
        def one(data: bytes):
            text = data.decode("utf-8", "replace")
            check_sets(omm_mod.parse_omm(text))
            for form in ("json", "kvn", "xml", "csv"):
                check_sets(omm_mod.parse_omm(text, form=form))
    elif target == "config":
        import tomllib

        def one(data: bytes):
            try:
                doc = tomllib.loads(data.decode("utf-8"))
            except (UnicodeDecodeError, tomllib.TOMLDecodeError):
                return  # load_config: InputError "not UTF-8" / "not valid TOML"
            try:
                cfg = config_mod.parse_config(doc, "/nonexistent/station.toml")
            except InputError:
                return
            cfg.tle_paths()
            cfg.ground_station()
            cfg.horizon_mask()
    elif target == "kiss":
        def one(data: bytes):
            whole = kiss.Decoder(max_len=256).feed(data)
            d = kiss.Decoder(max_len=256)
            cut = len(data) // 3
            assert d.feed(data[:cut]) + d.feed(data[cut:]) == whole
            for port, cmd, payload in whole:
                assert 0 <= port <= 15 and 0 <= cmd <= 15 and len(payload) <= 256
            if data:
                assert kiss.decode(kiss.encode(data)) == [data]
    elif target == "control_envelope":
        def one(data: bytes):
            try:
                req = P.parse_request(data, max_bytes=1 << 16)
            except P.ControlError as e:
                assert e.code in P.ERROR_CODES
                P.parse_reply(P.error_reply(e.extra.get("id"), e))
                return
            assert isinstance(req.args, dict) and req.v in P.SUPPORTED_VERSIONS
            P.parse_reply(P.ok_reply(req.id, req.args))
    else:
        raise SystemExit(f"unknown target {target!r}")

    def test_one_input(data: bytes) -> None:
        t0 = time.perf_counter()
        try:
            one(data)
        except BaseException:
            STATS["inputs"] += 1
            _report()
            raise
        dt = time.perf_counter() - t0
        STATS["inputs"] += 1
        if dt > STATS["slowest_s"]:
            STATS["slowest_s"] = dt
            _report()
        elif STATS["inputs"] % 1000 == 0:
            _report()
    return test_one_input


def main(argv: list[str]) -> None:
    if len(argv) >= 3 and argv[1] == "--seeds":
        target, out = argv[2], pathlib.Path(argv[3])
        out.mkdir(parents=True, exist_ok=True)
        for i, s in enumerate(seeds(target)):
            (out / f"seed-{i}").write_bytes(s)
        return
    import atheris

    target = argv[1]
    fn = make_target(target)
    atexit.register(_report)
    atheris.Setup([argv[0]] + argv[2:], fn)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)

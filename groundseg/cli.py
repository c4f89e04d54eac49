"""The ``groundseg`` command."""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading

from . import __version__
from .errors import GroundsegError, InputError


def _parse_option(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--option needs KEY=VALUE, not {text!r}")
    k, v = text.split("=", 1)
    try:
        val: object = int(v)
    except ValueError:
        val = v
    return k.strip(), val


# --- decode ------------------------------------------------------------------

def _add_decode(sub) -> None:
    p = sub.add_parser("decode", help="decode a recording (WAV audio, raw or SigMF IQ)",
                       description="Decode a recording with the station's receive flowgraph and "
                                   "print one JSON object per frame on stdout.")
    p.add_argument("file", help="WAV file (receiver audio, or I/Q with --iq), raw IQ, or SigMF")
    p.add_argument("--norad", type=int, help="satellite NORAD id: take transmitters from the catalog")
    p.add_argument("--modulation", help="modulation (instead of --norad)")
    p.add_argument("--baud", type=float, help="baud rate (instead of --norad)")
    p.add_argument("--framing", help="framing name (instead of --norad)")
    p.add_argument("--deviation", type=float, metavar="HZ", help="FSK/AFSK deviation in Hz")
    p.add_argument("--af-carrier", type=float, metavar="HZ", help="audio carrier (AFSK centre, BPSK on SSB)")
    p.add_argument("--option", type=_parse_option, action="append", default=[], metavar="KEY=VALUE",
                   help="framing option (e.g. frame_size=223), repeatable")
    p.add_argument("--iq", action="store_true", help="the file holds complex IQ (stereo WAV: I, Q)")
    p.add_argument("--samp-rate", type=float, metavar="SPS", help="sample rate of a raw IQ file")
    p.add_argument("--datatype", default="cf32_le", help="raw IQ sample type (cf32_le, ci16_le, ci8, cu8)")
    p.add_argument("--kiss", metavar="FILE", help="also write the frames to FILE in KISS format")
    p.add_argument("--keep-invalid", action="store_true", help="also print frames that fail their check")
    p.add_argument("--catalog", metavar="DIR", help="seeds directory (default: the project's seeds/)")
    p.set_defaults(func=cmd_decode)


def _source_spec(args):
    from .blocks.sources import SourceSpec, guess_kind

    kind = guess_kind(args.file)
    if kind == "iq" and not args.samp_rate:
        raise InputError(f"{args.file}: not a WAV or SigMF file; give --samp-rate for raw IQ")
    return SourceSpec(kind=kind, path=args.file, samp_rate_sps=args.samp_rate,
                      iq=args.iq or kind != "wav", datatype=args.datatype)


def cmd_decode(args) -> int:
    from .catalog import load_catalog
    from .decode import ProgressBar, adhoc_chain, chains_for_norad, decode
    from .storage import kiss

    adhoc = [args.modulation, args.baud, args.framing]
    if args.norad is not None and any(a is not None for a in adhoc):
        raise InputError("give either --norad or --modulation/--baud/--framing, not both")
    if args.norad is not None:
        catalog = load_catalog(args.catalog) if args.catalog else None
        chains, skipped = chains_for_norad(args.norad, catalog)
        for s in skipped:
            print(f"groundseg: skipping {s}", file=sys.stderr)
        if not chains:
            raise InputError(f"NORAD {args.norad}: none of its transmitters has a supported framing")
    elif all(a is not None for a in adhoc):
        chains = [adhoc_chain(args.modulation, args.baud, args.framing, args.deviation,
                              args.af_carrier, dict(args.option))]
    else:
        raise InputError("give --norad N, or all of --modulation, --baud and --framing")
    spec = _source_spec(args)

    try:
        kiss_file = open(args.kiss, "wb") if args.kiss else None
    except OSError as e:
        raise InputError(f"cannot write KISS file {args.kiss}: {e.strerror}") from None
    out = sys.stdout
    stop = threading.Event()

    def on_frame(rec: dict) -> None:
        # Called from GNU Radio's threads: an exception here would abort the
        # process, so a closed stdout (``| head``) just ends the decode.
        if stop.is_set():
            return
        try:
            out.write(json.dumps(rec) + "\n")
            out.flush()
        except (BrokenPipeError, OSError):
            stop.set()
            return
        if kiss_file:
            kiss_file.write(kiss.encode(bytes.fromhex(rec["hex"])))
            kiss_file.flush()

    bar = ProgressBar(os.path.basename(args.file))
    try:
        res = decode(spec, chains, on_frame=on_frame, keep_invalid=args.keep_invalid, progress=bar,
                     stop=stop)
    finally:
        bar.close()
        if kiss_file:
            kiss_file.close()
    if stop.is_set():
        # stdout was closed by the reader: nothing more to say, not an error
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0
    valid = sum(1 for f in res.frames if f.get("crc_ok") is not False)
    rt = f", {res.seconds / res.wall_s:.0f}x real time" if res.seconds and res.wall_s > 0 else ""
    print(f"groundseg: {valid} frames from {args.file}{rt}", file=sys.stderr)
    return 0


# --- corpus ------------------------------------------------------------------

def _add_corpus(sub) -> None:
    p = sub.add_parser("corpus", help="decode every recording of a corpus and compare with references")
    p.add_argument("dir", nargs="?", help="corpus directory (default $GROUNDSEG_CORPUS or ../shared/recordings)")
    p.add_argument("--jobs", type=int, default=0, help="parallel decoders (default: one per core)")
    p.add_argument("--only", action="append", help="only this file (repeatable)")
    p.add_argument("--json", action="store_true", help="one JSON object per recording instead of a table")
    p.set_defaults(func=cmd_corpus)


def cmd_corpus(args) -> int:
    from dataclasses import asdict

    from .corpus import default_corpus_dir, run_corpus

    d = args.dir or str(default_corpus_dir())
    rows = []
    if not args.json:
        print(f"{'file':28} {'reference':>9} {'decoded':>8}  note")
    for row in run_corpus(d, jobs=args.jobs or None, only=args.only):
        rows.append(row)
        if args.json:
            print(json.dumps(asdict(row)), flush=True)
        else:
            mark = "" if row.decoded >= row.reference else "BELOW REFERENCE"
            note = row.error or mark
            print(f"{row.file:28} {row.reference:9d} {row.decoded:8d}  {note}", flush=True)
    with_frames = sum(1 for r in rows if r.decoded > 0)
    ref_with = sum(1 for r in rows if r.reference > 0)
    frames = sum(r.decoded for r in rows)
    ref = sum(r.reference for r in rows)
    print(f"corpus: {with_frames} recordings with frames (reference {ref_with}), "
          f"{frames} frames (reference {ref})")
    return 0


# --- main --------------------------------------------------------------------

# --- list: what the registries hold -------------------------------------------

def _registries() -> dict:
    """Each plugin registry by the name ``groundseg list`` shows it under."""
    from firmware_bridge.registry import ROTATOR_PROTOCOLS
    from .blocks.sources import SOURCES
    from .dsp.modulation import MODULATIONS
    from .framing import load_all
    from .gateway.sinks import SINKS

    return {"modulations": MODULATIONS, "framings": load_all(), "sources": SOURCES,
            "sinks": SINKS, "rotators": ROTATOR_PROTOCOLS}


def _describe(item) -> str:
    doc = getattr(item, "description", None) or (getattr(item, "__doc__", None) or "")
    return " ".join(str(doc).split("\n")[0].split())


def list_markdown(kind: str) -> str:
    """The registry as a Markdown table (the README embeds the framings and modulations)."""
    reg = _registries()[kind]
    rows = ["| name | description |", "|---|---|"]
    for name, item in reg.items():
        extra = ""
        opts = getattr(item, "options", None)
        if isinstance(opts, dict) and opts:
            extra = f" (options: {', '.join(sorted(opts))})"
        rows.append(f"| {name} | {_describe(item)}{extra} |")
    return "\n".join(rows) + "\n"


def _add_list(sub) -> None:
    p = sub.add_parser("list", help="list what this version supports (modulations, framings, ...)")
    p.add_argument("kind", choices=["modulations", "framings", "sources", "sinks", "rotators"])
    p.add_argument("--markdown", action="store_true", help="a Markdown table")
    p.set_defaults(func=cmd_list)


def cmd_list(args) -> int:
    if args.markdown:
        sys.stdout.write(list_markdown(args.kind))
        return 0
    reg = _registries()[args.kind]
    width = max((len(n) for n in reg.names()), default=0)
    for name, item in reg.items():
        print(f"{name:{width}}  {_describe(item)}")
    return 0


# --- main --------------------------------------------------------------------

# Every subcommand: "module:function", the function adds its parser(s) to the
# subparsers object. Modules are imported only when the parser is built.
COMMANDS = [
    "groundseg.cli:_add_decode",
    "groundseg.cli:_add_corpus",
    "groundseg.demo:add_cli",
    "groundseg.cli:_add_list",
    "groundseg.station:add_cli",
    "groundseg.schedule.cli:add",
    "groundseg.config:add_cli",
    "groundseg.control:add_cli",
    "groundseg.gateway:add_cli",
    "firmware_bridge.cli:add_rotator_command",
]


def build_parser() -> argparse.ArgumentParser:
    import importlib

    import groundseg.uplink  # noqa: F401  (registers the [uplink] section and its framing)

    ap = argparse.ArgumentParser(prog="groundseg", description="groundseg ground-station software")
    ap.add_argument("--version", action="version", version=f"groundseg {__version__}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for ref in COMMANDS:
        mod, _, fn = ref.partition(":")
        getattr(importlib.import_module(mod), fn)(sub)
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except GroundsegError as e:
        print(f"groundseg: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("groundseg: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())

"""``groundseg passes`` and ``groundseg plan``.

    groundseg passes --station CONFIG [--norad N]... [--hours H] [--start TIME] [--json]
    groundseg plan   --station CONFIG [--hours H] [--now TIME] [--json] [--commit]

``passes`` lists upcoming passes of the satellites that have element sets
(the station's state plus the [orbit] files). ``plan`` shows the plan at
"now" with the reason for every dropped pass; it works on a copy of the
station's state unless ``--commit`` writes the plan into it. Stale element
sets are flagged on stderr. Heavy imports happen inside the commands so
``groundseg --help`` stays fast.
"""
from __future__ import annotations

import json
import sys


def add(sub) -> None:
    p = sub.add_parser("passes", help="list upcoming passes over the station",
                       description="List upcoming passes (AOS, culmination, LOS, maximum elevation) over the "
                                   "station, with the station's horizon mask.")
    p.add_argument("--station", required=True, metavar="CONFIG", help="station configuration (TOML)")
    p.add_argument("--norad", type=int, action="append", metavar="N", help="only this satellite (repeatable)")
    p.add_argument("--hours", type=float, default=24.0, metavar="H", help="how far ahead (default 24)")
    p.add_argument("--start", metavar="TIME", help="start at this UTC time (ISO 8601) instead of now")
    p.add_argument("--min-el", type=float, default=None, metavar="DEG",
                   help="only passes culminating at least this high")
    p.add_argument("--json", action="store_true", help="one JSON object per pass")
    p.set_defaults(func=cmd_passes)

    q = sub.add_parser("plan", help="show the observation plan and why passes were dropped",
                       description="Plan the station's tasks over the planning horizon and show the plan, "
                                   "with the reason for every dropped pass.")
    q.add_argument("--station", required=True, metavar="CONFIG", help="station configuration (TOML)")
    q.add_argument("--now", metavar="TIME", help="plan as if it were this UTC time (ISO 8601)")
    q.add_argument("--hours", type=float, metavar="H", help="planning horizon (default: [planner] horizon_hours)")
    q.add_argument("--json", action="store_true", help="the plan as one JSON document")
    q.add_argument("--commit", action="store_true", help="write the plan into the station's state")
    q.set_defaults(func=cmd_plan)


def _parse_time(text: str | None, what: str) -> float | None:
    if text is None:
        return None
    from ..errors import InputError
    from .tasks import _time

    errs: list[str] = []
    t = _time(text, what, errs)
    if errs:
        raise InputError(errs[0])
    return t


def _load(args):
    from ..config import load_config

    return load_config(args.station)


def _warn_stale(tles, norads, now) -> None:
    for n, age in tles.stale(now):
        if n in norads:
            how = f"is {age:.1f} days old" if age >= 0 else f"has its epoch {-age:.1f} days later"
            print(f"groundseg: warning: element set of NORAD {n} {how} (stale): predictions drift",
                  file=sys.stderr)


def _names(catalog, tles) -> dict[int, str]:
    names = {es.norad: es.name for es in tles.all() if es.name}
    for s in catalog or ():
        names[s.norad] = s.name
    return names


def _hhmm(t: float) -> str:
    from ..orbit.elements import iso_utc

    return iso_utc(t)[11:19]


def cmd_passes(args) -> int:
    import time

    from ..catalog import load_catalog
    from ..errors import InputError
    from ..orbit import TLEStore, find_passes
    from ..orbit.elements import iso_utc

    cfg = _load(args)
    now = _parse_time(args.start, "--start") or time.time()
    if not 0 < args.hours <= 24 * 14:
        raise InputError(f"--hours {args.hours:g} is outside (0, 336]")
    tles = TLEStore(cfg.state_dir / "elements.json", cfg.orbit.stale_after_days * 86400.0, readonly=True)
    for p in cfg.tle_paths():
        rep = tles.update_from_file(p, now)
        for e in rep.errors:
            print(f"groundseg: warning: {e}", file=sys.stderr)
    norads = args.norad or tles.norads()
    sets = [tles.get(n) for n in norads]
    _warn_stale(tles, set(norads), now)
    res = find_passes(sets, cfg.ground_station(), now, now + args.hours * 3600.0, mask=cfg.horizon_mask(),
                      step_s=cfg.orbit.search_step_s)
    for n, why in sorted(res.problems.items()):
        print(f"groundseg: warning: NORAD {n}: {why}", file=sys.stderr)
    passes = [p for p in res.passes if args.min_el is None or p.max_el_deg >= args.min_el]
    try:
        catalog = load_catalog()
    except InputError:
        catalog = None
    names = _names(catalog, tles)
    if args.json:
        for p in passes:
            d = p.to_dict()
            d["name"] = names.get(p.norad, "")
            print(json.dumps(d))
        return 0
    print(f"passes over {cfg.station.name} from {iso_utc(now)} UTC, next {args.hours:g} h "
          f"({len(passes)} passes)")
    print(f"{'NORAD':>6} {'satellite':22} {'AOS (UTC)':19} {'culm.':8} {'LOS':8} {'dur':>6} "
          f"{'max el':>6} {'az AOS>LOS':>11}")
    for p in passes:
        mark = "<" if p.aos_truncated else " "
        print(f"{p.norad:>6} {names.get(p.norad, '')[:22]:22} {iso_utc(p.aos_unix_s):19}{mark}"
              f"{_hhmm(p.tca_unix_s):8} {_hhmm(p.los_unix_s):8} {p.duration_s / 60:5.1f}m "
              f"{p.max_el_deg:5.1f}° {p.aos_az_deg:5.0f}°>{p.los_az_deg:3.0f}°")
    return 0


def cmd_plan(args) -> int:
    from ..catalog import load_catalog
    from ..errors import InputError
    from ..orbit import TLEStore
    from ..orbit.elements import iso_utc
    from .clock import RealClock
    from .service import PlanningService
    from .store import DB_NAME, ScheduleStore

    cfg = _load(args)
    now = _parse_time(args.now, "--now") or RealClock().now()
    if args.hours is not None:
        if not 0 < args.hours <= 24 * 14:
            raise InputError(f"--hours {args.hours:g} is outside (0, 336]")
        import dataclasses

        cfg = dataclasses.replace(cfg, sections={**cfg.sections, "planner": dataclasses.replace(
            cfg.planner, horizon_hours=args.hours)})
    stale_s = cfg.orbit.stale_after_days * 86400.0
    if args.commit:
        store, tles = None, None
    else:
        store = ScheduleStore.snapshot(cfg.state_dir / DB_NAME)
        tles = TLEStore(cfg.state_dir / "elements.json", stale_s, readonly=True)
    catalog = load_catalog()
    svc = PlanningService(cfg, store=store, tles=tles, catalog=catalog)
    out = svc.start(now)
    res = out["replan"]
    for rep in out["tle_reports"]:
        for e in rep.errors:
            print(f"groundseg: warning: {e}", file=sys.stderr)
    for pid, st in out["recovered"].items():
        print(f"groundseg: {pid}: marked {st} after the restart", file=sys.stderr)
    _warn_stale(svc.tles, {n for n, _ in res.stale}, now)
    names = _names(catalog, svc.tles)
    stored = {p.pass_id: p for p in svc.store.passes()}
    planned = svc.store.passes(["planned", "pre-pass", "in-pass", "post-pass"], start_unix_s=now)
    dropped = svc.store.dropped()
    if args.json:
        doc = res.plan.to_dict()
        doc["planned"] = [p.to_dict() | {"name": names.get(p.norad, "")} for p in planned]
        doc["dropped"] = [d.to_dict() | {"name": names.get(d.norad, "")} for d in dropped]
        doc["diff"] = {k: getattr(res.diff, k) for k in ("plan_rev", "added", "updated", "unchanged",
                                                          "cancelled", "missed")}
        doc["committed"] = bool(args.commit)
        print(json.dumps(doc, indent=1))
        return 0
    h = cfg.planner.horizon_hours
    print(f"plan for {cfg.station.name} at {iso_utc(now)} UTC, next {h:g} h: {len(planned)} planned, "
          f"{len(dropped)} dropped{'' if args.commit else ' (not committed)'}")
    print("\nPLANNED")
    print(f"  {'start (UTC)':16} {'end':5} {'chain':8} {'task':14} {'NORAD':>6} {'satellite':18} "
          f"{'MHz':>9} {'max el':>6} {'qual':>4} {'prio':>4} state")
    for p in planned:
        st = stored.get(p.pass_id)
        print(f"  {iso_utc(p.start_unix_s)[:16]:16} {_hhmm(p.end_unix_s)[:5]:5} {p.chain[:8]:8} "
              f"{p.task_id[:14]:14} {p.norad:>6} {names.get(p.norad, '')[:18]:18} {p.freq_hz / 1e6:9.4f} "
              f"{p.max_el_deg:5.1f}° {p.quality:4.2f} {p.priority:>4} {st.state.value if st else ''}")
    print("\nDROPPED")
    print(f"  {'AOS (UTC)':16} {'task':14} {'NORAD':>6} {'max el':>6}  reason")
    for d in dropped:
        aos = iso_utc(d.aos_unix_s)[:16] if d.aos_unix_s is not None else "-"
        el = f"{d.max_el_deg:5.1f}°" if d.max_el_deg is not None else "     -"
        print(f"  {aos:16} {d.task_id[:14]:14} {d.norad:>6} {el:>6}  {d.reason}")
    return 0

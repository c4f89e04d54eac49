"""Telecommand uplink: CCSDS TC/CLTU coding, loopback through our receive chain, and the refusal policy."""
from __future__ import annotations

import json

import numpy as np
import pytest

from groundseg.config import parse_config
from groundseg.dsp.channel import awgn, pad
from groundseg.errors import InputError
from groundseg.orbit import GroundStation, HorizonMask, TLEStore, find_passes
from groundseg.orbit.doppler import DopplerModel, doppler_hz
from groundseg.orbit.passes import look_angles
from groundseg.registry import Registry
from groundseg.uplink import tc
from groundseg.framing.ccsds_tc import CltuDeframer, CltuFramer
from groundseg.uplink.commands import register_commands
from groundseg.uplink.doppler import correction_curve
from groundseg.uplink.policy import PassWindow, UplinkRefused
from groundseg.uplink.queue import TelecommandQueue
from groundseg.uplink.sdr import FileSdrSink
from groundseg.uplink.service import UplinkService
from groundseg.uplink.settings import CcsdsSettings, SdrSettings, UplinkSettings
from groundseg.uplink.txlog import TransmissionLog

from conftest import ROOT

SEED_TLE = ROOT / "seeds" / "tle" / "catalog.tle"
NORAD = 39430
GS = GroundStation(52.2297, 21.0122, 110.0, "uplink-test")
FS = 192_000.0
FREQ = 437.5e6


# --- the orbit of the tests -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def orbit():
    tles = TLEStore()
    tles.update_from_file(SEED_TLE, 0.0)
    es = tles.get(NORAD)
    t_epoch = es.epoch_unix_s
    res = find_passes([es], GS, t_epoch, t_epoch + 2 * 86400.0, mask=HorizonMask())
    high = [p for p in res.passes if p.max_el_deg >= 45.0]
    low = [p for p in res.passes if 3.0 <= p.max_el_deg < 8.0]
    return es, high[0], low[0]


def window(p, pass_id="p-high", state="in-pass"):
    return PassWindow(pass_id, NORAD, p.aos_unix_s, p.tca_unix_s, p.los_unix_s, p.max_el_deg, state)


class Clock:
    def __init__(self, t):
        self.t = t

    def now(self):
        return self.t


def make_service(tmp_path, orbit, *, enabled=True, min_el=10.0, modulation="AFSK", baud=1200.0, passes=None,
                 **kw):
    es, high, low = orbit
    s = UplinkSettings(transmit_enabled=enabled, min_el_deg=min_el, callsign="SP5XYZ", modulation=modulation,
                       baud=baud, freq_hz=FREQ, lead_s=0.1, sdr=SdrSettings(kind="file", samp_rate_sps=FS,
                                                                           path=str(tmp_path / "iq")),
                       ccsds=CcsdsSettings(scid=0x1AB, vcid=2), **kw)
    wins = passes or {"p-high": window(high), "p-low": window(low, "p-low"),
                      "p-done": window(high, "p-done", "completed")}

    def lookup(pid):
        if pid not in wins:
            raise UplinkRefused("not_found", f"no pass {pid!r}")
        return wins[pid]

    sink = FileSdrSink(s.sdr)
    return UplinkService(s, passes=lookup, elements=lambda n: es, ground_station=GS, clock=Clock(high.aos_unix_s),
                         sink=sink, txlog=TransmissionLog(tmp_path / "tx.jsonl"),
                         queue=TelecommandQueue(tmp_path / "q.sqlite"))


# --- CCSDS TC coding ----------------------------------------------------------------------------------------------

def test_randomizer_sequence_and_bch_codeblocks():
    assert tc.randomize(bytes(5)) == bytes.fromhex("FF399E5A68")   # published start of the TC randomiser
    assert tc.randomize(tc.randomize(b"telecommand")) == b"telecommand"
    info = bytes.fromhex("0123456789ABCD")
    blk = info + bytes([tc.bch_parity(info)])
    assert blk[7] & 1 == 0                                             # the filler bit
    assert tc.bch_decode(blk) == (info, 0)
    for bit in range(64 - 1):                                          # every single error is corrected
        bad = bytearray(blk)
        bad[bit // 8] ^= 0x80 >> (bit % 8)
        assert tc.bch_decode(bytes(bad)) == (info, 1), bit
    bad = bytearray(blk)
    bad[0] ^= 0xC0                                                     # two errors: detected, not "corrected"
    assert tc.bch_decode(bytes(bad))[0] is None
    assert tc.bch_decode(bytes(7) + bytes([0xFE])) == (bytes(7), 0)    # all-zero info: complemented parity


def test_tc_frame_and_cltu_round_trip():
    f = tc.TcFrame(scid=0x2AB, vcid=5, seq=200, data=b"\x10\x20PING").encode()
    assert f[:5] == bytes([0x22, 0xAB, (5 << 2) | 0, len(f) - 1, 200])
    c = tc.cltu_encode(f)
    assert c[:2] == b"\xEB\x90" and c[-8:] == bytes.fromhex("C5C5C5C5C5C5C579") and (len(c) - 10) % 8 == 0
    res = tc.cltu_decode(c[2:])
    fr, ok = tc.parse_tc_frame(res.data)
    assert ok and res.complete and fr.data == b"\x10\x20PING" and (fr.scid, fr.vcid, fr.seq) == (0x2AB, 5, 200)
    bad = bytearray(f)
    bad[6] ^= 1
    assert tc.parse_tc_frame(bytes(bad))[1] is False
    for args in [dict(scid=1024, vcid=0, seq=0, data=b"x"), dict(scid=0, vcid=64, seq=0, data=b"x"),
                 dict(scid=0, vcid=0, seq=0, data=b""), dict(scid=0, vcid=0, seq=0, data=bytes(1018))]:
        with pytest.raises(InputError):
            tc.TcFrame(**args).encode()


def test_cltu_deframer_corrects_errors_in_both_polarities_in_any_chunking(rng):
    f = tc.TcFrame(7, 1, 3, bytes(range(60))).encode()
    bits = CltuFramer().frame(f)
    soft = (2.0 * bits - 1.0).astype(np.float32)
    soft[16 * 8 + 16 + 5] *= -1                                       # one error in the first codeblock
    noise = rng.standard_normal(777).astype(np.float32)
    stream = np.concatenate([noise, soft, noise, -soft, noise])
    d = CltuDeframer()
    got = []
    for k in range(0, stream.size, 131):
        got += d.process(stream[k:k + 131])
    got += d.flush()
    assert [(g.data, g.crc_ok, g.inverted, g.corrected) for g in got] == [(f[:-2], True, False, 1),
                                                                          (f[:-2], True, True, 1)]
    assert got[0].meta["tc"] == {"scid": 7, "vcid": 1, "seq": 3, "bypass": True, "control": False}
    assert CltuDeframer().process(rng.standard_normal(20000).astype(np.float32)) == []


# --- loopback: framed, modulated, pre-compensated, through the opposite Doppler and noise, decoded -----------------

def satellite_channel(iq, t0, es, freq_hz, correction_hz, rng, ebn0_db, baud):
    """What the satellite's receiver (tuned to freq_hz) gets from a burst sent on freq_hz (its baseband
    carrying the uplink correction ``correction_hz``): the Doppler of the carrier actually on the air, and noise."""
    n = iq.size
    ts = t0 + np.arange(n) / FS
    tg = np.linspace(ts[0], ts[-1], 64)
    rr = np.interp(ts, tg, look_angles(es, GS, tg).range_rate_mps)
    shift = doppler_hz(freq_hz + correction_hz, rr)      # the air's Doppler of the carrier actually sent
    from groundseg.dsp.channel import freq_shift

    rx = freq_shift(iq, shift, FS)
    rx = pad(rx, int(0.05 * FS), int(0.05 * FS))
    return awgn(rx, ebn0_db, FS, baud, rng)


def decode_iq(tmp_path, iq, modulation, baud, framing, deviation_hz=None, af_carrier_hz=None, options=None):
    from groundseg.blocks.sources import SourceSpec
    from groundseg.decode import adhoc_chain, decode

    p = tmp_path / "rx.cf32"
    np.asarray(iq, np.complex64).tofile(p)
    ch = adhoc_chain(modulation, baud, framing, deviation_hz=deviation_hz, af_carrier_hz=af_carrier_hz,
                     options=options)
    return decode(SourceSpec("iq", str(p), samp_rate_sps=FS, datatype="cf32_le"), [ch]).frames


LOOPBACK = [
    # framing, modulation, baud, deviation, af carrier, rx framing options
    ("AX.25", "AFSK", 1200.0, 500.0, 1700.0, None),
    ("AX.25 G3RUH", "GFSK", 9600.0, 3000.0, None, None),
    ("CCSDS TC", "BPSK", 2400.0, None, None, None),
    ("CCSDS TC", "FSK", 4800.0, 2400.0, None, None),
]


@pytest.mark.parametrize("framing,modulation,baud,dev,afc,opts", LOOPBACK)
def test_loopback_telecommand_decodes_to_the_same_bytes(tmp_path, orbit, rng, framing, modulation, baud, dev, afc,
                                                        opts):
    es, high, _ = orbit
    svc = make_service(tmp_path, orbit, modulation=modulation, baud=baud, deviation_hz=dev, af_carrier_hz=afc)
    payload = b"\x01\x02SET MODE 3;" + bytes(range(20))
    tg = np.linspace(high.aos_unix_s, high.tca_unix_s, 400)
    t_send = float(tg[np.argmax(look_angles(es, GS, tg).el_deg >= 15.0)])   # approaching fast: large Doppler
    svc.clock.t = t_send
    options = {"dst": "GOMX1"} if framing.startswith("AX.25") else None
    q = svc.queue_telecommand("p-high", payload, framing, "operator", "op", options=options)
    assert q["state"] == "queued"
    res = svc.process_due()
    assert [r["state"] for r in res] == ["sent"]
    entry = svc.txlog.read("transmission")[-1]
    assert entry["result"] == "sent" and entry["payload_hex"] == payload.hex() and entry["framing"] == framing
    assert abs(entry["doppler_start_hz"]) > 3000                          # a real pre-compensation
    assert entry["el_start_deg"] >= 10.0
    # the burst on file, as the SDR would have sent it
    burst = np.fromfile(tmp_path / "iq" / f"{q['id']}.sigmf-data", np.complex64)
    meta = json.loads((tmp_path / "iq" / f"{q['id']}.sigmf-meta").read_text())
    assert meta["captures"][0]["core:frequency"] == FREQ and meta["global"]["core:sample_rate"] == FS
    dm = DopplerModel(es, GS)
    corr = correction_curve(lambda t: dm.offset_hz(FREQ, t, "uplink"), entry["t_start_unix_s"], burst.size, FS)
    rx = satellite_channel(burst, entry["t_start_unix_s"], es, FREQ, corr, rng, 20.0, baud)
    frames = [f for f in decode_iq(tmp_path, rx, modulation, baud, framing, dev, afc, opts) if f["crc_ok"]]
    assert [f["hex"] for f in frames] == [entry["frame_hex"]]
    data = bytes.fromhex(frames[0]["hex"])
    if framing.startswith("AX.25"):
        assert data.endswith(payload) and frames[0]["ax25"]["dst"] == "GOMX1" and frames[0]["ax25"]["src"] == "SP5XYZ"
    else:
        fr = tc.parse_delivered(data)
        assert fr.data == payload and (fr.scid, fr.vcid) == (0x1AB, 2)
    # without the pre-compensation the satellite hears it off frequency: the same burst is not decoded
    raw = burst * np.exp(-2j * np.pi * np.cumsum(corr) / FS).astype(np.complex64)
    rx0 = satellite_channel(raw, entry["t_start_unix_s"], es, FREQ, np.zeros_like(corr), rng, 20.0, baud)
    if modulation != "AFSK":   # AFSK over FM only moves its audio's DC level: it decodes either way
        assert [f for f in decode_iq(tmp_path, rx0, modulation, baud, framing, dev, afc, opts) if f["crc_ok"]] == []


# --- the refusals -------------------------------------------------------------------------------------------------

def _tx_count(svc):
    return sum(1 for e in svc.txlog.read("transmission") if e.get("result") == "sent")


REFUSALS = [
    # name, service kwargs, call kwargs, clock (relative to the high pass), code, words in the message
    ("read-only client", {}, dict(role="readonly"), "inside", "forbidden", "operator role"),
    ("transmit disabled", dict(enabled=False), {}, "inside", "refused", "transmit is disabled"),
    ("unknown pass", {}, dict(pass_id="p-nope"), "inside", "not_found", "no pass"),
    ("pass over", {}, {}, "after", "refused", "outside a pass"),
    ("pass completed", {}, dict(pass_id="p-done"), "inside", "refused", "outside a pass"),
    ("below the elevation limit", {}, dict(pass_id="p-low"), "low", "refused", "below the elevation limit"),
    ("limit above the culmination", dict(min_el=89.5), {}, "inside", "refused", "below the elevation limit"),
    ("bad payload for the framing", {}, dict(payload=b""), "inside", "invalid", "empty"),
    ("no AX.25 destination", {}, dict(options={}), "inside", "invalid", "options.dst"),
]


@pytest.mark.parametrize("name,svc_kw,call_kw,when,code,words", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refusals_are_clear_and_transmit_nothing(tmp_path, orbit, name, svc_kw, call_kw, when, code, words):
    es, high, low = orbit
    svc = make_service(tmp_path, orbit, **svc_kw)
    svc.clock.t = {"inside": high.tca_unix_s, "after": high.los_unix_s + 60.0, "low": low.tca_unix_s}[when]
    args = dict(pass_id="p-high", payload=b"\x01CMD", framing="AX.25", role="operator", who="someone",
                options={"dst": "GOMX1"})
    args.update(call_kw)
    with pytest.raises(UplinkRefused) as ei:
        svc.queue_telecommand(args.pop("pass_id"), args.pop("payload"), args.pop("framing"), args.pop("role"),
                              **args)
    assert ei.value.code == code and words in ei.value.message and "\n" not in ei.value.message
    assert svc.queue.pending() == [] and svc.process_due() == []
    assert _tx_count(svc) == 0
    assert not (tmp_path / "iq").exists() or not list((tmp_path / "iq").glob("*"))
    ref = svc.txlog.read("refusal")
    assert len(ref) == 1 and ref[0]["code"] == code and ref[0]["who"] == "someone"


def test_queued_telecommand_waits_for_the_pass_and_the_elevation_and_expires_after(tmp_path, orbit):
    es, high, _ = orbit
    svc = make_service(tmp_path, orbit, min_el=30.0)
    svc.clock.t = high.aos_unix_s - 600.0                      # queued before the pass
    q = svc.queue_telecommand("p-high", b"\x01CMD", "AX.25", "operator", "op", options={"dst": "GOMX1"})
    assert svc.process_due() == [] and _tx_count(svc) == 0     # outside the pass: waits
    t_low = high.aos_unix_s + 30.0
    assert look_angles(es, GS, t_low).el_deg[0] < 30.0
    svc.clock.t = t_low
    assert svc.process_due() == [] and _tx_count(svc) == 0     # in the pass, below the limit, rising: waits
    svc.clock.t = high.los_unix_s + 1.0
    assert [r["state"] for r in svc.process_due()] == ["expired"] and _tx_count(svc) == 0
    assert svc.queue.get(q["id"]).state == "expired"


def test_transmit_disabled_after_queueing_refuses_at_send_time(tmp_path, orbit):
    import dataclasses

    es, high, _ = orbit
    svc = make_service(tmp_path, orbit)
    svc.clock.t = high.tca_unix_s
    q = svc.queue_telecommand("p-high", b"\x01CMD", "AX.25", "operator", "op", options={"dst": "GOMX1"})
    svc.settings = dataclasses.replace(svc.settings, transmit_enabled=False)   # e.g. a configuration reload
    assert [r["state"] for r in svc.process_due()] == ["refused"]
    assert _tx_count(svc) == 0 and svc.queue.get(q["id"]).state == "refused"
    assert "transmit is disabled" in svc.txlog.read("refusal")[-1]["message"]


def test_every_transmission_is_logged_with_what_and_when(tmp_path, orbit):
    es, high, _ = orbit
    svc = make_service(tmp_path, orbit)
    svc.clock.t = high.tca_unix_s
    ids = [svc.queue_telecommand("p-high", bytes([i]) * 4, "CCSDS TC", "operator", "op")["id"] for i in range(3)]
    assert [r["state"] for r in svc.process_due()] == ["sent"] * 3
    log = svc.txlog.read("transmission")
    assert [e["command_id"] for e in log] == ids
    for i, e in enumerate(log):
        fr = tc.parse_delivered(bytes.fromhex(e["frame_hex"]))
        assert fr.data == bytes([i]) * 4 and e["who"] == "op" and e["t_start_unix_s"] >= high.tca_unix_s
        assert e["t_end_unix_s"] > e["t_start_unix_s"] and e["freq_hz"] == FREQ and e["time"].endswith("Z")
    assert [svc.queue.get(i).state for i in ids] == ["sent"] * 3
    assert len({tc.parse_delivered(bytes.fromhex(e["frame_hex"])).seq for e in log}) == 3


# --- the control-plane command definitions ---------------------------------------------------------------------

def test_control_commands_map_refusals_to_error_codes(tmp_path, orbit):
    from groundseg.control.auth import Identity
    from groundseg.control.commands import RequestContext
    from groundseg.control.protocol import ControlError
    from groundseg.control.schema import validate
    from groundseg.uplink import wiring

    es, high, _ = orbit
    reg = Registry("test command")
    assert set(register_commands(reg)) == {"gateway.status", "uplink.queue", "uplink.cancel", "uplink.list",
                                           "uplink.log"}
    assert register_commands(reg) == []                       # idempotent
    assert reg.get("uplink.queue").role == "operator" and reg.get("uplink.list").role == "readonly"

    class Api:
        station = object.__new__(type("S", (), {}))

    svc = make_service(tmp_path, orbit)
    svc.clock.t = high.tca_unix_s
    wiring._SERVICES[Api.station] = svc
    cmd = reg.get("uplink.queue")
    args = validate(cmd.args, {"pass_id": "p-high", "payload_hex": "01CAFE", "framing": "AX.25",
                               "options": {"dst": "GOMX1"}}, cmd.name)
    ro = RequestContext(Identity("viewer", "readonly"), 1)
    with pytest.raises(ControlError) as ei:
        cmd.handler(Api, args, ro)
    assert ei.value.code == "forbidden"
    op = RequestContext(Identity("alice", "operator"), 2)
    out = cmd.handler(Api, args, op)
    assert out["state"] == "queued" and out["who"] == "alice" and out["payload_hex"] == "01cafe"
    with pytest.raises(ControlError) as ei:
        validate(cmd.args, {**args, "payload_hex": "xyz"}, cmd.name)
    assert ei.value.code == "bad_args"
    listed = reg.get("uplink.list").handler(Api, {"state": "queued", "limit": 10}, ro)["telecommands"]
    assert [t["id"] for t in listed] == [out["id"]]
    canc = reg.get("uplink.cancel")
    assert canc.handler(Api, {"id": out["id"]}, op)["state"] == "cancelled"
    with pytest.raises(ControlError) as ei:
        canc.handler(Api, {"id": out["id"]}, op)
    assert ei.value.code == "conflict"
    with pytest.raises(ControlError) as ei:
        reg.get("gateway.status").handler(Api, {}, ro)
    assert ei.value.code == "refused"                         # no gateway attached to this station


BAD_UPLINK_SECTIONS = [
    ({"min_el_deg": 95}, "uplink.min_el_deg"),
    ({"modulation": "OOK-smoke"}, "uplink.modulation"),
    ({"sdr": {"kind": "hackrf-ish"}}, "uplink.sdr.kind"),
    ({"sdr": {"samp_rate_sps": 2000}, "baud": 9600}, "uplink.sdr.samp_rate_sps"),
    ({"ccsds": {"scid": 2000}}, "uplink.ccsds.scid"),
    ({"transmit_enabled": "yes"}, "uplink.transmit_enabled"),
    ({"surprise": 1}, "uplink.surprise: unknown key"),
]


@pytest.mark.parametrize("section,expect", BAD_UPLINK_SECTIONS)
def test_malformed_uplink_sections_are_rejected(tmp_path, section, expect):
    doc = {"station": {"name": "GS", "lat_deg": 1.0, "lon_deg": 2.0, "alt_m": 0.0},
           "chains": [{"name": "c", "sdr_args": "driver=rtlsdr", "freq_min_hz": 430e6, "freq_max_hz": 440e6,
                       "samp_rate_sps": 1e6}], "uplink": section}
    with pytest.raises(InputError) as ei:
        parse_config(doc, tmp_path / "s.toml")
    assert expect in str(ei.value)


def test_attach_uplink_wires_the_station_store_elements_clock_and_config(tmp_path, orbit):
    from types import SimpleNamespace

    from groundseg.uplink.wiring import attach_uplink, uplink_of

    es, high, _ = orbit
    config = parse_config({
        "station": {"name": "GS", "lat_deg": GS.lat_deg, "lon_deg": GS.lon_deg, "alt_m": GS.alt_m},
        "storage": {"state_dir": str(tmp_path / "state"), "artifacts_dir": str(tmp_path / "passes")},
        "chains": [{"name": "c", "sdr_args": "driver=rtlsdr", "freq_min_hz": 430e6, "freq_max_hz": 440e6,
                    "samp_rate_sps": 1e6}],
        "uplink": {"transmit_enabled": True, "min_el_deg": 10.0, "freq_hz": FREQ, "callsign": "SP5XYZ",
                   "sdr": {"kind": "file", "samp_rate_sps": FS}},
    }, tmp_path / "station.toml")
    rec = SimpleNamespace(pass_id="gomx-1", norad=NORAD, aos_unix_s=high.aos_unix_s, tca_unix_s=high.tca_unix_s,
                          los_unix_s=high.los_unix_s, max_el_deg=high.max_el_deg,
                          state=SimpleNamespace(value="in-pass"))

    def get_pass(pid):
        if pid != "gomx-1":
            raise InputError(f"no pass {pid!r}")
        return rec

    class Station:  # the parts of groundseg.station.Station the wiring uses
        pass

    station = Station()
    station.config, station.clock, station.catalog = config, Clock(high.tca_unix_s), None
    station.store = SimpleNamespace(get_pass=get_pass)
    station.planning = SimpleNamespace(tles=SimpleNamespace(get=lambda n: es))
    svc = attach_uplink(station, start=False)
    try:
        assert uplink_of(station) is svc
        with pytest.raises(UplinkRefused) as ei:
            svc.queue_telecommand("nope", b"\x01", "AX.25", "operator", options={"dst": "GOMX1"})
        assert ei.value.code == "not_found"
        q = svc.queue_telecommand("gomx-1", b"\x01PING", "AX.25", "operator", "op", options={"dst": "GOMX1"})
        assert q["freq_hz"] == FREQ and q["modulation"] == "AFSK"
        assert [r["state"] for r in svc.process_due()] == ["sent"]
        assert (tmp_path / "state" / "uplink" / "iq" / f"{q['id']}.sigmf-data").stat().st_size > 0
        log = [json.loads(x) for x in (tmp_path / "state" / "uplink" / "transmissions.jsonl").read_text().splitlines()]
        assert log[-1]["kind"] == "transmission" and log[-1]["result"] == "sent" and log[-1]["pass_id"] == "gomx-1"
    finally:
        svc.close()
    # the queue is persistent: a restarted service sees the telecommand's final state
    q2 = TelecommandQueue(tmp_path / "state" / "uplink" / "queue.sqlite")
    assert q2.get(q["id"]).state == "sent"

"""The Grafana dashboard, the alert rules and the scrape config in deploy/ against the exporter.

* ``promtool check rules`` / ``check config`` accept the rules and the example
  scrape configuration; every dashboard query parses (checked by promtool as
  recording rules, Grafana variables filled in);
* ``promtool test rules`` fires the alerts on made-up series (and stays quiet
  on healthy ones);
* every metric name in a dashboard query, a dashboard variable or an alert
  expression is one the exporter produces (``telemetry.metric_names()``);
* ``promtool check metrics`` finds nothing to say about a scrape of the exporter.
"""
from __future__ import annotations

import json
import pathlib
import re
import subprocess
from types import SimpleNamespace

import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest

from groundseg.schedule import SimClock
from groundseg.station import EventBus
from groundseg.telemetry import EventBridge, StationCollector, StationMetrics, metric_names
from groundseg.telemetry.collectors import add_process_collectors

from conftest import need_program

ROOT = pathlib.Path(__file__).resolve().parents[1]
RULES = ROOT / "deploy" / "prometheus" / "groundseg-alerts.yml"
SCRAPE = ROOT / "deploy" / "prometheus" / "prometheus-scrape.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "groundseg-dashboard.json"
PROMETHEUS_OWN = {"up"}  # series Prometheus itself adds to every scrape


# --- PromQL: the metric names an expression reads ------------------------------------------------

_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool",
             "offset", "inf", "nan"}


def promql_metric_names(expr: str) -> set[str]:
    """Metric names (selectors) in a PromQL expression: not functions, keywords, labels or durations."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    s = re.sub(r"\{[^}]*\}", "", s)  # label matchers
    s = re.sub(r"\[[^\]]*\]", "", s)  # ranges and subqueries
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", s):
        tok = m.group(0)
        if s[m.end():].lstrip().startswith("("):
            continue  # a function or an aggregation
        if tok.lower() in _KEYWORDS:
            continue
        if m.start() > 0 and (s[m.start() - 1].isdigit() or s[m.start() - 1] == "."):
            continue  # 1e3, 5m
        names.add(tok)
    return names


@pytest.mark.parametrize("expr,names", [
    ('sum by (chain) (increase(groundseg_frames_decoded_total{instance=~"$instance", chain="a b"}[$__rate_interval]))',
     {"groundseg_frames_decoded_total"}),
    ("time() - groundseg_tle_last_update_timestamp_seconds > 3 * 86400",
     {"groundseg_tle_last_update_timestamp_seconds"}),
    ("a_metric / on(instance) group_left(chain) b_metric offset 5m", {"a_metric", "b_metric"}),
    ("rate(x[5m:1m]) and bool y or absent(z{job='q'}) > 1e3", {"x", "y", "z"}),
    ('label_replace(up, "dst", "$1", "src", "(.*)")', {"up"}),
])
def test_promql_metric_names(expr, names):
    assert promql_metric_names(expr) == names


# --- the files ------------------------------------------------------------------------------------

def load_rules() -> list[dict]:
    doc = yaml.safe_load(RULES.read_text())
    return [r for g in doc["groups"] for r in g["rules"]]


def dashboard_panels(panels=None):
    for p in panels if panels is not None else json.loads(DASHBOARD.read_text())["panels"]:
        yield p
        yield from dashboard_panels(p.get("panels") or [])


def dashboard_exprs() -> list[str]:
    return [t["expr"] for p in dashboard_panels() for t in p.get("targets") or [] if t.get("expr")]


def dashboard_variable_queries() -> list[str]:
    out = []
    for v in json.loads(DASHBOARD.read_text())["templating"]["list"]:
        if v.get("type") != "query":
            continue
        q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
        m = re.fullmatch(r"label_values\((.*),\s*[a-zA-Z_]\w*\)", q.strip())
        out.append(m.group(1) if m else q)
    return out


def grafana_to_promql(expr: str) -> str:
    """A dashboard query with Grafana's variables filled in, as Prometheus would get it."""
    return (expr.replace("$__rate_interval", "1m").replace("$__interval", "30s").replace("$__range", "1h")
            .replace("$instance", ".*").replace("$chain", ".*"))


def test_the_alert_rules_pass_promtool():
    promtool = need_program("promtool")
    r = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"SUCCESS: {len(load_rules())} rules found" in r.stdout


def test_the_example_scrape_config_passes_promtool():
    promtool = need_program("promtool")
    r = subprocess.run([promtool, "check", "config", SCRAPE.name], capture_output=True, text=True, timeout=60,
                       cwd=SCRAPE.parent)
    assert r.returncode == 0, r.stdout + r.stderr
    doc = yaml.safe_load(SCRAPE.read_text())
    assert [j["job_name"] for j in doc["scrape_configs"]] == ["groundseg"]  # the rules select job="groundseg"
    assert doc["rule_files"] == [RULES.name]


def test_every_dashboard_query_parses(tmp_path):
    promtool = need_program("promtool")
    exprs = dashboard_exprs() + dashboard_variable_queries()
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query{i}", "expr": grafana_to_promql(e)} for i, e in enumerate(exprs)]}]}
    f = tmp_path / "dashboard-queries.yml"
    f.write_text(yaml.safe_dump(rules))
    r = subprocess.run([promtool, "check", "rules", str(f)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(exprs) >= 60


def test_dashboard_and_rules_name_only_exported_metrics():
    known = metric_names() | PROMETHEUS_OWN
    used_dash = set().union(*(promql_metric_names(grafana_to_promql(e))
                              for e in dashboard_exprs() + dashboard_variable_queries()))
    used_rules = set().union(*(promql_metric_names(r["expr"]) for r in load_rules()))
    assert used_dash - known == set(), "dashboard names metrics the exporter does not have"
    assert used_rules - known == set(), "alert rules name metrics the exporter does not have"
    ours = {n for n in known if n.startswith("groundseg_") and not n.endswith("_created")}
    # the dashboard shows nearly everything the station exports
    assert len(used_dash & ours) >= 0.9 * len(ours), sorted(ours - used_dash)


def test_the_name_check_would_catch_a_typo():
    known = metric_names()
    assert promql_metric_names("rate(groundseg_frames_decoded[5m])") - known == {"groundseg_frames_decoded"}
    assert promql_metric_names("groundseg_tle_age_seconds > 86400") - known == {"groundseg_tle_age_seconds"}


def test_the_dashboard_is_well_formed():
    d = json.loads(DASHBOARD.read_text())
    assert d["uid"] and d["title"] and d["schemaVersion"] >= 30
    ids = [p["id"] for p in dashboard_panels()]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    ds_names = {v["name"] for v in d["templating"]["list"] if v["type"] == "datasource"}
    for p in dashboard_panels():
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24, p["title"]
        if p["type"] == "row":
            continue
        assert p["targets"], p["title"]
        for t in [p] + p["targets"]:
            assert t["datasource"]["uid"].strip("${}") in ds_names, p["title"]


def test_the_alerts_cover_the_issue():
    rules = {r["alert"]: r for r in load_rules()}
    for name in ("GroundsegStationDown", "GroundsegNoFramesForPasses", "GroundsegTLEStale",
                 "GroundsegRotatorNotFollowing", "GroundsegGatewayBacklogGrowing", "GroundsegPassFailures"):
        assert name in rules
    for r in rules.values():
        assert r["labels"]["severity"] in ("critical", "warning", "info"), r["alert"]
        assert r["annotations"]["summary"] and r["annotations"]["description"], r["alert"]


# --- the alerts fire (promtool test rules) --------------------------------------------------------

L = 'job="groundseg", instance="station:9108"'
LBL = {"job": "groundseg", "instance": "station:9108"}


def _expand(text: str, labels: dict, value: float) -> str:
    v = f"{value:g}"
    text = re.sub(r"\{\{\s*\$value\s*\}\}", v, text)
    return re.sub(r"\{\{\s*\$labels\.(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), text)


def expected(alert: str, labels: dict, value: float) -> dict:
    rule = next(r for r in load_rules() if r.get("alert") == alert)
    return {"exp_labels": {**labels, **rule["labels"]},
            "exp_annotations": {k: _expand(v, labels, value) for k, v in rule["annotations"].items()}}


# (alert, input series, eval time, expected alerts: [(labels, value)]) ; [] = must not fire
ALERT_CASES = [
    ("GroundsegNoFramesForPasses",
     [(f'groundseg_chain_consecutive_passes_without_frames{{{L}, chain="uhf0"}}', "0 1 2 3 3"),
      (f'groundseg_chain_consecutive_passes_without_frames{{{L}, chain="vhf0"}}', "0 1 0 1 2")],
     "4m", [({**LBL, "chain": "uhf0"}, 3)]),
    ("GroundsegNoFramesForPasses",
     [(f'groundseg_chain_consecutive_passes_without_frames{{{L}, chain="uhf0"}}', "0 1 2 0 1")], "4m", []),
    ("GroundsegStationDown", [(f"up{{{L}}}", "1 1 0 0 0 0 0")], "6m", [(LBL, 0)]),
    ("GroundsegStationDown", [(f"up{{{L}}}", "1 1 0 1 0 1 1")], "6m", []),
    ("GroundsegRotatorNotFollowing",
     [(f'groundseg_rotator_tracking{{{L}, rotator="rot1"}}', "1x10"),
      (f'groundseg_rotator_commanded_azimuth_degrees{{{L}, rotator="rot1"}}', "100x10"),
      (f'groundseg_rotator_reported_azimuth_degrees{{{L}, rotator="rot1"}}', "0x10"),
      (f'groundseg_rotator_commanded_elevation_degrees{{{L}, rotator="rot1"}}', "30x10"),
      (f'groundseg_rotator_reported_elevation_degrees{{{L}, rotator="rot1"}}', "30x10")],
     "5m", [({**LBL, "rotator": "rot1"}, 1)]),
    ("GroundsegRotatorNotFollowing",  # slewing towards the target, then there: no alert
     [(f'groundseg_rotator_tracking{{{L}, rotator="rot1"}}', "1x10"),
      (f'groundseg_rotator_commanded_azimuth_degrees{{{L}, rotator="rot1"}}', "100x10"),
      (f'groundseg_rotator_reported_azimuth_degrees{{{L}, rotator="rot1"}}', "0 60 98 99 100 100 100 100 100 100"),
      (f'groundseg_rotator_commanded_elevation_degrees{{{L}, rotator="rot1"}}', "30x10"),
      (f'groundseg_rotator_reported_elevation_degrees{{{L}, rotator="rot1"}}', "30x10")], "8m", []),
    ("GroundsegRotatorNotFollowing",  # parked far from the last command, not tracking: no alert
     [(f'groundseg_rotator_tracking{{{L}, rotator="rot1"}}', "0x10"),
      (f'groundseg_rotator_commanded_azimuth_degrees{{{L}, rotator="rot1"}}', "100x10"),
      (f'groundseg_rotator_reported_azimuth_degrees{{{L}, rotator="rot1"}}', "0x10"),
      (f'groundseg_rotator_commanded_elevation_degrees{{{L}, rotator="rot1"}}', "30x10"),
      (f'groundseg_rotator_reported_elevation_degrees{{{L}, rotator="rot1"}}', "90x10")], "8m", []),
    ("GroundsegTLEStale", [(f"groundseg_tle_stale_sets{{{L}}}", "1x100")], "70m", [(LBL, 1)]),
    ("GroundsegTLEStale", [(f"groundseg_tle_stale_sets{{{L}}}", "0x100")], "70m", []),
    ("GroundsegGatewayBacklogGrowing",
     [(f'groundseg_gateway_queue_depth{{{L}, sink="upstream"}}', "0+10x120")], "90m",
     [({**LBL, "sink": "upstream"}, 900)]),
    ("GroundsegGatewayBacklogGrowing",  # large but draining
     [(f'groundseg_gateway_queue_depth{{{L}, sink="upstream"}}', "2000-10x120")], "90m", []),
    ("GroundsegPassFailures",
     [(f'groundseg_passes_failed_total{{{L}, chain="uhf0", reason="flowgraph_crash"}}', "0x30 1x30 2x30"),
      (f'groundseg_passes_failed_total{{{L}, chain="uhf0", reason="missed"}}', "0x30 5x60")],
     "90m", [({**LBL, "chain": "uhf0"}, 2)]),
    ("GroundsegPassFailures",
     [(f'groundseg_passes_failed_total{{{L}, chain="uhf0", reason="flowgraph_crash"}}', "0x30 1x60")], "90m", []),
]


def test_the_alerts_fire_on_made_up_series(tmp_path):
    promtool = need_program("promtool")
    tests = []
    for alert, series, at, fires in ALERT_CASES:
        tests.append({
            "interval": "1m",
            "input_series": [{"series": s, "values": v} for s, v in series],
            "alert_rule_test": [{"eval_time": at, "alertname": alert,
                                 "exp_alerts": [expected(alert, lab, val) for lab, val in fires]}],
        })
    f = tmp_path / "alerts-test.yml"
    f.write_text(yaml.safe_dump({"rule_files": [str(RULES)], "evaluation_interval": "1m", "tests": tests}))
    r = subprocess.run([promtool, "test", "rules", str(f)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout


# --- the exposition passes promtool's linter ----------------------------------------------------------

def test_promtool_finds_nothing_to_lint_in_a_scrape():
    promtool = need_program("promtool")
    reg = CollectorRegistry()
    m = StationMetrics(reg, chains=("uhf0",), rotators=("rot1",))
    clock = SimClock(1_800_000_000.0)
    bus = EventBus(clock)
    bus.subscribe(EventBridge(m, pass_info=lambda pid: SimpleNamespace(chain="uhf0", transmitter="tx",
                                                                         rotator="rot1")))
    bus.publish("frame", pass_id="p", norad=1, record={"transmitter": "tx", "snr_db": 10.0, "freq_offset_hz": 5.0,
                                                       "fec_corrected": 1, "repaired_bits": 1})
    bus.publish("rotator", pass_id="p", rotator="rot1", kind="command", rot_az_deg=1.0, rot_el_deg=2.0,
                position=[1.0, 2.0])
    bus.publish("radio", pass_id="p", state="running", lag_s=0.1, samples=10)

    class Sources:
        def request_counts(self):
            return {("status", "ok"): 1}

        def counters(self):
            return {"replies_ok": 1, "error_bad_args": 1, "dropped_bad_frames": 1, "auth_refused": 0, "pending": 0}

        def sink_stats(self):
            return {"s": {"queued": 1, "forwarded": 2, "failed": 0}}

    reg.register(StationCollector(clock, events=bus, device_counters=lambda: {"rot1": {"commands": 1}},
                                  control=Sources(), gateway=Sources()))
    add_process_collectors(reg)
    text = generate_latest(reg)
    for name in ("groundseg_control_replies_total", "groundseg_control_auth_refused_total",
                 "groundseg_gateway_queue_depth", "groundseg_device_faults_total", "groundseg_frames_decoded_total",
                 "process_cpu_seconds_total", "groundseg_metrics_collect_errors_total{part=\"control\"} 0.0"):
        assert name.encode() in text, name
    r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, timeout=60)
    assert r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(), (r.stdout + r.stderr).decode()

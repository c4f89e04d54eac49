"""deploy/: systemd units, sysusers, udev rules and the install script.

* the units pass ``systemd-analyze verify`` and their ``systemd-analyze
  security --offline`` exposure is at most 3.0 (printed);
* the udev rules parse (``udevadm verify`` where it exists, else our own
  parser of the rule fields) and give the SDRs mode 0660 to a group, never
  to everyone;
* ``install.sh --destdir`` produces the expected tree and a second run
  changes nothing; uninstall removes what install made.
"""
from __future__ import annotations

import hashlib
import os
import pathlib
import re
import shutil
import stat
import subprocess
import tomllib

import pytest

from conftest import need, need_program

ROOT = pathlib.Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
RULES = DEPLOY / "udev" / "60-groundseg-sdr.rules"
INSTALL = DEPLOY / "install.sh"
EXEC = "/opt/groundseg/venv/bin/groundseg"
MAX_EXPOSURE = 3.0


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """Sections -> key -> every value assigned (units repeat keys)."""
    out: dict[str, dict[str, list[str]]] = {}
    sec = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            sec = out.setdefault(line.strip("[]"), {})
            continue
        k, v = line.split("=", 1)
        sec.setdefault(k.strip(), []).append(v.strip())
    return out


def verifiable_copy(units: list[pathlib.Path], tmp: pathlib.Path, exec_path: str = EXEC) -> list[pathlib.Path]:
    """The units in tmp with ExecStart pointing at an existing executable (verify checks it exists)."""
    fake = tmp / "bin" / "groundseg"
    fake.parent.mkdir(parents=True, exist_ok=True)
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    out = []
    for u in units:
        text = u.read_text()
        assert exec_path in text, f"{u.name}: ExecStart is not {exec_path}"
        dst = tmp / u.name
        dst.write_text(text.replace(exec_path, str(fake)))
        out.append(dst)
    return out


def test_there_are_the_two_units():
    assert [u.name for u in UNITS] == ["groundseg-rotator-bridge.service", "groundseg-station.service"]


def test_units_pass_systemd_analyze_verify(tmp_path):
    sa = need_program("systemd-analyze")
    units = verifiable_copy(UNITS, tmp_path)
    r = subprocess.run([sa, "verify", *map(str, units)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    # verify reports bad lines as warnings with exit 0: any output is a problem
    assert r.stdout.strip() == "" and r.stderr.strip() == "", r.stderr


def test_verify_catches_a_broken_unit(tmp_path):
    """The check above can fail: a misspelt directive and a bad value are reported."""
    sa = need_program("systemd-analyze")
    (unit,) = verifiable_copy([DEPLOY / "systemd" / "groundseg-station.service"], tmp_path)
    unit.write_text(unit.read_text().replace("ProtectHome=yes", "ProtectHome=yess")
                    .replace("NoNewPrivileges=yes", "NoNewPrivilege=yes"))
    r = subprocess.run([sa, "verify", str(unit)], capture_output=True, text=True, timeout=120)
    assert "protect home value" in r.stderr.lower() and "Unknown key 'NoNewPrivilege'" in r.stderr


def exposure(unit: pathlib.Path) -> float:
    sa = need_program("systemd-analyze")
    r = subprocess.run([sa, "security", "--offline=true", str(unit)], capture_output=True, text=True, timeout=120)
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", r.stdout)
    assert m, (r.returncode, r.stdout[-2000:], r.stderr)
    return float(m.group(1))


@pytest.mark.parametrize("name", [u.name for u in UNITS])
def test_security_exposure(tmp_path, name, capsys):
    (unit,) = verifiable_copy([DEPLOY / "systemd" / name], tmp_path)
    level = exposure(unit)
    with capsys.disabled():  # the figure goes to the CI log
        print(f"\n{name}: systemd-analyze security --offline exposure {level:.1f} (aim <= {MAX_EXPOSURE})")
    assert level <= MAX_EXPOSURE


def test_security_review_would_notice_a_weaker_unit(tmp_path):
    (unit,) = verifiable_copy([DEPLOY / "systemd" / "groundseg-station.service"], tmp_path)
    base = exposure(unit)
    weak = "\n".join(ln for ln in unit.read_text().splitlines()
                     if not ln.startswith(("Protect", "Restrict", "SystemCall", "CapabilityBoundingSet", "Private",
                                           "DevicePolicy", "NoNewPrivileges")))
    unit.write_text(weak)
    assert exposure(unit) > max(base + 2.0, MAX_EXPOSURE)


def test_station_unit_settings():
    u = parse_unit((DEPLOY / "systemd" / "groundseg-station.service").read_text())
    s = u["Service"]
    one = {k: v[-1] for k, v in s.items()}
    assert one["Type"] == "notify" and one["NotifyAccess"] == "main"
    assert one["ExecStart"] == f"{EXEC} station --config /etc/groundseg/station.toml"
    assert one["Restart"] == "on-failure" and one["RestartPreventExitStatus"] == "2"   # bad config: no loop
    assert re.fullmatch(r"\d+(min|s)", one["WatchdogSec"])
    assert one["User"] == "groundseg" and set(one["SupplementaryGroups"].split()) == {"dialout", "plugdev"}
    assert (one["ProtectSystem"], one["ProtectHome"], one["NoNewPrivileges"]) == ("strict", "yes", "yes")
    assert one["StateDirectory"] == "groundseg" and one["KillMode"] == "mixed"
    assert "StandardOutput" not in s and "StandardError" not in s        # the journal (default)
    # only USB SDRs and serial ports
    assert one["DevicePolicy"] == "closed"
    assert sorted(s["DeviceAllow"]) == ["char-ttyACM rw", "char-ttyS rw", "char-ttyUSB rw", "char-usb_device rw"]
    assert u["Install"]["WantedBy"] == ["multi-user.target"]
    # the example configuration keeps its state where the unit lets it write
    example = tomllib.loads((DEPLOY / "groundseg.example.toml").read_text())
    assert example["storage"]["state_dir"] == "/var/lib/" + one["StateDirectory"]
    assert example["storage"]["artifacts_dir"].startswith("/var/lib/groundseg/")


def test_bridge_unit_settings():
    u = parse_unit((DEPLOY / "systemd" / "groundseg-rotator-bridge.service").read_text())
    s = {k: v[-1] for k, v in u["Service"].items()}
    assert s["ExecStart"].startswith(f"{EXEC} rotator serve-rotctld --config /etc/groundseg/station.toml")
    assert u["Unit"]["Conflicts"] == ["groundseg-station.service"]     # one owner per serial port
    assert s["SupplementaryGroups"] == "dialout" and "char-usb_device rw" not in u["Service"]["DeviceAllow"]
    assert s["Restart"] == "on-failure" and s["User"] == "groundseg"


def test_watchdog_interval_leaves_the_heartbeat_room():
    """The station's heartbeat allows one watchdog interval; the idle loop beats every third of it."""
    from groundseg.notify import Heartbeat, Watchdog

    s = {k: v[-1] for k, v in parse_unit((DEPLOY / "systemd" / "groundseg-station.service").read_text())
         ["Service"].items()}
    m = re.fullmatch(r"(\d+)(min|s)", s["WatchdogSec"])
    usec = int(m.group(1)) * (60 if m.group(2) == "min" else 1) * 1_000_000
    wd = Watchdog.from_env({"WATCHDOG_USEC": str(usec)}, notifier=None)
    hb = Heartbeat.for_watchdog(wd)
    assert wd.ping_period_s == wd.interval_s / 2 and hb.max_age_s == wd.interval_s
    assert hb.period_s >= 10.0          # not a busy loop
    assert wd.interval_s <= 300.0       # a wedged station is restarted within minutes


# --- sysusers -----------------------------------------------------------------------------------------

def test_sysusers_creates_the_service_user(tmp_path):
    su = need_program("systemd-sysusers")
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (etc / "group").write_text("root:x:0:\ndialout:x:20:\nplugdev:x:46:\n")
    r = subprocess.run([su, f"--root={tmp_path}", str(DEPLOY / "systemd" / "groundseg.sysusers")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    users = {ln.split(":")[0]: ln.split(":") for ln in (etc / "passwd").read_text().splitlines()}
    groups = {ln.split(":")[0]: ln.split(":") for ln in (etc / "group").read_text().splitlines()}
    u = users["groundseg"]
    assert 0 < int(u[2]) < 1000 and u[5] == "/var/lib/groundseg" and u[6].endswith("nologin")
    assert groups["dialout"][3] == "groundseg" and groups["plugdev"][3] == "groundseg"
    assert groups["groundseg"][2] == u[3]


# --- udev rules -----------------------------------------------------------------------------------------

MATCH_KEYS = {"ACTION", "SUBSYSTEM", "SUBSYSTEMS", "KERNEL", "DEVPATH", "DRIVER"}
MATCH_ATTR_KEYS = {"ATTR", "ATTRS", "ENV"}
ASSIGN_KEYS = {"MODE", "GROUP", "OWNER", "TAG", "SYMLINK", "GOTO", "LABEL", "ENV"}
_TOKEN = re.compile(r'\s*([A-Z]+)(?:\{([A-Za-z0-9_.]+)\})?\s*(==|!=|\+=|-=|:=|=)\s*"([^"]*)"\s*(,|$)')


def parse_rules(text: str) -> list[list[tuple[str, str | None, str, str]]]:
    """udev rules of the kinds these files use: one list of (key, attr, op, value) per rule line.

    Raises ValueError on a field udev would reject or that would not do what it seems to
    (``ATTR{x}="v"`` writes a sysfs attribute instead of matching it).
    """
    rules = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        pos, fields = 0, []
        while pos < len(line):
            m = _TOKEN.match(line, pos)
            if not m:
                raise ValueError(f"line {n}: cannot parse at column {pos + 1}: {line[pos:pos + 30]!r}")
            key, attr, op, value, _ = m.groups()
            if key in MATCH_KEYS and op not in ("==", "!="):
                raise ValueError(f"line {n}: {key} is a match key, {op} is not a match")
            if key in ("ATTR", "ATTRS") and op not in ("==", "!="):
                raise ValueError(f"line {n}: {key}{{{attr}}}{op} would write the attribute, not match it")
            if key in ("ATTR", "ATTRS", "ENV") and not attr:
                raise ValueError(f"line {n}: {key} needs {{attribute}}")
            if key in ("MODE", "GROUP", "OWNER", "GOTO", "LABEL") and op not in ("=", ":="):
                raise ValueError(f"line {n}: {key} takes = or :=, not {op}")
            if key not in MATCH_KEYS | MATCH_ATTR_KEYS | ASSIGN_KEYS:
                raise ValueError(f"line {n}: unknown key {key}")
            if key == "MODE" and not re.fullmatch(r"0?[0-7]{3}", value):
                raise ValueError(f"line {n}: MODE {value!r} is not octal")
            fields.append((key, attr, op, value))
            pos = m.end()
        rules.append(fields)
    labels = {v for r in rules for k, _, _, v in r if k == "LABEL"}
    for r in rules:
        for k, _, _, v in r:
            if k == "GOTO" and v not in labels:
                raise ValueError(f"GOTO {v!r} has no LABEL")
    return rules


def apply_rules(rules, device: dict[str, str]) -> dict[str, str]:
    """What the rules assign to a device (a dict of ACTION, SUBSYSTEM, ENV{DEVTYPE}, ATTR{...})."""
    out: dict[str, str] = {}
    skip_to = None
    for r in rules:
        if skip_to is not None:
            if any(k == "LABEL" and v == skip_to for k, _, _, v in r):
                skip_to = None
            continue
        matched = True
        for k, a, op, v in r:
            if op in ("==", "!="):
                name = f"{k}{{{a}}}" if a else k
                have = device.get(name, "")
                ok = any(re.fullmatch(p.replace("*", ".*"), have) for p in v.split("|"))
                if ok != (op == "=="):
                    matched = False
                    break
        if not matched:
            continue
        for k, a, op, v in r:
            if op in ("=", ":=", "+="):
                if k == "GOTO":
                    skip_to = v
                elif k != "LABEL":
                    out[f"{k}{{{a}}}" if a else k] = v
    return out


def usb(vid: str, pid: str, action: str = "add", devtype: str = "usb_device") -> dict[str, str]:
    return {"ACTION": action, "SUBSYSTEM": "usb", "ENV{DEVTYPE}": devtype, "ATTR{idVendor}": vid,
            "ATTR{idProduct}": pid}


SDRS = [("0bda", "2838"), ("0bda", "2832"), ("2500", "0020"), ("2500", "0021"), ("2500", "0022"),
        ("3923", "7813"), ("3923", "7814")]


def test_udev_rules_parse_and_never_open_devices_to_everyone():
    udevadm = shutil.which("udevadm")
    if udevadm and subprocess.run([udevadm, "verify", "--help"], capture_output=True).returncode == 0:
        r = subprocess.run([udevadm, "verify", str(RULES)], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
    rules = parse_rules(RULES.read_text())
    device_rules = [r for r in rules if any(k == "MODE" for k, *_ in r)]
    assert len(device_rules) >= len(SDRS)
    for r in device_rules:
        d = {k: v for k, _, _, v in r if k in ("MODE", "GROUP")}
        assert d == {"MODE": "0660", "GROUP": "plugdev"}, r
        assert int(d["MODE"], 8) & 0o007 == 0          # nothing for "others"


@pytest.mark.parametrize("vid,pid", SDRS)
def test_udev_rules_give_each_sdr_to_plugdev(vid, pid):
    got = apply_rules(parse_rules(RULES.read_text()), usb(vid, pid))
    assert got.get("MODE") == "0660" and got.get("GROUP") == "plugdev" and got.get("ENV{ID_SOFTWARE_RADIO}") == "1"


@pytest.mark.parametrize("dev", [usb("046d", "c52b"),                         # a mouse
                                 usb("0bda", "2838", action="remove"),
                                 usb("0bda", "2838", devtype="usb_interface"),
                                 {**usb("0403", "6001"), "SUBSYSTEM": "tty"}])  # serial: Debian's dialout rule
def test_udev_rules_leave_other_devices_alone(dev):
    assert apply_rules(parse_rules(RULES.read_text()), dev) == {}


@pytest.mark.parametrize("line,why", [
    ('ATTR{idVendor}="0bda", MODE="0660"', "would write the attribute"),
    ('SUBSYSTEM="usb", MODE="0660"', "is a match key"),
    ('ATTR{idVendor}=="0bda", MODE="rw-rw----"', "is not octal"),
    ('ATTR{idVendor}=="0bda" MODE="0660"', "cannot parse"),
    ('ATTR{idVendor}=="0bda", GOTO="nowhere"', "has no LABEL"),
    ('ATTR{idVendor}=="0bda", COLOUR="red"', "unknown key"),
])
def test_udev_rule_checker_rejects_broken_rules(line, why):
    with pytest.raises(ValueError, match=why):
        parse_rules(line + "\n")


# --- install.sh ------------------------------------------------------------------------------------------------

def run_install(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run(["bash", str(INSTALL), *args], capture_output=True, text=True, timeout=600)
    if check:
        assert r.returncode == 0, r.stderr[-3000:]
    return r


def snapshot(root: pathlib.Path) -> dict[str, tuple]:
    out = {}
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        rel = str(p.relative_to(root))
        digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None
        out[rel] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_mtime_ns, digest)
    return out


def test_install_into_a_destdir_twice_changes_nothing(tmp_path):
    need(shutil.which("bash") is not None, "bash")
    root = tmp_path / "root"
    prefix = "/srv/groundseg"
    first = run_install("install", "--destdir", str(root), "--prefix", prefix)
    assert "changes nothing" not in first.stderr and "change(s)" in first.stderr
    tree = snapshot(root)
    mode = {k: v[1] for k, v in tree.items()}
    expected = {
        "etc/systemd/system/groundseg-station.service": 0o644,
        "etc/systemd/system/groundseg-rotator-bridge.service": 0o644,
        "etc/udev/rules.d/60-groundseg-sdr.rules": 0o644,
        "etc/modprobe.d/groundseg-rtl-sdr.conf": 0o644,
        "etc/sysusers.d/groundseg.conf": 0o644,
        "etc/groundseg": 0o750,
        "etc/groundseg/station.toml": 0o640,
        "etc/groundseg/station.toml.example": 0o644,
        "etc/groundseg/keys": 0o700,
        "srv/groundseg/src/groundseg/notify.py": 0o644,
        "srv/groundseg/src/deploy/install.sh": 0o755,
        "srv/groundseg/src/seeds/station.toml": 0o644,
        "srv/groundseg/src/pyproject.toml": 0o644,
    }
    for path, m in expected.items():
        assert mode.get(path) == m, (path, oct(mode.get(path) or 0))
    assert not [k for k in tree if k.endswith((".so", ".pyc")) or "__pycache__" in k or "/tests/" in k]
    assert not [k for k in tree if k.startswith("srv/groundseg/venv")]           # no venv in --destdir mode
    assert (root / "etc/groundseg/station.toml").read_bytes() == (DEPLOY / "groundseg.example.toml").read_bytes()
    unit = (root / "etc/systemd/system/groundseg-station.service").read_text()
    assert f"ExecStart={prefix}/venv/bin/groundseg station --config /etc/groundseg/station.toml" in unit
    assert not [ln for ln in unit.splitlines() if "/opt/groundseg" in ln and not ln.startswith("#")]

    # the installed units verify, with the prefix's executable in place
    sa = shutil.which("systemd-analyze")
    if sa:
        units = verifiable_copy(sorted((root / "etc/systemd/system").glob("*.service")), tmp_path / "verify",
                                exec_path=f"{prefix}/venv/bin/groundseg")
        r = subprocess.run([sa, "verify", *map(str, units)], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0 and not r.stderr.strip(), r.stderr

    second = run_install("install", "--destdir", str(root), "--prefix", prefix)
    assert second.stderr.strip().endswith("nothing changed"), second.stderr
    assert snapshot(root) == tree                                                 # not even a timestamp

    # an operator's configuration is never overwritten; a source file removed upstream goes
    (root / "etc/groundseg/station.toml").write_text("# mine\n")
    stale = root / "srv/groundseg/src/groundseg/gone.py"
    files = root / "srv/groundseg/src/.groundseg-files"
    files.write_text(files.read_text() + "groundseg/gone.py\n")
    stale.write_text("x = 1\n")
    third = run_install("install", "--destdir", str(root), "--prefix", prefix)
    assert (root / "etc/groundseg/station.toml").read_text() == "# mine\n"
    assert not stale.exists() and "nothing changed" not in third.stderr

    # a dry run changes nothing
    before = snapshot(root)
    run_install("uninstall", "--destdir", str(root), "--prefix", prefix, "--dry-run")
    assert snapshot(root) == before

    # uninstall: what install made goes, the configuration stays; --purge takes it too
    out = run_install("uninstall", "--destdir", str(root), "--prefix", prefix)
    left = {k for k, v in snapshot(root).items() if stat.S_ISREG(v[0])}
    assert left == {"etc/groundseg/station.toml", "etc/groundseg/station.toml.example"}
    assert "--purge removes them" in out.stderr
    assert run_install("uninstall", "--destdir", str(root), "--prefix", prefix).stderr.strip() \
        .endswith("nothing changed")
    run_install("uninstall", "--destdir", str(root), "--prefix", prefix, "--purge")
    assert not {k for k, v in snapshot(root).items() if stat.S_ISREG(v[0])}


@pytest.mark.parametrize("args,msg", [
    (["--prefix", "/usr"], "give groundseg a directory of its own"),
    (["--prefix", "relative/dir"], "must be an absolute path"),
    (["--frobnicate"], "unknown argument '--frobnicate'"),
    (["--config", "/nonexistent.toml", "--destdir", "/tmp/x-never-made"], "no such config file"),
])
def test_install_rejects_bad_arguments(args, msg):
    r = run_install(*args, check=False)
    assert r.returncode == 2 and msg in r.stderr
    assert not os.path.exists("/tmp/x-never-made")

"""Control plane security: key files (0600, refused when readable by others), the key policy core (roles,
refusals, revocation), and the ZAP driver on a running server (unknown keys get nothing, read-only keys
cannot act, secrets never appear in replies)."""
from __future__ import annotations

import os
import stat

import pytest

from groundseg.control import keys as K
from groundseg.control.auth import Identity, KeyPolicy, parse_user_id, role_allows
from groundseg.errors import InputError

# --- key files --------------------------------------------------------------------------------------


@pytest.fixture
def permissive_umask():
    old = os.umask(0)
    yield
    os.umask(old)


def test_secret_file_is_0600_from_the_start_whatever_the_umask(tmp_path, permissive_umask):
    pub, sec = K.write_keypair(tmp_path, "alice")
    assert stat.S_IMODE(sec.stat().st_mode) == 0o600
    assert stat.S_IMODE(pub.stat().st_mode) == 0o644
    public, secret = K.load_secret(sec)
    assert K.load_public(pub) == public and len(secret) == 40
    assert secret.decode() not in pub.read_text()


def test_existing_keys_are_not_overwritten_unless_forced(tmp_path):
    pub, sec = K.write_keypair(tmp_path, "bob")
    old = K.load_public(pub)
    with pytest.raises(InputError, match="exists"):
        K.write_keypair(tmp_path, "bob")
    pub2, sec2 = K.write_keypair(tmp_path, "bob", force=True)
    assert K.load_public(pub2) != old and stat.S_IMODE(sec2.stat().st_mode) == 0o600


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_secret_readable_by_others_is_refused(tmp_path, mode):
    _, sec = K.write_keypair(tmp_path, "carol")
    os.chmod(sec, mode)
    with pytest.raises(InputError, match="readable by others.*chmod 600"):
        K.load_secret(sec)


def test_public_and_secret_files_are_not_confused(tmp_path):
    pub, sec = K.write_keypair(tmp_path, "dave")
    with pytest.raises(InputError, match="holds a secret key"):
        K.load_public(sec)
    with pytest.raises(InputError, match="no secret key"):
        K.load_secret(pub)
    (tmp_path / "junk.key").write_text("not a certificate\n")
    with pytest.raises(InputError, match="not a CURVE key file"):
        K.load_public(tmp_path / "junk.key")


@pytest.mark.parametrize("name", ["", "../evil", "a b", "-x", "x" * 65])
def test_key_names_are_checked(tmp_path, name):
    with pytest.raises(InputError, match="key name"):
        K.write_keypair(tmp_path, name)


def test_server_keys_are_required_for_curve(tmp_path):
    with pytest.raises(InputError, match="groundseg keys init"):
        K.load_server_keys(tmp_path / "keys")
    K.init_keys_dir(tmp_path / "keys")
    public, secret = K.load_server_keys(tmp_path / "keys")
    assert len(public) == len(secret) == 40


def test_allow_and_revoke(tmp_path):
    kd = tmp_path / "keys"
    K.init_keys_dir(kd)
    pub, _ = K.write_keypair(tmp_path / "c", "eve")
    dest = K.allow_key(kd, pub, "readonly")
    assert dest == kd / "clients" / "readonly" / "eve.key"
    with pytest.raises(InputError, match="already has role readonly"):
        K.allow_key(kd, pub, "operator")
    with pytest.raises(InputError, match="already allowed as eve"):
        K.allow_key(kd, pub, "operator", name="eve2")
    assert K.revoke_key(kd, "eve") == [dest]
    with pytest.raises(InputError, match="no client key named"):
        K.revoke_key(kd, "eve")
    with pytest.raises(InputError, match="unknown role"):
        K.allow_key(kd, pub, "admin")


def test_keys_cli_never_prints_a_secret(tmp_path, capsys):
    from groundseg.cli import main

    kd = tmp_path / "keys"
    assert main(["keys", "init", "--dir", str(kd)]) == 0
    assert main(["keys", "add", "ops1", "--role", "operator", "--out", str(tmp_path / "c"), "--dir", str(kd)]) == 0
    assert main(["keys", "list", "--dir", str(kd)]) == 0
    out = capsys.readouterr().out
    _, server_secret = K.load_secret(K.server_secret_path(kd))
    _, client_secret = K.load_secret(tmp_path / "c" / "ops1.key_secret")
    assert server_secret.decode() not in out and client_secret.decode() not in out
    assert "operator  ops1" in out
    os.chmod(K.server_secret_path(kd), 0o644)
    assert main(["keys", "list", "--dir", str(kd)]) == 0
    assert "readable by others" in capsys.readouterr().err


# --- the policy core ------------------------------------------------------------------------------------


def _dir_with(tmp_path, **roles):
    kd = tmp_path / "keys"
    K.init_keys_dir(kd)
    made = {}
    for name, role in roles.items():
        pub, sec = K.write_keypair(tmp_path / "c", name)
        K.allow_key(kd, pub, role)
        made[name] = K.load_public(pub)
    return kd, made


def test_policy_maps_keys_to_roles_and_counts(tmp_path):
    kd, made = _dir_with(tmp_path, op="operator", ro="readonly")
    pol = KeyPolicy(kd)
    assert pol.authorize(made["op"]) == Identity("op", "operator")
    assert pol.authorize(made["ro"]) == Identity("ro", "readonly")
    from zmq.utils import z85
    assert pol.authorize(z85.decode(made["ro"])) == Identity("ro", "readonly")  # raw 32-byte form
    stranger, _ = K.load_secret(K.write_keypair(tmp_path / "c", "x")[1])
    assert pol.authorize(stranger) is None
    assert pol.counters()["auth_allowed"] == 3 and pol.counters()["auth_refused"] == 1
    assert pol.clients() == {"readonly": ["ro"], "operator": ["op"]}


def test_a_key_under_two_roles_keeps_the_lesser_one(tmp_path):
    kd, made = _dir_with(tmp_path, twin="operator")
    (kd / "clients" / "readonly" / "twin-copy.key").write_bytes((kd / "clients" / "operator" / "twin.key").read_bytes())
    pol = KeyPolicy(kd)
    assert pol.authorize(made["twin"]).role == "readonly"
    assert any("same key" in p for p in pol.problems)


def test_bad_key_files_are_problems_not_crashes(tmp_path):
    kd, made = _dir_with(tmp_path, ok="operator")
    (kd / "clients" / "operator" / "broken.key").write_text("garbage")
    pol = KeyPolicy(kd)
    assert pol.authorize(made["ok"]) is not None
    assert len(pol.problems) == 1 and "broken.key" in pol.problems[0]


def test_reload_sees_new_and_revoked_keys(tmp_path):
    kd, made = _dir_with(tmp_path, a="operator")
    pol = KeyPolicy(kd)
    ident = pol.authorize(made["a"])
    assert pol.current(ident)
    pub, _ = K.write_keypair(tmp_path / "c", "b")
    K.allow_key(kd, pub, "readonly")
    K.revoke_key(kd, "a")
    pol.reload()
    assert pol.authorize(made["a"]) is None and not pol.current(ident)
    assert pol.authorize(K.load_public(pub)) == Identity("b", "readonly")


def test_roles_and_user_ids():
    assert role_allows("operator", "readonly") and role_allows("operator", "operator")
    assert role_allows("readonly", "readonly") and not role_allows("readonly", "operator")
    assert not role_allows("admin", "readonly")
    assert parse_user_id("operator:alice") == Identity("alice", "operator")
    for bad in (None, "", "alice", "root:alice", "operator:"):
        assert parse_user_id(bad) is None


# --- the ZAP driver on a running server ------------------------------------------------------------------

@pytest.fixture(scope="module")
def curve_station(tmp_path_factory):
    from groundseg.config import load_config
    from groundseg.control.server import start_control_plane
    from groundseg.control.testing import make_keys
    from groundseg.station import Station

    d = tmp_path_factory.mktemp("auth")
    keys = make_keys(d / "keys", d / "clients", {"op": "operator", "ro": "readonly", "gone": "operator"},
                     ("stranger",))
    (d / "station.toml").write_text(f"""
[station]
name = "auth-test"
lat_deg = 10.0
lon_deg = 20.0
[[chains]]
name = "uhf0"
sdr_args = "rtl=0"
freq_min_hz = 430e6
freq_max_hz = 440e6
[control]
endpoint = "ipc://{d}/req"
pub_endpoint = "ipc://{d}/pub"
keys_dir = "keys"
heartbeat_s = 0.2
""")
    station = Station(load_config(d / "station.toml"))
    server = start_control_plane(station)
    yield server, keys
    server.close()
    station.close()


def _client(server, keys, name, timeout_s=10.0, retries=1):
    from groundseg.control.client import Client

    return Client(server.endpoint, keys.credentials(name), timeout_s=timeout_s, retries=retries)


def test_operator_acts_and_read_only_reads(curve_station):
    from groundseg.control.client import RemoteError

    server, keys = curve_station
    with _client(server, keys, "op") as c:
        r = c.request("blackout.add", {"id": "auth-b", "start": 4.0e9, "end": 4.0e9 + 60})
        assert r["blackout"]["id"] == "auth-b"
    with _client(server, keys, "ro") as c:
        assert "auth-b" in [b["id"] for b in c.request("blackout.list")["blackouts"]]
        for cmd, args in (("blackout.remove", {"id": "auth-b"}), ("pass.abort", {}), ("config.reload", {}),
                          ("rotator.park", {}), ("tle.upload", {"text": "x"})):
            with pytest.raises(RemoteError) as ei:
                c.request(cmd, args)
            assert ei.value.code == "forbidden", cmd
        assert "auth-b" in [b["id"] for b in c.request("blackout.list")["blackouts"]]
    assert server.counters()["refused_role"] >= 5


def test_unknown_key_gets_no_reply_and_no_event(curve_station):
    from groundseg.control.client import ControlUnavailable, KeyRefused, Subscriber

    server, keys = curve_station
    before = server.counters()["auth_refused"]
    with _client(server, keys, "stranger", timeout_s=2.0, retries=0) as c:
        with pytest.raises((KeyRefused, ControlUnavailable)):
            c.request("status")
    with Subscriber(server.pub_endpoint, [""], keys.credentials("stranger")) as s:
        got = []
        try:
            for _ in range(5):
                ev = s.recv(0.5)  # heartbeats go out every 0.2 s to those allowed
                if ev is not None:
                    got.append(ev)
        except KeyRefused:
            pass
        assert got == []
    with Subscriber(server.pub_endpoint, ["heartbeat"], keys.credentials("ro")) as s:
        ev = s.recv(10.0)
        assert ev is not None and ev["topic"] == "heartbeat"
    assert server.counters()["auth_refused"] > before


def test_wrong_station_key_gets_nothing(curve_station, tmp_path):
    from groundseg.control.client import Client, ControlUnavailable, Credentials, KeyRefused

    server, keys = curve_station
    good = keys.credentials("op")
    impostor_pub, _ = K.load_secret(K.write_keypair(tmp_path, "impostor")[1])
    creds = Credentials(impostor_pub, good.client_public, good.client_secret)
    with Client(server.endpoint, creds, timeout_s=1.0, retries=0) as c:
        with pytest.raises((ControlUnavailable, KeyRefused)):
            c.request("status")


def test_revoked_key_is_refused_even_on_an_open_connection(curve_station):
    from groundseg.control.client import RemoteError

    server, keys = curve_station
    with _client(server, keys, "gone") as c:
        assert c.request("version")["protocol"] == 1
        K.revoke_key(keys.dir, "gone")
        with _client(server, keys, "op") as op:
            reload = op.request("config.reload")
            assert "control client keys" in reload["applied"] and "gone" not in reload["keys"]["clients"]["operator"]
        with pytest.raises(RemoteError) as ei:
            c.request("status")
        assert ei.value.code == "forbidden" and "no longer allowed" in ei.value.message


def test_no_secret_in_status_or_config(curve_station):
    server, keys = curve_station
    with _client(server, keys, "op") as c:
        text = repr(c.request("status")) + repr(c.request("config.show"))
    _, server_secret = K.load_secret(K.server_secret_path(keys.dir))
    assert server_secret.decode() not in text
    for sec in keys.clients.values():
        assert K.load_secret(sec)[1].decode() not in text
    assert "counters" in text and "auth_refused" in text


def test_plain_mode_refuses_non_loopback_endpoints_even_if_built_by_hand():
    from groundseg.control.server import ControlServer
    from groundseg.control.settings import ControlConfig

    cfg = ControlConfig(security="plain", endpoint="tcp://0.0.0.0:5555", pub_endpoint="ipc:///tmp/x")
    with pytest.raises(InputError, match="plain mode is only allowed"):
        ControlServer(None, cfg)
    with pytest.raises(InputError, match="CURVE mode needs"):
        ControlServer(None, ControlConfig())

"""CURVE key files and ``groundseg keys``.

Key files are ZeroMQ certificates (the ZPL text format pyzmq's ``zmq.auth``
reads): ``NAME.key`` holds the public key, ``NAME.key_secret`` the public
and the secret key. Secret files are created with mode 0600 from the start
(``O_CREAT | O_EXCL``, never written then chmod-ed) and a secret file that
group or others can read is refused when loaded. Directories made here are
0700 whatever the umask; the station refuses a key directory (or its
``clients/<role>`` directories) that group or others may write to. Secret keys are never
printed or logged.

The station's key directory (``[control] keys_dir``, default
``<state_dir>/keys``)::

    server.key                  the station's public key: give it to clients
    server.key_secret           the station's secret key (0600)
    clients/operator/NAME.key   public keys of clients that may act
    clients/readonly/NAME.key   public keys of clients that may read and watch

::

    groundseg keys init   --config station.toml          # the station's keypair and the client directories
    groundseg keys new    NAME --out DIR                 # a client keypair (on the client's machine)
    groundseg keys allow  DIR/NAME.key --role operator --config station.toml
    groundseg keys add    NAME --role readonly --out DIR --config station.toml   # new + allow
    groundseg keys list   --config station.toml
    groundseg keys revoke NAME --config station.toml

A running station re-reads the client keys on ``config.reload``.
"""
from __future__ import annotations

import datetime as _dt
import os
import pathlib
import stat
import sys

from ..errors import InputError
from .schema import NAME_PATTERN
from .settings import ROLES

SERVER_NAME = "server"
PUBLIC_SUFFIX = ".key"
SECRET_SUFFIX = ".key_secret"
CLIENTS_DIR = "clients"

_HEADER = """#   ****  Generated on {when} by groundseg  ****
#   ZeroMQ CURVE {kind} Certificate
#   {advice}

metadata
curve
"""


def _check_name(name: str) -> str:
    import re

    if not isinstance(name, str) or not re.fullmatch(NAME_PATTERN, name):
        raise InputError(f"key name {name!r}: letters, digits, _ . - (at most 64), starting with a letter or digit")
    return name


def _private_dir(path: pathlib.Path) -> None:
    """Create ``path`` and its missing parents with mode 0700 (whatever the umask: a key directory anyone can
    write to lets anyone allow their own key, or replace the station's); existing directories are left as
    they are."""
    missing = []
    p = pathlib.Path(path)
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=0o700)
        except FileExistsError:
            pass
        except OSError as e:
            raise InputError(f"{d}: cannot create the key directory: {e.strerror or e}") from None


def check_dir_mode(path: pathlib.Path) -> None:
    """Refuse a key directory that group or others may write to (they could add or replace keys)."""
    try:
        st = path.stat()
    except OSError:
        return  # absent: nothing in it to trust
    if st.st_mode & 0o022:
        raise InputError(f"{path}: the key directory is writable by others (mode {stat.S_IMODE(st.st_mode):04o}): "
                         f"refused; run chmod go-w {path}")


def _write_new(path: pathlib.Path, text: str, mode: int, force: bool) -> None:
    """Create ``path`` with ``mode`` from the first byte on (a replaced file is written aside, then renamed)."""
    _private_dir(path.parent)
    target = path
    if path.exists() or path.is_symlink():
        if not force:
            raise InputError(f"{path}: exists (use --force to replace it)")
        target = path.with_name(f".{path.name}.new{os.getpid()}")
        target.unlink(missing_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)  # the umask may have removed bits we want (never added any)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    if target != path:
        os.replace(target, path)


def write_keypair(directory: str | os.PathLike, name: str, force: bool = False) -> tuple[pathlib.Path, pathlib.Path]:
    """A new CURVE keypair as ``NAME.key`` (0644) and ``NAME.key_secret`` (0600) in ``directory``."""
    import zmq

    _check_name(name)
    d = pathlib.Path(directory)
    public, secret = zmq.curve_keypair()
    when = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    pub_text = _HEADER.format(when=when, kind="Public", advice="Give this file to the peer.") + \
        f'    public-key = "{public.decode("ascii")}"\n'
    sec_text = _HEADER.format(when=when, kind="**Secret**", advice="Keep this file private (mode 0600).") + \
        f'    public-key = "{public.decode("ascii")}"\n    secret-key = "{secret.decode("ascii")}"\n'
    pub_path, sec_path = d / f"{name}{PUBLIC_SUFFIX}", d / f"{name}{SECRET_SUFFIX}"
    if not force:
        for p in (pub_path, sec_path):
            if p.exists():
                raise InputError(f"{p}: exists (use --force to replace it)")
    _write_new(sec_path, sec_text, 0o600, force)
    _write_new(pub_path, pub_text, 0o644, force)
    return pub_path, sec_path


def check_secret_mode(path: pathlib.Path) -> None:
    try:
        st = path.stat()
    except OSError as e:
        raise InputError(f"{path}: cannot read the secret key: {e.strerror or e}") from None
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{path}: the secret key is not a regular file")
    if st.st_mode & 0o077:
        raise InputError(f"{path}: the secret key is readable by others (mode {stat.S_IMODE(st.st_mode):04o}): "
                         f"refused; run chmod 600 {path}")


def _load(path: pathlib.Path) -> tuple[bytes, bytes | None]:
    import zmq.auth

    try:
        public, secret = zmq.auth.load_certificate(str(path))
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: not a CURVE key file: {e}") from None
    if public is None or len(public) != 40:
        raise InputError(f"{path}: no valid public key in it")
    if secret is not None and len(secret) != 40:
        raise InputError(f"{path}: the secret key in it is not 40 Z85 characters")
    return public, secret


def load_public(path: str | os.PathLike) -> bytes:
    """The Z85 public key of a ``.key`` file (a file that also holds a secret key is refused)."""
    p = pathlib.Path(path)
    public, secret = _load(p)
    if secret is not None:
        raise InputError(f"{p}: holds a secret key: give the public .key file, keep the secret one private")
    return public


def load_secret(path: str | os.PathLike) -> tuple[bytes, bytes]:
    """(public, secret) Z85 keys of a ``.key_secret`` file; refused if group or others can read it."""
    p = pathlib.Path(path)
    public, secret = _load(p)
    if secret is None:
        raise InputError(f"{p}: no secret key in it (is it the public .key file?)")
    check_secret_mode(p)
    return public, secret


def server_public_path(keys_dir: pathlib.Path) -> pathlib.Path:
    return pathlib.Path(keys_dir) / f"{SERVER_NAME}{PUBLIC_SUFFIX}"


def server_secret_path(keys_dir: pathlib.Path) -> pathlib.Path:
    return pathlib.Path(keys_dir) / f"{SERVER_NAME}{SECRET_SUFFIX}"


def role_dir(keys_dir: pathlib.Path, role: str) -> pathlib.Path:
    if role not in ROLES:
        raise InputError(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
    return pathlib.Path(keys_dir) / CLIENTS_DIR / role


def load_server_keys(keys_dir: pathlib.Path) -> tuple[bytes, bytes]:
    """The station's keypair; refused when the key directory or its client directories are writable by
    group or others, or the secret file readable by them."""
    p = server_secret_path(keys_dir)
    for d in (pathlib.Path(keys_dir), pathlib.Path(keys_dir) / CLIENTS_DIR, *(role_dir(keys_dir, r) for r in ROLES)):
        check_dir_mode(d)
    if not p.exists():
        raise InputError(f"{p}: the station has no CURVE keypair: create it with "
                         f"`groundseg keys init --dir {keys_dir}` (or set security = \"plain\" on loopback)")
    return load_secret(p)


def init_keys_dir(keys_dir: pathlib.Path, force: bool = False) -> tuple[pathlib.Path, pathlib.Path]:
    keys_dir = pathlib.Path(keys_dir)
    for role in ROLES:
        _private_dir(role_dir(keys_dir, role))
    return write_keypair(keys_dir, SERVER_NAME, force=force)


def allow_key(keys_dir: pathlib.Path, public_file: pathlib.Path, role: str, name: str | None = None,
              force: bool = False) -> pathlib.Path:
    """Install a client's public key under ``role``; a key or name already allowed elsewhere is refused."""
    public = load_public(public_file)
    name = _check_name(name or pathlib.Path(public_file).name.removesuffix(PUBLIC_SUFFIX))
    dest = role_dir(keys_dir, role) / f"{name}{PUBLIC_SUFFIX}"
    for r in ROLES:
        for other in sorted(role_dir(keys_dir, r).glob(f"*{PUBLIC_SUFFIX}")):
            if other == dest and force:
                continue
            if other.stem == name:
                raise InputError(f"{other}: a client named {name!r} already has role {r} (revoke it first)")
            try:
                same = load_public(other) == public
            except InputError:
                continue  # an unusable file does not block a good one
            if same:
                raise InputError(f"this key is already allowed as {other.stem} ({r})")
    text = pathlib.Path(public_file).read_text(encoding="ascii")
    _write_new(dest, text, 0o644, force)
    return dest


def revoke_key(keys_dir: pathlib.Path, name: str) -> list[pathlib.Path]:
    _check_name(name)
    gone = []
    for r in ROLES:
        p = role_dir(keys_dir, r) / f"{name}{PUBLIC_SUFFIX}"
        if p.exists():
            p.unlink()
            gone.append(p)
    if not gone:
        raise InputError(f"no client key named {name!r} in {keys_dir}")
    return gone


# --- `groundseg keys` --------------------------------------------------------------------------

def add_cli(sub) -> None:
    p = sub.add_parser("keys", help="CURVE keypairs of the station and its control clients",
                       description="Create and manage the CURVE keys of the control plane. Secret key files "
                                   "are created with mode 0600; secret keys are never printed.")
    ks = p.add_subparsers(dest="keys_command", metavar="ACTION")
    ks.required = True

    def where(q):
        g = q.add_mutually_exclusive_group(required=True)
        g.add_argument("--config", metavar="FILE", help="station configuration: use its [control] keys_dir")
        g.add_argument("--dir", metavar="DIR", help="the station's key directory")

    q = ks.add_parser("init", help="create the station's keypair and the client key directories")
    where(q)
    q.add_argument("--force", action="store_true", help="replace an existing station keypair")
    q.set_defaults(func=cmd_init)

    q = ks.add_parser("new", help="create a client keypair (NAME.key and NAME.key_secret)")
    q.add_argument("name", help="client name (letters, digits, _ . -)")
    q.add_argument("--out", required=True, metavar="DIR", help="directory for the two files")
    q.add_argument("--force", action="store_true", help="replace existing files")
    q.set_defaults(func=cmd_new)

    q = ks.add_parser("allow", help="allow a client's public key with a role")
    q.add_argument("public_file", help="the client's NAME.key file")
    q.add_argument("--role", required=True, choices=ROLES)
    q.add_argument("--name", help="client name (default: from the file name)")
    where(q)
    q.set_defaults(func=cmd_allow)

    q = ks.add_parser("add", help="create a client keypair and allow it (new + allow)")
    q.add_argument("name")
    q.add_argument("--role", required=True, choices=ROLES)
    q.add_argument("--out", required=True, metavar="DIR", help="directory for the client's two files")
    where(q)
    q.set_defaults(func=cmd_add)

    q = ks.add_parser("list", help="list the station's public key and the allowed clients")
    where(q)
    q.set_defaults(func=cmd_list)

    q = ks.add_parser("revoke", help="remove a client's key (every role)")
    q.add_argument("name")
    where(q)
    q.set_defaults(func=cmd_revoke)


def keys_dir_from_args(args) -> pathlib.Path:
    if getattr(args, "dir", None):
        return pathlib.Path(args.dir).expanduser()
    from ..config import load_config

    cfg = load_config(args.config)
    ctl = cfg.section("control")
    if ctl is None:
        raise InputError(f"{args.config}: no [control] section")
    return ctl.keys_path(cfg)


def cmd_init(args) -> int:
    d = keys_dir_from_args(args)
    pub, sec = init_keys_dir(d, force=args.force)
    print(f"station keypair: {pub} (public: give it to clients) and {sec} (secret, mode 0600)")
    print(f"allowed client keys go in {d / CLIENTS_DIR}/{{{','.join(ROLES)}}}/NAME.key")
    return 0


def cmd_new(args) -> int:
    pub, sec = write_keypair(args.out, args.name, force=args.force)
    print(f"client keypair: {pub} (public: the station operator allows it) and {sec} (secret, mode 0600)")
    return 0


def cmd_allow(args) -> int:
    dest = allow_key(keys_dir_from_args(args), pathlib.Path(args.public_file), args.role, args.name)
    print(f"allowed {dest.stem} as {args.role}: {dest} (a running station picks it up on config.reload)")
    return 0


def cmd_add(args) -> int:
    d = keys_dir_from_args(args)
    pub, sec = write_keypair(args.out, args.name)
    dest = allow_key(d, pub, args.role, args.name)
    print(f"client keypair: {pub} and {sec} (secret, mode 0600); allowed as {args.role}: {dest}")
    return 0


def cmd_list(args) -> int:
    d = keys_dir_from_args(args)
    sp = server_public_path(d)
    if sp.exists():
        print(f"station public key: {load_public(sp).decode('ascii')}  ({sp})")
    else:
        print(f"station keypair: none in {d} (groundseg keys init)")
    sec = server_secret_path(d)
    if sec.exists():
        try:
            check_secret_mode(sec)
        except InputError as e:
            print(f"WARNING: {e}", file=sys.stderr)
    for role in ROLES:
        for p in sorted(role_dir(d, role).glob(f"*{PUBLIC_SUFFIX}")):
            try:
                key = load_public(p).decode("ascii")
            except InputError as e:
                key = f"UNUSABLE: {e}"
            print(f"{role:9} {p.stem:24} {key}")
    return 0


def cmd_revoke(args) -> int:
    for p in revoke_key(keys_dir_from_args(args), args.name):
        print(f"revoked {p}")
    return 0

"""Who may talk to the station, and with which role.

The policy core (``KeyPolicy``) knows nothing of sockets or event loops: it
reads the allowed client public keys from the key directory
(``clients/<role>/NAME.key``, see ``keys.py``), answers ``authorize(key)``
with an ``Identity`` (name and role) or ``None``, and counts what it
allowed and refused. Keys are compared with ``hmac.compare_digest`` against
every allowed key (no early exit). A key found under two roles gets the
lesser one (and a problem is recorded).

``ZapDriver`` plugs the policy into pyzmq's ZAP authenticator
(``zmq.auth.thread.ThreadAuthenticator``) for one ZeroMQ context: CURVE
handshakes on sockets whose ``zap_domain`` is ``DOMAIN`` are checked with
the policy, and the identity travels with every message as its ZAP
User-Id, ``"<role>:<name>"`` (``parse_user_id``). A refused client gets no
connection at all: no reply, no event.

Roles: ``readonly`` may run read commands and subscribe to events;
``operator`` may also act. ``role_allows(role, needed)``.
"""
from __future__ import annotations

import hmac
import logging
import pathlib
import threading
from dataclasses import dataclass

from ..errors import InputError
from .settings import ROLES

log = logging.getLogger(__name__)

DOMAIN = "groundseg"
_RANK = {r: i for i, r in enumerate(ROLES)}  # readonly < operator


def role_allows(role: str, needed: str) -> bool:
    return role in _RANK and _RANK[role] >= _RANK[needed]


@dataclass(frozen=True)
class Identity:
    name: str
    role: str

    @property
    def user_id(self) -> str:
        return f"{self.role}:{self.name}"


def parse_user_id(user_id: str | None) -> Identity | None:
    """The identity a ZAP User-Id names, or None if it is not one of ours."""
    if not user_id or ":" not in user_id:
        return None
    role, name = user_id.split(":", 1)
    if role not in _RANK or not name:
        return None
    return Identity(name, role)


@dataclass(frozen=True)
class _Entry:
    key: bytes  # Z85, 40 bytes
    identity: Identity
    path: pathlib.Path


class KeyPolicy:
    """The allowed client keys of one key directory (thread-safe; ``reload`` swaps them atomically)."""

    def __init__(self, keys_dir: str | pathlib.Path):
        self.keys_dir = pathlib.Path(keys_dir)
        self._entries: tuple[_Entry, ...] = ()
        self.problems: list[str] = []
        self._lock = threading.Lock()
        self.allowed = 0
        self.refused = 0
        self.reload()

    def reload(self) -> dict:
        """Re-read the client keys; returns {role: [names]} and the problems found (bad files, clashes)."""
        from . import keys as K

        entries: dict[bytes, _Entry] = {}
        problems: list[str] = []
        for role in ROLES:  # lesser roles first: a key under two roles keeps the lesser one
            d = K.role_dir(self.keys_dir, role)
            if not d.is_dir():
                continue
            for p in sorted(d.glob(f"*{K.PUBLIC_SUFFIX}")):
                try:
                    key = K.load_public(p)
                except InputError as e:
                    problems.append(str(e))
                    continue
                name = p.name[: -len(K.PUBLIC_SUFFIX)]
                if key in entries:
                    prev = entries[key]
                    problems.append(f"{p}: the same key as {prev.path} ({prev.identity.role}); it keeps the "
                                    f"{prev.identity.role} role")
                    continue
                entries[key] = _Entry(key, Identity(name, role), p)
        with self._lock:
            self._entries = tuple(entries.values())
            self.problems = problems
        for pr in problems:
            log.warning("control keys: %s", pr)
        return {"clients": self.clients(), "problems": list(problems)}

    def clients(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {r: [] for r in ROLES}
        for e in self._entries:
            out[e.identity.role].append(e.identity.name)
        return {r: sorted(v) for r, v in out.items()}

    def lookup(self, public_key: bytes) -> Identity | None:
        """The identity of an allowed Z85 (or 32-byte raw) public key, else None (not counted)."""
        if len(public_key) == 32:
            from zmq.utils import z85

            public_key = z85.encode(public_key)
        found = None
        for e in self._entries:  # every entry compared: the time does not depend on where the key is
            if hmac.compare_digest(e.key, public_key):
                found = e.identity
        return found

    def authorize(self, public_key: bytes) -> Identity | None:
        """``lookup``, counted as allowed or refused (one call per handshake)."""
        found = self.lookup(public_key)
        with self._lock:
            if found is None:
                self.refused += 1
            else:
                self.allowed += 1
        return found

    def current(self, identity: Identity) -> bool:
        """Is ``identity`` still allowed (a connection outlives a revoked key: check per message)?"""
        return any(e.identity == identity for e in self._entries)

    def counters(self) -> dict[str, int]:
        return {"auth_allowed": self.allowed, "auth_refused": self.refused,
                "auth_clients": len(self._entries), "auth_key_problems": len(self.problems)}


class ZapDriver:
    """Run ``policy`` as the ZAP handler of ``context`` (pyzmq's ThreadAuthenticator)."""

    def __init__(self, context, policy: KeyPolicy, domain: str = DOMAIN):
        self.context = context
        self.policy = policy
        self.domain = domain
        self._auth = None

    def start(self) -> "ZapDriver":
        from zmq.auth.thread import ThreadAuthenticator

        auth = ThreadAuthenticator(self.context, log=logging.getLogger("groundseg.control.zap"))
        auth.start()
        auth.configure_curve_callback(self.domain, credentials_provider=self)
        # User-Id of an allowed client: "<role>:<name>" (read back from every message it sends).
        auth.curve_user_id = self.user_id
        self._auth = auth
        return self

    # credentials provider interface of zmq.auth (called in the authenticator's thread)
    def callback(self, domain: str, key: bytes) -> bool:
        ident = self.policy.authorize(key)
        if ident is None:
            log.info("control: refused a CURVE client (key not allowed)")
            return False
        return True

    def user_id(self, client_public_key: bytes) -> str:
        ident = self.policy.lookup(client_public_key)  # counted once, in callback()
        return ident.user_id if ident is not None else ""

    def stop(self) -> None:
        if self._auth is not None:
            self._auth.stop()
            self._auth = None

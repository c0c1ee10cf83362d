"""Trader keys: the Bearer keys of the write endpoints, each naming the owner it writes for.

``AI_ENGINE_TRADER_KEYS`` is either inline pairs, ``owner=key[,owner=key...]`` (any value that
holds ``=``), or the path of a key file: one ``owner = key`` per line, ``#`` comments and blank
lines ignored. An owner may have several keys (to rotate one); a key names one owner only.
Owners follow the owner pattern (``[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}``) and may not be the
reserved ``EXTERNAL`` or ``admin``; a key is 16 to 256 characters of ``A-Z a-z 0-9 _ . ~ + / : -``.

Unset, the service uses the key file beside the state store (``keys`` next to ``state.db``):
at first start it is created for the default owner ``engine`` (mode 0600, written atomically,
so several workers starting at once agree on one key), and later starts reuse it.
``ai-engine freqtrade init`` writes the same key into the strategy's config.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from ai_engine.errors import ConfigError

log = logging.getLogger("ai_engine.service.keys")  # a child of the service's JSON logger

KEYS_FILE = "keys"
ENV = "AI_ENGINE_TRADER_KEYS"
DEFAULT_OWNER = "engine"
ADMIN_IDENTITY = "admin"
"""The identity of the admin token (AI_ENGINE_ADMIN_TOKEN): the ESS actor of its trips."""
RESERVED = ("EXTERNAL", ADMIN_IDENTITY)
OWNER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
"""An owner: what the state store's owner columns hold (64 characters)."""
KEY = re.compile(r"[A-Za-z0-9_.~+/:-]{16,256}")
KEY_TEXT = "16 to 256 characters of A-Z a-z 0-9 _ . ~ + / : -"


@dataclass(frozen=True)
class TraderKeys:
    """The configured trader keys and where they were read from."""

    pairs: tuple[tuple[str, str], ...]
    """``(owner, key)`` in the order given."""
    source: str

    def owner_of(self, given: str) -> str | None:
        """The owner of key ``given``, or None; every key is compared, in constant time."""
        found = None
        raw = given.encode()
        for owner, key in self.pairs:
            if hmac.compare_digest(raw, key.encode()):
                found = owner
        return found

    def key_for(self, owner: str) -> str | None:
        """The first key of ``owner``, or None."""
        return next((key for name, key in self.pairs if name == owner), None)

    @property
    def owners(self) -> list[str]:
        return sorted({owner for owner, _ in self.pairs})


def parse_keys(items: list[tuple[str, str]], source: str, expected: str) -> TraderKeys:
    """Keys from ``(where, text)`` items, each ``owner = key``; a malformed one is a
    ConfigError naming ``source``, the item and ``expected`` (the key itself is never shown)."""
    pairs: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    for where, text in items:
        owner, sep, key = (part.strip() for part in text.partition("="))
        if not sep:
            raise ConfigError(f"{source}: {where}: expected {expected}, found no '='")
        if OWNER.fullmatch(owner) is None or owner in RESERVED:
            raise ConfigError(
                f"{source}: {where}: expected an owner like engine or strat-a (not "
                f"{' or '.join(RESERVED)}), found {owner[:64]!r}"
            )
        if KEY.fullmatch(key) is None:
            raise ConfigError(
                f"{source}: {where}: expected the key of {owner!r} to be {KEY_TEXT}, found "
                f"{len(key)} characters{', some outside that set' if 16 <= len(key) <= 256 else ''}"
            )
        if key in seen and seen[key] != owner:
            raise ConfigError(
                f"{source}: {where}: expected one owner per key, found the key of "
                f"{seen[key]!r} given to {owner!r} too"
            )
        seen[key] = owner
        pairs.append((owner, key))
    if not pairs:
        raise ConfigError(f"{source}: expected at least one {expected}, found none")
    return TraderKeys(tuple(pairs), source)


def parse_inline(value: str) -> TraderKeys:
    """``owner=key,owner2=key2`` (the inline form of AI_ENGINE_TRADER_KEYS)."""
    parts = [p for p in value.split(",") if p.strip()]
    items = [(f"pair {i}", p) for i, p in enumerate(parts, 1)]
    return parse_keys(items, ENV, "owner=key pairs separated by commas")


def read_key_file(path: Path) -> TraderKeys:
    """A key file: ``owner = key`` lines, ``#`` comments and blank lines ignored."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: expected a readable key file, found {exc.strerror}") from exc
    items = [
        (f"line {n}", line)
        for n, line in enumerate(text.splitlines(), 1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    return parse_keys(items, str(path), "'owner = key' lines")


def configured_keys(value: str) -> TraderKeys:
    """AI_ENGINE_TRADER_KEYS: inline pairs when it holds '=', else the path of a key file."""
    if "=" in value:
        return parse_inline(value)
    path = Path(value).expanduser()
    if not path.is_file():
        shown = f"at {path}" if "/" in value else "there (the value is not shown: it may be a key)"
        raise ConfigError(
            f"{ENV}: expected owner=key pairs (e.g. engine=<key>,strat-a=<key>) or the path of a "
            f"key file, found no '=' and no file {shown}"
        )
    return read_key_file(path)


def default_keys_path(registry: Path, state_url: str | None) -> Path:
    """``keys`` beside the SQLite state store; beside the registry for any other store."""
    from ai_engine.safety import default_state_url

    url = sa.make_url(state_url or default_state_url(registry))
    database = url.database
    if url.get_backend_name() == "sqlite" and database and database != ":memory:":
        return Path(database).resolve().parent / KEYS_FILE
    return Path(registry).resolve().parent / KEYS_FILE


def ensure_key_file(path: Path) -> tuple[TraderKeys, bool]:
    """The keys of ``path``, creating it first with one key for DEFAULT_OWNER (mode 0600,
    written atomically: a concurrent creator's file wins and is read); True when created."""
    created = False
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        text = (
            "# ai-engine trader keys: one 'owner = key' per line (docs/safety.md, Keys)\n"
            f"{DEFAULT_OWNER} = {secrets.token_urlsafe(32)}\n"
        )
        temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.link(temp, path)  # never replaces a file another process made meanwhile
            created = True
        except FileExistsError:
            pass
        finally:
            temp.unlink(missing_ok=True)
    return read_key_file(path), created


def service_keys(registry: Path, state_url: str | None, configured: str | None) -> TraderKeys:
    """The service's trader keys: AI_ENGINE_TRADER_KEYS, else the key file beside the state
    store (created at first start); where they come from is logged, never a key."""
    if configured:
        keys = configured_keys(configured)
        where = keys.source if keys.source != ENV else f"{ENV} (inline)"
        log.info(
            "trader keys", extra={"event": "trader_keys", "source": where, "owners": keys.owners}
        )
        return keys
    path = default_keys_path(registry, state_url)
    keys, created = ensure_key_file(path)
    (log.warning if created else log.info)(
        f"trader key {'created' if created else 'read'} at {path}",
        extra={"event": "trader_keys", "source": str(path), "owners": keys.owners},
    )
    return keys


def client_key(registry: Path, state_url: str | None, configured: str | None) -> str:
    """The trader key a client of this registry's service sends (``ai-engine freqtrade init``):
    ``engine``'s (or the only owner's) of AI_ENGINE_TRADER_KEYS, else of the key file beside
    the state store, which is created if the service has not made it yet."""
    if configured:
        keys = configured_keys(configured)
    else:
        keys, _ = ensure_key_file(default_keys_path(registry, state_url))
    owners = keys.owners
    owner = DEFAULT_OWNER if DEFAULT_OWNER in owners else owners[0] if len(owners) == 1 else None
    if owner is None:
        raise ConfigError(
            f"{keys.source}: expected a key for {DEFAULT_OWNER!r} or a single owner, found "
            f"{owners}; give the strategy's key with --key"
        )
    return str(keys.key_for(owner))

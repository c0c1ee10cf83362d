"""The signal contract: what a signal, forecast or proposal body promises, and a validator.

Every body carries ``schema_version``, ``generated_at``, ``valid_until`` (the end of the bar it
is meant for), the release id and each member's bundle hash. A consumer checks a body with
``check`` (or ``ai-engine contract check``) against its JSON Schema (docs/schemas/, served at
``GET /v1/schemas/{name}``), its freshness (the wall clock against ``valid_until``) and, when it
knows the production release, that the body comes from it::

    from ai_engine.contract import check
    verdict = check(body, schema, production="v20250101_000000")
    if not verdict.ok:
        print(verdict.code, verdict.reason)   # EXPIRED, SCHEMA or RELEASE_MISMATCH

This module imports only the standard library (and ``jsonschema`` when it validates).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

SchemaVersion = Literal["1"]
SCHEMA_VERSION: SchemaVersion = "1"
"""Bumped on every breaking change of a body (a field removed, renamed or retyped)."""
NAMES = ("signal", "forecast", "proposal")
Code = Literal["OK", "EXPIRED", "SCHEMA", "RELEASE_MISMATCH"]
_UNITS = {"m": 60, "h": 3600, "d": 86_400, "w": 604_800}


@dataclass(frozen=True)
class Verdict:
    """``ok`` with code OK, or the first failed check's code and a one-line reason."""

    ok: bool
    code: Code
    reason: str

    def line(self) -> str:
        return f"{self.code}: {self.reason}"


def bar_seconds(timeframe: str) -> int:
    """Seconds in one bar of ``timeframe`` (``5m``, ``1h``, ``1d``, ``1w``)."""
    unit = _UNITS.get(timeframe[-1:])
    if unit is None or not timeframe[:-1].isdigit() or int(timeframe[:-1]) < 1:
        from ai_engine.errors import ConfigError

        raise ConfigError(f"timeframe: expected like 5m, 1h, 1d or 1w, found {timeframe!r}")
    return int(timeframe[:-1]) * unit


def valid_until(as_of: datetime, timeframe: str, now: datetime) -> datetime:
    """The end of the bar a body made at ``now`` from candles up to ``as_of`` is meant for.

    ``as_of`` is the last candle's open time. While that candle is still open, its own bar;
    once it has closed, the bar after it. A body made later than that (stale candles) is
    expired when it is made.
    """
    bar = timedelta(seconds=bar_seconds(timeframe))
    return as_of + bar if now < as_of + bar else as_of + 2 * bar


def stamp(as_of: str, timeframe: str, now: datetime | None = None) -> dict[str, str]:
    """``schema_version``, ``generated_at`` and ``valid_until`` for a body (ISO-8601, UTC)."""
    now = now or datetime.now(UTC)
    until = valid_until(parse_time(as_of), timeframe, now)
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": now.astimezone(UTC).isoformat(),
        "valid_until": until.astimezone(UTC).isoformat(),
    }


def parse_time(text: str) -> datetime:
    """An ISO-8601 time (a ``Z`` suffix allowed; without an offset: UTC)."""
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def kind_of(body: Mapping[str, Any]) -> str:
    """Which body this is: ``proposal`` (has a target), ``signal`` (an action) or ``forecast``."""
    if "target" in body:
        return "proposal"
    return "signal" if "action" in body else "forecast"


def check(
    body: Any,
    schema: Mapping[str, Any],
    *,
    production: str | None = None,
    bundles: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> Verdict:
    """Check ``body`` against ``schema``, then its freshness, then (given) its release.

    ``production``: the production release id; ``bundles``: family -> pinned bundle hash of
    that release (compared with the members' ``bundle_sha256`` when given).
    """
    import jsonschema

    errors = sorted(
        jsonschema.Draft202012Validator(schema).iter_errors(body), key=lambda e: list(e.path)
    )
    if errors:
        first = errors[0]
        where = ".".join(str(p) for p in first.absolute_path) or "body"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return Verdict(False, "SCHEMA", f"{where}: {first.message}{more}")
    now = now or datetime.now(UTC)
    until = parse_time(body["valid_until"])
    if now >= until:
        late = (now - until).total_seconds()
        return Verdict(
            False,
            "EXPIRED",
            f"valid_until {until.isoformat()} passed {span(late)} before {now.isoformat()}",
        )
    release = body.get("release")
    if production is not None and release != production:
        return Verdict(
            False,
            "RELEASE_MISMATCH",
            f"body from release {release!r}, production is {production!r}",
        )
    if bundles is not None:
        for member in body.get("members") or []:
            pinned = bundles.get(member.get("family"))
            if member.get("bundle_sha256") != pinned:
                return Verdict(
                    False,
                    "RELEASE_MISMATCH",
                    f"member {member.get('family')!r}: bundle {member.get('bundle_sha256')!r}, "
                    f"production pins {pinned!r}",
                )
    left = (until - now).total_seconds()
    return Verdict(True, "OK", f"{kind_of(body)} from {release} valid for {left:.0f} s more")


def breaking_changes(old: Mapping[str, Any], new: Mapping[str, Any], at: str = "") -> list[str]:
    """How ``new`` breaks consumers of ``old``: a required field gone or no longer required,
    a type or constant changed (recursively through properties and ``$defs``). Additions and
    new optional fields are not breaking."""
    found: list[str] = []
    for key in ("type", "const", "enum", "$ref"):
        if key in old and old.get(key) != new.get(key):
            found.append(f"{at or '/'}: {key} {old.get(key)!r} became {new.get(key)!r}")
    for name in old.get("required", []):
        if name not in new.get("required", []):
            found.append(f"{at}/{name}: required, now missing or optional")
    for section in ("properties", "$defs"):
        old_items, new_items = old.get(section, {}), new.get(section, {})
        for name, sub in old_items.items():
            if name in new_items:
                found += breaking_changes(sub, new_items[name], f"{at}/{name}")
            elif section == "$defs":
                found.append(f"{at}/$defs/{name}: definition removed")
    for key in ("items", "additionalProperties"):
        if isinstance(old.get(key), Mapping) and isinstance(new.get(key), Mapping):
            found += breaking_changes(old[key], new[key], f"{at}/{key}")
    for key in ("anyOf", "allOf", "oneOf"):
        if key in old and old.get(key) != new.get(key):
            found.append(f"{at or '/'}: {key} changed")
    return found


def carried(signal: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The contract fields of a proposal sizing ``signal`` at ``now``: the signal's
    ``valid_until`` (else the end of the bar after its ``as_of``, else of the bar running now)
    and its members' bundle hashes."""
    until = str(signal.get("valid_until") or "")
    timeframe = str(signal.get("timeframe") or "")
    if not until:
        try:
            until = valid_until(parse_time(str(signal.get("as_of"))), timeframe, now).isoformat()
        except (ValueError, TypeError):
            bar = bar_seconds(timeframe)
            until = datetime.fromtimestamp((now.timestamp() // bar + 1) * bar, UTC).isoformat()
    members = [
        {
            "family": str(m.get("family")),
            "version": str(m.get("version")),
            "bundle_sha256": m.get("bundle_sha256"),
        }
        for m in signal.get("members") or []
        if isinstance(m, Mapping)
    ]
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": now.astimezone(UTC).isoformat(),
        "valid_until": until,
        "members": members,
    }


def span(seconds: float) -> str:
    """A duration as people read it: ``0 s``, ``12 min``, ``5 h``, ``3 days``, ``7.9 years``."""
    for size, unit, limit in ((1, "s", 120), (60, "min", 7200), (3600, "h", 172800)):
        if seconds < limit:
            return f"{seconds / size:.0f} {unit}"
    days = seconds / 86400
    return f"{days:.0f} days" if days < 730 else f"{days / 365.25:.1f} years"

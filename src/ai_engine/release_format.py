"""Release format v2: a release is a list of typed series; v1 files are upgraded in memory.

A v2 release holds ``series: list[Series]``: every (symbol, timeframe) it answers, each with
its own members (indices into the release's ``members``), out-of-fold evidence, ensemble
settings and validation metrics. A release of one symbol made by ``train`` is one series with
``any_symbol`` set on the release (it answers any symbol of its timeframe, as before).

Format v1 (written up to commit c957850) put three shapes in one record: ``timeframe`` was one
timeframe or ``"1m,5m,30m"``, beside ``symbol``, ``symbols``, ``series`` (``SYMBOL@TF`` keys),
an untyped ``per_symbol`` dict and members owned by ``SYMBOL`` or ``SYMBOL@TF``.
``upgrade_v1`` turns such a record into the v2 shape; ``Release`` applies it to every record
it reads, and ``ai-engine models upgrade`` rewrites the files.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from ai_engine.errors import RegistryError

RELEASE_FORMAT_VERSION = 2
SERIES_SEP = "@"
V1_ONLY = ("symbol", "timeframe", "symbols", "per_symbol")
"""Keys only a v1 record has (a v2 record has none of them)."""


class Series(BaseModel):
    """One (symbol, timeframe) a release answers, with what answers it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    symbol: str
    timeframe: str
    members: list[int]
    """Indices into the release's ``members``: the bundles that answer this series (shared
    networks and this series' own trees)."""
    evaluation: dict[str, Any] = {}
    """Out-of-fold evidence (evaluation/): combination weights, edge verdict, decision rule,
    interval scales, input-distance gate. Empty for releases made before it."""
    ensemble: dict[str, Any] = {}
    metrics: dict[str, Any] = {}
    """Validation metrics per family (and ``ensemble``, ``zero_forecast``)."""
    rows: int | None = None
    """Training rows of this series (multi-symbol releases); None: not recorded."""
    oof_rows: int | None = None
    """Out-of-fold rows its evidence was fitted on; None: not recorded."""
    source: str | None = None
    """The candle file it was trained from; None: not recorded."""

    @property
    def key(self) -> str:
        """``ADA_BTC@5m``."""
        return f"{self.symbol}{SERIES_SEP}{self.timeframe}"


def _split(key: str) -> tuple[str, str]:
    symbol, _, timeframe = key.rpartition(SERIES_SEP)
    return symbol, timeframe


def _as_dict(item: Any) -> dict[str, Any]:
    return item.model_dump() if isinstance(item, BaseModel) else dict(item)


def is_v1(data: dict[str, Any]) -> bool:
    """True for a record in format v1 (a file, or keyword arguments in the v1 shape)."""
    return data.get("format_version") == 1 or any(k in data for k in V1_ONLY)


def upgrade_v1(data: dict[str, Any]) -> dict[str, Any]:
    """A v1 release record (dict) as the v2 record with the same meaning."""
    out = {k: v for k, v in data.items() if k not in (*V1_ONLY, "series", "format_version")}
    members = [_as_dict(m) for m in data.get("members", [])]
    symbol, timeframe = data.get("symbol", ""), data.get("timeframe", "")
    symbols, keys = list(data.get("symbols", [])), list(data.get("series", []))
    per_symbol: dict[str, Any] = dict(data.get("per_symbol", {}))
    evaluation, metrics = data.get("evaluation", {}), data.get("metrics", {})
    ensemble = data.get("ensemble", {})
    if keys:  # several timeframes: keyed SYMBOL@TF (in the order the release lists them)
        owned = [(s, tf, f"{s}{SERIES_SEP}{tf}") for s, tf in map(_split, keys)]
    elif symbols:
        owned = [(s, timeframe, s) for s in symbols]
    else:
        owned = []
    series = []
    for s, tf, key in owned:
        record = dict(per_symbol.get(key, {}))
        series.append(
            {
                "symbol": s,
                "timeframe": tf,
                "members": [i for i, m in enumerate(members) if m.get("symbol") in (None, key)],
                "evaluation": record.get("evaluation", evaluation),
                "ensemble": record.get("ensemble", ensemble),
                "metrics": record.get("metrics", metrics),
                **{k: record[k] for k in ("rows", "oof_rows", "source") if k in record},
            }
        )
    if not owned:  # a release of one symbol made by `train`: any symbol of its timeframe
        every = list(range(len(members)))
        series = [
            {
                "symbol": symbol,
                "timeframe": timeframe,
                "members": every,
                "evaluation": evaluation,
                "ensemble": ensemble,
                "metrics": metrics,
            }
        ]
    return {
        **out,
        "format_version": RELEASE_FORMAT_VERSION,
        "members": members,
        "series": series,
        "any_symbol": not owned,
    }


def upgraded(data: Any) -> Any:
    """``data`` in format v2 (upgrading a v1 record); a newer format is refused."""
    if not isinstance(data, dict):
        return data
    version = data.get("format_version", RELEASE_FORMAT_VERSION)
    if isinstance(version, int) and version > RELEASE_FORMAT_VERSION:
        raise RegistryError(
            f"release format {version} was written by a newer ai-engine; this one reads "
            f"formats 1..{RELEASE_FORMAT_VERSION} (upgrade ai-engine)"
        )
    return upgrade_v1(data) if is_v1(data) else data

"""The candle routes' body cache: a body sent again skips parsing and candle validation.

The same bytes always parse to the same columns, and the same columns validate to the same
candles for one release, so the fast path (fastpath.py) remembers both under the SHA-256
digest of the body (hardware-accelerated here: about half BLAKE2b's time): the parsed columns
by the body alone (routing needs the symbol and timeframe they carry), the validated candles
and their window digest by the body and the id of the release that validated them, so a hot
swap validates afresh for the new release. Only successes are kept: a body that is not the
plain case, or fails validation, goes the whole way every time and gets the same 4xx.
Everything after the candles (window cache, models, the signal with its gates, stale check and
stamps) runs as for any request. Each part holds at most ``entries`` bodies, least recently
used out first (``AI_ENGINE_WINDOW_CACHE``).
"""

from __future__ import annotations

import hashlib
from typing import TypeVar

from ai_engine.data import Candles
from ai_engine.service.fastjson import ParsedCandles
from ai_engine.serving.lru import Recent

K = TypeVar("K")
V = TypeVar("V")


class BodyCache:
    """Parsed bodies and the candles each release validated from them."""

    def __init__(self, entries: int) -> None:
        self.entries = entries
        self.parsed: Recent[bytes, ParsedCandles] = Recent(entries)
        self.candles: Recent[tuple[str, bytes], tuple[Candles, bytes | None]] = Recent(entries)
        """The candles and their window digest (batcher.window_digest), by release and body."""

    @property
    def enabled(self) -> bool:
        return self.entries > 0

    @staticmethod
    def key(body: bytes) -> bytes:
        """The body's SHA-256 digest."""
        return hashlib.sha256(body).digest()

"""A small HTTP client of the signal service for the freqtrade strategy (standard library only).

Every call has a timeout; anything but a 2xx JSON answer is a ``ServiceError`` whose message
names the route and what came back (a 503 refusal carries the service's own one-line error).
The strategy turns a ``ServiceError`` into "no entry", never into a default action. With a
trader ``key`` every call carries ``Authorization: Bearer <key>`` (the write routes need it).
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pandas as pd

from ai_engine.errors import ServiceError

OHLCV = ("open", "high", "low", "close", "volume")
FILL_ID = re.compile(r"[A-Za-z0-9_.:/-]{1,64}")
"""The service's ``fill_id`` pattern; another exchange order id is sent as its digest."""


def fill_id(order_id: str) -> str:
    """The exchange's order id as the fill's idempotency key (``ft-<sha256>`` when it does not
    fit the service's pattern), so a fill reported twice is booked once."""
    if FILL_ID.fullmatch(order_id):
        return order_id
    return "ft-" + hashlib.sha256(order_id.encode()).hexdigest()[:40]


def columns_body(frame: pd.DataFrame, symbol: str, timeframe: str) -> dict[str, Any]:
    """The ``/v1/signal`` body (``columns`` form) for a frame with a ``date`` column or a
    datetime index, oldest first."""
    dates = pd.DatetimeIndex(frame["date"] if "date" in frame.columns else frame.index)
    millis = (dates.as_unit("ms").asi8).tolist()
    return {
        "symbol": symbol,
        "timeframe": timeframe,
        "columns": {
            "t": millis,
            **{
                key: frame[col].astype(float).tolist()
                for key, col in zip("ohlcv", OHLCV, strict=True)
            },
        },
    }


class ServiceClient:
    """Calls ``/v1/signal``, ``/v1/risk/proposal``, ``/v1/fills`` and ``/v1/ess`` of one
    service; ``key``: the trader key of the write routes."""

    def __init__(
        self, url: str, timeout: float = 5.0, release: str | None = None, key: str | None = None
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.release = release
        self.key = key

    def signal(self, frame: pd.DataFrame, symbol: str, timeframe: str) -> dict[str, Any]:
        """The Signal JSON for the last candle of ``frame``."""
        query = f"?{urllib.parse.urlencode({'release': self.release})}" if self.release else ""
        return self._call("POST", f"/v1/signal{query}", columns_body(frame, symbol, timeframe))

    def proposal(
        self, signal: dict[str, Any], equity: float, price: float, position: float = 0.0
    ) -> dict[str, Any]:
        """The risk proposal for an already made signal (target, status, reasons, exits)."""
        body = {
            "symbol": signal["symbol"],
            "timeframe": signal["timeframe"],
            "signal": signal,
            "equity": equity,
            "position": position,
            "price": price,
        }
        return self._call("POST", "/v1/risk/proposal", body)

    def fill(
        self, symbol: str, side: str, quantity: float, price: float, fee: float, order_id: str
    ) -> dict[str, Any]:
        """Book an executed order (``fill_id`` from its exchange id: a retry books nothing)."""
        body = {
            "symbol": symbol,
            "side": side,
            "quantity": quantity,
            "price": price,
            "fee": fee,
            "fill_id": fill_id(order_id),
        }
        return self._call("POST", "/v1/fills", body)

    def ess_state(self) -> str:
        """ACTIVE, REDUCING or HALTED."""
        return str(self._call("GET", "/v1/ess", None)["state"])

    def _call(self, method: str, route: str, body: dict[str, Any] | None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body, allow_nan=False).encode()
        request = urllib.request.Request(
            self.url + route,
            data=data,
            method=method,
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json",
                **({"Authorization": f"Bearer {self.key}"} if self.key else {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise ServiceError(f"{method} {route}: HTTP {exc.code}: {_error_line(exc)}") from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ServiceError(
                f"{method} {route}: service unreachable at {self.url}: {reason}"
            ) from exc
        except ValueError as exc:
            raise ServiceError(f"{method} {route}: expected a JSON answer, found {exc}") from exc
        if not isinstance(answer, dict):
            raise ServiceError(f"{method} {route}: expected a JSON object, found {type(answer)}")
        return answer


def _error_line(exc: urllib.error.HTTPError) -> str:
    """The service's ``error`` line from an error answer, else the HTTP reason."""
    try:
        return str(json.loads(exc.read()).get("error") or exc.reason)
    except (ValueError, AttributeError, OSError):
        return str(exc.reason)

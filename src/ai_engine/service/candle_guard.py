"""Bounded work per body: candle rows are counted and checked by shape before any model is built.

FastAPI validates a body with pydantic, which builds one model (and, when it is bad, six
error objects) per candle row before any route code runs: a 3 MB body of a million ``{}``
rows cost minutes and gigabytes. ``GuardedRoute`` looks at the parsed JSON first: more
``candles`` rows (or ``columns`` values) than the service's ``max_candles`` is a 422 at once,
and a row that is not an object with exactly the keys ``t, o, h, l, c, v`` is a 422 with
pydantic's own errors for it (``missing``, ``extra_forbidden``, ``dict_type``), the first
``MAX_ERRORS`` of them and the count of all. Values are left to pydantic (then at
most ``max_candles`` rows), so the wire schema and its messages stay those of ``CandleRow``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.responses import Response

from ai_engine.errors import InputError

MAX_ERRORS = 20
"""Rows listed in one 422; the message gives the count of all of them."""
ROW_KEYS = ("t", "o", "h", "l", "c", "v")
_ROW_SET = frozenset(ROW_KEYS)
EXTRA = "extra_forbidden"


class CappedValidationError(RequestValidationError):
    """A 422 whose ``errors`` are the first ``MAX_ERRORS`` of ``total`` problems."""

    def __init__(self, errors: Sequence[Any], total: int) -> None:
        super().__init__(errors)
        self.total = total


def body_json(body: bytes) -> Any:
    """The body as JSON (NaN and Infinity literals included, as FastAPI reads them); None when
    it is empty or not JSON (FastAPI then answers why)."""
    if not body:
        return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def _row_errors(row: Any, index: int) -> list[dict[str, Any]]:
    """Why ``row`` is not a candle row by shape, as pydantic's errors for ``CandleRow`` (loc,
    msg, type); empty when it is one."""
    at: tuple[Any, ...] = ("body", "candles", index)
    if type(row) is not dict:
        return [{"loc": at, "msg": "Input should be a valid dictionary", "type": "dict_type"}]
    if len(row) == len(ROW_KEYS) and row.keys() == _ROW_SET:
        return []
    errors = [
        {"loc": (*at, key), "msg": "Field required", "type": "missing"}
        for key in ROW_KEYS
        if key not in row
    ]
    errors += [
        {"loc": (*at, str(key)[:64]), "msg": "Extra inputs are not permitted", "type": EXTRA}
        for key in row
        if key not in _ROW_SET
    ]
    return errors


def _too_many(loc: list[str | int], count: int, max_candles: int) -> InputError:
    return InputError(
        loc,
        f"{'.'.join(map(str, loc))}: expected at most {max_candles} candles per request "
        f"(AI_ENGINE_MAX_CANDLES), found {count}",
    )


def check_candles(data: Any, max_candles: int) -> None:
    """Refuse ``data``'s candles by count (InputError) or row shape (CappedValidationError)
    before pydantic reads them; anything else is left to pydantic."""
    if type(data) is not dict:
        return
    rows = data.get("candles")
    if type(rows) is list:
        if len(rows) > max_candles:
            raise _too_many(["body", "candles"], len(rows), max_candles)
        errors: list[dict[str, Any]] = []
        total = 0
        for index, row in enumerate(rows):
            if type(row) is dict and row.keys() == _ROW_SET:
                continue
            found = _row_errors(row, index)
            total += len(found)
            errors += found[: MAX_ERRORS - len(errors)]
        if errors:
            raise CappedValidationError(errors, total)
    columns = data.get("columns")
    if type(columns) is dict:
        for name, values in columns.items():
            if name in _ROW_SET and type(values) is list and len(values) > max_candles:
                raise _too_many(["body", "columns", name], len(values), max_candles)


async def guard_body(request: Request) -> None:
    """``check_candles`` on a POST body, against the service's ``max_candles``."""
    if request.method != "POST":
        return
    data = body_json(await request.body())
    check_candles(data, request.app.state.service.settings.max_candles)


class GuardedRoute(APIRoute):
    """An APIRoute whose body's candles are checked (``guard_body``) before FastAPI reads it."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        ordinary = super().get_route_handler()

        async def handler(request: Request) -> Response:
            await guard_body(request)
            return await ordinary(request)

        return handler

"""GET /v1/schemas/{name}: the JSON Schema of the signal, forecast or proposal body."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import RootModel

from ai_engine.contract.schemas import schema
from ai_engine.service.schemas import ErrorOut

router = APIRouter(prefix="/v1", tags=["contract"])


class JsonSchemaOut(RootModel[dict[str, Any]]):
    """A JSON Schema (draft 2020-12), as in docs/schemas/."""


@router.get(
    "/schemas/{name}",
    response_model=JsonSchemaOut,
    responses={422: {"model": ErrorOut, "description": "not a schema name"}},
)
async def get_schema(name: Literal["signal", "forecast", "proposal"]) -> dict[str, Any]:
    """The JSON Schema every body of this kind passes (its ``schema_version`` included)."""
    return schema(name)

"""Request bodies are JSON, whatever the Content-Type says (or does not say).

NVIDIA's ``tritonclient`` posts its JSON without a Content-Type and ``curl -d`` sends it as a
form; FastAPI would then not parse the body at all and answer "Input should be a valid
dictionary". Every route of this service takes JSON, so a POST body is read as JSON. Triton's
binary tensor data extension (a JSON header of ``Inference-Header-Content-Length`` bytes followed
by raw tensors) is refused with a 400 that names it. The Content-Type the client sent is kept
in the scope (``deps.CONTENT_TYPE``): the write endpoints accept application/json only (415).
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

BINARY_HEADER = b"inference-header-content-length"
BINARY_REFUSAL = (
    "Triton's binary tensor data extension (Inference-Header-Content-Length) is not "
    "supported: send the tensors as JSON (tritonclient: set_data_from_numpy(array, "
    "binary_data=False) on each InferInput)"
)
JSON_TYPE = (b"content-type", b"application/json")
CONTENT_TYPE = "ai_engine.content_type"
"""Scope key of the Content-Type the client sent (None: none); deps.require_json reads it."""


class JsonBodyMiddleware:
    """Read every POST/PUT/PATCH body as JSON; refuse binary tensor data by name."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        given = [v for k, v in scope["headers"] if k.lower() == b"content-type"]
        scope[CONTENT_TYPE] = given[0].decode("latin-1") if given else None
        headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-type"]
        if any(k.lower() == BINARY_HEADER for k, _ in headers):
            body: dict[str, object] = {"error": BINARY_REFUSAL}
            if not scope["path"].startswith("/v2"):
                body["detail"] = [{"loc": ["header"], "msg": BINARY_REFUSAL, "type": "binary"}]
            await JSONResponse(body, status_code=400)(scope, receive, send)
            return
        scope["headers"] = [*headers, JSON_TYPE]  # in place: the router's "route" must reach
        await self.app(scope, receive, send)  # the observability middleware's scope

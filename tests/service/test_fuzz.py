"""Schemathesis fuzzes every operation of the app's own OpenAPI schema (a bounded number of
examples each) against an app serving a real release: never a 500, never a NaN."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from ai_engine.service import ServiceSettings, create_app
from service.helpers import ADMIN, running_client, settings_for
from service.server import SLOW

MAX_EXAMPLES = 25

# The schema does not depend on the registry: read it from an app that serves none. Loading
# the schema starts that app (and it answers schemathesis's own re-sent requests), so its
# state store is a temporary file, not state.db in the working directory.
_schema_state = tempfile.TemporaryDirectory(prefix="ai-engine-fuzz-", ignore_cleanup_errors=True)
schema = schemathesis.openapi.from_asgi(
    "/openapi.json",
    create_app(
        ServiceSettings(
            registry=Path("unused"), state_url=f"sqlite:///{_schema_state.name}/state.db"
        )
    ),
)


@pytest.fixture(scope="module")
def fuzzed_app(trained_registry: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """An app serving a copy of the trained registry (promote may write), few candles allowed."""
    root = shutil.copytree(trained_registry, tmp_path_factory.mktemp("fuzz") / "registry")
    with running_client(settings_for(root, max_candles=300)) as client:
        yield client.app


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: Any, fuzzed_app: Any) -> None:
    headers = ADMIN if case.path.startswith("/v1/models/") else None
    # schemathesis reads each answer with a 10 s limit by default, which a loaded machine breaks
    # (issue 27); the generous cap still ends a request that hangs.
    response = case.call(app=fuzzed_app, headers=headers, timeout=SLOW)
    # A schema cannot say "200 sorted candles": schema-valid bodies may be refused with 422.
    case.validate_response(response, excluded_checks=[positive_data_acceptance])
    assert response.status_code < 500, (case.method, case.path, response.text[:300])
    content_type = response.headers.get("content-type") or [""]  # schemathesis: value lists
    if content_type[0].startswith("application/json"):
        json.loads(response.text, parse_constant=_refuse_non_finite)


def _refuse_non_finite(constant: str) -> Any:
    """``json.loads`` calls this for NaN, Infinity and -Infinity, which JSON does not allow
    (a string such as the symbol "NaN" is fine)."""
    raise AssertionError(f"the answer holds the non-JSON number {constant}")

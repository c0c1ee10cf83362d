"""The safety commands (in process, through Typer's runner) on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ai_engine.cli import app
from ai_engine.errors import SafetyInputError
from safety.service_helpers import SYMBOL, registry_in
from safety.signals import make_signal
from service.helpers import FRAME

runner = CliRunner()


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_ess_account_fills_and_propose(tmp_path: Path, state_url: str) -> None:
    registry = registry_in(tmp_path)
    common = ["--state-url", state_url, "--registry", str(registry)]
    assert invoke("ess", "status", *common).startswith("ACTIVE")
    account = json.loads(invoke("account", "--equity", "10000", *common))
    assert account["snapshot"]["equity"] == 10_000
    fill = ["--symbol", SYMBOL, "--side", "buy", "--quantity", "2", "--price", "100"]
    assert json.loads(invoke("fills", *fill, *common))["position"]["quantity"] == 2
    assert len(json.loads(invoke("fills", *common))["fills"]) == 1

    signal_file = tmp_path / "signal.json"
    signal_file.write_text(json.dumps(make_signal(symbol=SYMBOL)))
    proposal = json.loads(
        invoke(
            "propose", "--signal", str(signal_file), "--equity", "10000", "--position", "0", *common
        )
    )
    assert proposal["status"] == "approved" and proposal["target"] > 0

    assert "drill" in invoke("ess", "trip", "--reason", "drill", "--actor", "ci", *common)
    status = json.loads(invoke("ess", "status", "--json", *common))
    assert (status["state"], status["actor"]) == ("HALTED", "ci")
    candles = tmp_path / "TEST-5m.csv"
    FRAME.rename_axis("date").to_csv(candles)
    from_data = json.loads(invoke("propose", "--data", str(candles), "--equity", "10000", *common))
    assert from_data["ess_state"] == "HALTED" and from_data["target"] == 0.0
    assert from_data["current"] == pytest.approx(0.02, rel=0.2)
    assert invoke("ess", "reset", "--reason", "drill over", *common).startswith("ACTIVE")
    assert json.loads(invoke("limits", "--registry", str(registry)))["limits"]["max_position"]


def test_bad_input_is_refused(tmp_path: Path, state_url: str) -> None:
    common = ["--state-url", state_url, "--registry", str(tmp_path / "registry")]
    with pytest.raises(SafetyInputError, match="equity"):
        runner.invoke(app, ["account", "--equity", "-5", *common], catch_exceptions=False)
    assert json.loads(invoke("account", *common))["snapshot"] is None

"""The safety commands (in process, through Typer's runner) on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ai_engine.cli import app
from ai_engine.errors import RegistryError, SafetyInputError, StateStoreError
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
    assert "at revision" in invoke("state", "upgrade", "--create", *common)
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
    common = ["--state-url", state_url, "--registry", str(registry_in(tmp_path))]
    invoke("state", "upgrade", "--create", *common)
    with pytest.raises(SafetyInputError, match="equity"):
        runner.invoke(app, ["account", "--equity", "-5", *common], catch_exceptions=False)
    assert json.loads(invoke("account", *common))["snapshot"] is None


COMMANDS = {
    "ess status": ["ess", "status"],
    "ess trip": ["ess", "trip", "--reason", "x"],
    "ess reset": ["ess", "reset", "--reason", "x"],
    "account": ["account", "--equity", "100"],
    "fills": ["fills"],
    "limits": ["limits"],
    "propose": ["propose", "--equity", "100"],
}


def _command(name: str, tmp_path: Path) -> list[str]:
    args = list(COMMANDS[name])
    if name == "propose":
        signal = tmp_path / "signal.json"
        signal.write_text(json.dumps(make_signal(symbol=SYMBOL)))
        args += ["--signal", str(signal)]
    return args


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_mistyped_registry_is_refused_and_nothing_is_created(tmp_path: Path, name: str) -> None:
    registry_in(tmp_path)
    typo = tmp_path / "regsitry"
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(RegistryError, match="expected an existing registry folder"):
        runner.invoke(
            app, [*_command(name, tmp_path), "--registry", str(typo)], catch_exceptions=False
        )
    assert sorted(p for p in tmp_path.rglob("*") if p.name != "signal.json") == [
        p for p in before if p.name != "signal.json"
    ]
    assert not (tmp_path / "state.db").exists()


@pytest.mark.parametrize("name", [n for n in COMMANDS if n != "limits"])
def test_a_state_store_that_does_not_exist_is_refused(
    tmp_path: Path, state_url: str, name: str
) -> None:
    common = ["--state-url", state_url, "--registry", str(registry_in(tmp_path))]
    with pytest.raises(StateStoreError, match="expected an existing state store, found"):
        runner.invoke(app, [*_command(name, tmp_path), *common], catch_exceptions=False)
    with pytest.raises(StateStoreError, match="state upgrade --create"):
        runner.invoke(app, ["state", "upgrade", *common], catch_exceptions=False)
    assert not (tmp_path / "state.db").exists()
    invoke("state", "upgrade", "--create", *common)
    invoke(*_command(name, tmp_path), *common)  # now it exists: the command runs


def test_ess_trip_on_a_typo_exits_1_and_the_real_stop_is_untouched(tmp_path: Path) -> None:
    registry = registry_in(tmp_path)
    invoke("state", "upgrade", "--create", "--registry", str(registry))
    typo = tmp_path / "elsewhere" / "registry"
    command = [sys.executable, "-m", "ai_engine.cli", "ess", "trip", "--reason", "x"]
    tripped = subprocess.run(
        [*command, "--registry", str(typo)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert tripped.returncode == 1 and "HALTED" not in tripped.stdout
    assert "RegistryError: registry: expected an existing registry folder" in tripped.stderr
    assert not typo.exists()
    assert not typo.parent.exists()  # no state.db beside the typo
    assert {p.name for p in tmp_path.iterdir()} <= {
        "registry",
        "state.db",
        "state.db-wal",
        "state.db-shm",
    }
    status = invoke("ess", "status", "--registry", str(registry))
    assert status.startswith("ACTIVE")  # the real one: never tripped
    missing = runner.invoke(app, ["ess", "status", "--registry", str(typo)])
    assert missing.exit_code != 0 and "ACTIVE" not in missing.output

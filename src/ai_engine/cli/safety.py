"""Safety commands: ``propose``, ``ess status|trip|reset``, ``account``, ``fills``, ``limits``,
``state upgrade``. They work on the state store directly (whoever can reach it is an admin).

They never create what they were pointed at: a registry folder that does not exist is a
RegistryError and a state store that does not exist a StateStoreError (exit 1), so a mistyped
``--registry`` cannot trip a different emergency stop; ``state upgrade --create`` makes one.
"""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ai_engine.cli.common import DEFAULT_REGISTRY, RegistryOption, app, echo

ess_app = typer.Typer(help="The emergency stop: status, trip, reset.", no_args_is_help=True)
state_app = typer.Typer(help="The safety state store.", no_args_is_help=True)
app.add_typer(ess_app, name="ess")
app.add_typer(state_app, name="state")

StateUrlOption = Annotated[
    str | None,
    typer.Option(
        "--state-url",
        envvar="AI_ENGINE_STATE_URL",
        help="sqlite:///FILE or postgresql+psycopg://... (default: state.db beside the registry).",
    ),
]
SafetyConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--safety-config",
        envvar="AI_ENGINE_SAFETY_CONFIG",
        help="TOML/JSON limits and triggers (default: safety.toml beside the registry).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why (kept in the audit trail).")]
ActorOption = Annotated[str | None, typer.Option("--actor", help="Who (default: cli:<user>).")]


def _release_symbols(registry: Path) -> set[str]:
    from ai_engine.errors import AIEngineError
    from ai_engine.registry import Registry

    try:
        return {Registry(registry).resolve("production").symbol}
    except (AIEngineError, OSError):
        return set()


def _existing_registry(registry: Path) -> None:
    """RegistryError unless ``registry`` is a folder (what the state URL or config comes from)."""
    from ai_engine.errors import RegistryError

    if not registry.is_dir():
        raise RegistryError(
            f"registry: expected an existing registry folder, found nothing at "
            f"{registry.resolve()} (give --registry or AI_ENGINE_REGISTRY); nothing was changed"
        )


def _state_url(state_url: str | None, registry: Path, create: bool = False) -> str:
    """The state URL (default: beside the registry, which must exist); unless ``create``, the
    store must exist too (StateStoreError)."""
    from ai_engine.safety import default_state_url
    from ai_engine.safety.store import require_existing

    if state_url is None:
        _existing_registry(registry)
    url = state_url or default_state_url(registry)
    if not create:
        require_existing(url)
    return url


def _desk(
    state_url: str | None,
    registry: Path,
    safety_config: Path | None,
    symbols: set[str] | None = None,
    limits: bool = True,
) -> Any:
    """A started desk over an existing store; ``limits``: the command applies the limits, so
    their default file beside the registry needs the registry to exist."""
    from ai_engine.safety import SafetyConfig, SafetyDesk, StateStore
    from ai_engine.safety.config import default_config_path

    if limits and safety_config is None:
        _existing_registry(registry)
    url = _state_url(state_url, registry)
    config = SafetyConfig.load(safety_config or default_config_path(registry))
    store = StateStore(url)
    desk = SafetyDesk(store, config, known_symbols=lambda: symbols or _release_symbols(registry))
    desk.start()
    return desk


def _print(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, allow_nan=False) + "\n")


def _actor(actor: str | None) -> str:
    if actor:
        return actor
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _checked_signal(data: Any, path: Path) -> dict[str, Any]:
    """The signal file's content, validated as the service validates ``signal``."""
    from pydantic import ValidationError

    from ai_engine.errors import ConfigError
    from ai_engine.service.safety_schemas import SignalIn

    try:
        return SignalIn.model_validate(data).model_dump()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "signal"
        raise ConfigError(f"--signal {path}: {where}: {first['msg']}") from exc


@state_app.command("upgrade")
def state_upgrade(
    state_url: StateUrlOption = None,
    registry: RegistryOption = DEFAULT_REGISTRY,
    create: Annotated[
        bool, typer.Option("--create", help="Create the state store when it does not exist.")
    ] = False,
) -> None:
    """Migrate the state store to the newest schema (--create: make it first if missing)."""
    from ai_engine.safety import StateStore
    from ai_engine.safety.store import redact

    store = StateStore(_state_url(state_url, registry, create))
    head = store.upgrade()
    echo([f"state store {redact(store.url)} at revision {head}"])


def _ess_line(status: Any) -> str:
    data = status.to_json()
    return (
        f"{data['state']} since {data['since']} ({data['trigger']} by {data['actor']}): "
        f"{data['reason']}"
    )


@ess_app.command("status")
def ess_status(
    state_url: StateUrlOption = None,
    registry: RegistryOption = DEFAULT_REGISTRY,
    as_json: JsonOption = False,
) -> None:
    """The emergency stop's state, since when, why and by whom."""
    desk = _desk(state_url, registry, None, limits=False)
    status = desk.ess_status()
    if as_json:
        _print({**status.to_json(), "transitions": [t.to_json() for t in desk.ess_history(10)]})
    else:
        echo([_ess_line(status)])


@ess_app.command("trip")
def ess_trip(
    reason: ReasonOption,
    state: Annotated[str, typer.Option(help="HALTED or REDUCING.")] = "HALTED",
    actor: ActorOption = None,
    state_url: StateUrlOption = None,
    registry: RegistryOption = DEFAULT_REGISTRY,
) -> None:
    """Trip the emergency stop; it stays until an explicit reset."""
    desk = _desk(state_url, registry, None, limits=False)
    status = desk.trip(reason, _actor(actor), state.upper())
    echo([_ess_line(status)])


@ess_app.command("reset")
def ess_reset(
    reason: ReasonOption,
    actor: ActorOption = None,
    state_url: StateUrlOption = None,
    registry: RegistryOption = DEFAULT_REGISTRY,
) -> None:
    """Back to ACTIVE (audited); the drawdown high-water mark restarts from the equity now."""
    status = _desk(state_url, registry, None, limits=False).reset(reason, _actor(actor))
    echo([_ess_line(status)])


@app.command("account")
def account_command(
    equity: Annotated[
        float | None, typer.Option(help="Report this equity (else: show the account).")
    ] = None,
    state_url: StateUrlOption = None,
    registry: RegistryOption = DEFAULT_REGISTRY,
    safety_config: SafetyConfigOption = None,
) -> None:
    """Report the account equity, or show the equity curve and open positions (JSON)."""
    desk = _desk(state_url, registry, safety_config)
    _print(desk.account() if equity is None else desk.report_account(equity))


@app.command("fills")
def fills_command(
    symbol: Annotated[str | None, typer.Option(help="Report a fill of this symbol.")] = None,
    side: Annotated[str | None, typer.Option(help="BUY or SELL.")] = None,
    quantity: Annotated[float | None, typer.Option(help="Quantity (> 0).")] = None,
    price: Annotated[float | None, typer.Option(help="Price (> 0).")] = None,
    fee: Annotated[float, typer.Option(help="Fee in quote currency.")] = 0.0,
    position_id: Annotated[str | None, typer.Option(help="Position the fill belongs to.")] = None,
    owner: Annotated[
        str | None,
        typer.Option(help="Client the position belongs to (default: the position's, else engine)."),
    ] = None,
    fill_id: Annotated[
        str | None, typer.Option(help="Exchange order/trade id: a retry books nothing new.")
    ] = None,
    limit: Annotated[int, typer.Option(help="Fills to list.")] = 100,
    state_url: StateUrlOption = None,
    registry: RegistryOption = DEFAULT_REGISTRY,
    safety_config: SafetyConfigOption = None,
) -> None:
    """Report a fill (with --symbol --side --quantity --price), or list the newest fills."""
    from ai_engine.errors import SafetyInputError
    from ai_engine.safety import FillInput

    desk = _desk(state_url, registry, safety_config)
    if symbol is None:
        _print({"fills": desk.fills(limit)})
        return
    if side is None or quantity is None or price is None:
        raise SafetyInputError(["fills"], "a fill needs --side, --quantity and --price")
    where = {"position_id": position_id, "owner": owner, "fill_id": fill_id}
    fill = FillInput(symbol, side.upper(), quantity, price, fee, **where)  # type: ignore[arg-type]
    _print(desk.report_fill(fill))


@app.command("limits")
def limits_command(
    registry: RegistryOption = DEFAULT_REGISTRY, safety_config: SafetyConfigOption = None
) -> None:
    """The sizing, governance limits and ESS triggers in force (JSON)."""
    from ai_engine.safety import SafetyConfig
    from ai_engine.safety.config import default_config_path

    if safety_config is None:
        _existing_registry(registry)
    _print(SafetyConfig.load(safety_config or default_config_path(registry)).to_json())


@app.command("propose")
def propose_command(
    equity: Annotated[float, typer.Option(help="Account equity (quote currency).")],
    data: Annotated[Path | None, typer.Option("--data", help="Candle file (last bar).")] = None,
    signal_file: Annotated[
        Path | None, typer.Option("--signal", help="A signal JSON (from `signal --json`).")
    ] = None,
    position: Annotated[
        float | None, typer.Option(help="Current signed fraction (default: state store).")
    ] = None,
    price: Annotated[float | None, typer.Option(help="Price (default: last close).")] = None,
    symbol: Annotated[str | None, typer.Option(help="Symbol (default: file name).")] = None,
    timeframe: Annotated[str | None, typer.Option(help="Timeframe like 5m, 1h.")] = None,
    release: Annotated[str, typer.Option(help="Release id or alias.")] = "production",
    registry: RegistryOption = DEFAULT_REGISTRY,
    state_url: StateUrlOption = None,
    safety_config: SafetyConfigOption = None,
) -> None:
    """A risk proposal: target position, exits and reason codes, audited in the state store."""
    from ai_engine.errors import ConfigError
    from ai_engine.safety import ProposalInput

    if (data is None) == (signal_file is None):
        raise ConfigError("give exactly one of --data FILE and --signal FILE")
    if signal_file is not None:
        try:
            signal = json.loads(signal_file.read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"--signal {signal_file}: cannot read a JSON signal: {exc}") from exc
        signal = _checked_signal(signal, signal_file)
        symbols, mark = None, None
    else:
        from ai_engine.data import ValidationSettings, load_candles
        from ai_engine.serving import LocalEngines, Router, Signals

        if data is None:  # unreachable: exactly one of --data and --signal was checked above
            raise ConfigError("expected --data FILE (no --signal given), found neither")
        plane = Signals(Router(LocalEngines(registry, release)), stale_check=False)
        settings = ValidationSettings(min_rows=plane.router.source.require().required_candles)
        candles = load_candles(data, symbol, timeframe, settings)
        engine, made = plane.signal_now(candles)  # the series that covers the file's symbol
        signal = made.to_json()
        mark = float(candles.close[-1])  # candles validated here: they may mark positions
        price = price if price is not None else mark
        symbols = {engine.release.symbol}
    desk = _desk(state_url, registry, safety_config, symbols)
    request = ProposalInput(
        str(signal.get("symbol")),
        str(signal.get("timeframe")),
        equity,
        position,
        price,
        mark=mark,
    )
    _print(desk.propose(request, signal))

"""Operations commands: ``doctor``, ``inspect``, ``import-legacy`` and ``serve``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ai_engine.cli.common import DEFAULT_REGISTRY, RegistryOption, app, echo
from ai_engine.cli.safety import SafetyConfigOption, StateUrlOption
from ai_engine.errors import AIEngineError, ConfigError, RegistryError


@app.command("doctor")
def doctor_command(registry: RegistryOption = DEFAULT_REGISTRY) -> None:
    """Check every release and bundle: exit 0 production OK, 1 no consensus, 2 unusable."""
    from ai_engine.doctor import EXIT_UNUSABLE, diagnose

    try:
        report = diagnose(registry)
    except (AIEngineError, OSError) as exc:
        typer.echo(f"registry {registry} unusable: {type(exc).__name__}: {exc} (exit 2)")
        raise typer.Exit(EXIT_UNUSABLE) from exc
    echo(report.lines())
    raise typer.Exit(report.exit_code)


LookbackOption = Annotated[
    int | None, typer.Option(help="Legacy PatchTST input length (not in the weights).")
]
HeadsOption = Annotated[int | None, typer.Option(help="Legacy PatchTST attention heads.")]
StrideOption = Annotated[int | None, typer.Option(help="Legacy PatchTST patch stride.")]
PoolingOption = Annotated[str | None, typer.Option(help="Legacy PatchTST pooling: mean or last.")]


@app.command("inspect")
def inspect_command(
    file: Annotated[Path, typer.Argument(help="Legacy PyTorch checkpoint (.pt/.pth).")],
    lookback: LookbackOption = None,
    n_heads: HeadsOption = None,
    stride: StrideOption = None,
    pooling: PoolingOption = None,
) -> None:
    """Read a legacy checkpoint safely (weights only) and print the architecture it implies."""
    from ai_engine.legacy_import import inspect_checkpoint

    echo(
        inspect_checkpoint(
            file, lookback=lookback, n_heads=n_heads, stride=stride, pooling=pooling
        ).lines()
    )


@app.command("import-legacy")
def import_legacy_command(
    file: Annotated[Path, typer.Argument(help="Legacy checkpoint (.pt/.pth) or pickle (.pkl).")],
    registry: RegistryOption = DEFAULT_REGISTRY,
    trust_pickle: Annotated[
        bool,
        typer.Option(
            "--trust-pickle", help="Allow unpickling .pkl models/scalers (runs their code)."
        ),
    ] = False,
    scaler: Annotated[Path | None, typer.Option(help="Input scaler (.json, or .pkl).")] = None,
    no_scaler: Annotated[
        bool, typer.Option("--no-scaler", help="The model takes its inputs unscaled.")
    ] = False,
    lookback: LookbackOption = None,
    n_heads: HeadsOption = None,
    stride: StrideOption = None,
    pooling: PoolingOption = None,
) -> None:
    """Convert a legacy checkpoint into a bundle under bundles/imported/ (strictly loaded)."""
    from ai_engine.legacy_import import import_legacy

    result = import_legacy(
        file,
        registry,
        trust_pickle=trust_pickle,
        scaler=scaler,
        no_scaler=no_scaler,
        lookback=lookback,
        n_heads=n_heads,
        stride=stride,
        pooling=pooling,
    )
    echo(result.lines())


def check_port_free(host: str, port: int) -> None:
    """ConfigError in one line when ``host:port`` cannot be bound (in use, or not an address of
    this machine), so that ``serve`` fails before it opens the state store or loads a model."""
    import socket

    try:
        with socket.create_server((host, port), reuse_port=False) as sock:
            sock.close()
    except OSError as exc:
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc} (another server there? "
            f"give --port or AI_ENGINE_PORT)"
        ) from None


@app.command("serve")
def serve_command(
    registry: RegistryOption = DEFAULT_REGISTRY,
    release: Annotated[
        str | None, typer.Option(help="Alias (watched) or release id [AI_ENGINE_RELEASE].")
    ] = None,
    host: Annotated[str, typer.Option(envvar="AI_ENGINE_HOST", help="Address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="AI_ENGINE_PORT", help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Processes; each loads the release.")] = 1,
    max_candles: Annotated[
        int | None, typer.Option(help="Most candles per request [AI_ENGINE_MAX_CANDLES].")
    ] = None,
    watch_interval: Annotated[
        float | None,
        typer.Option(help="Seconds between alias checks; 0: off [AI_ENGINE_WATCH_INTERVAL]."),
    ] = None,
    log_level: Annotated[
        str | None, typer.Option(help="JSON log level [AI_ENGINE_LOG_LEVEL].")
    ] = None,
    threads: Annotated[
        int | None, typer.Option(help="Compute threads per process [AI_ENGINE_THREADS].")
    ] = None,
    state_url: StateUrlOption = None,
    safety_config: SafetyConfigOption = None,
    shadow: Annotated[
        str | None,
        typer.Option(
            help="Alias computed beside the served one, logged and scored, never answered "
            "[AI_ENGINE_SHADOW]."
        ),
    ] = None,
    shadow_pending: Annotated[
        int | None,
        typer.Option(
            help="Most shadow bars per symbol awaiting outcomes [AI_ENGINE_SHADOW_PENDING]."
        ),
    ] = None,
    stale_check: Annotated[
        bool | None,
        typer.Option(
            "--stale-check/--no-stale-check",
            help="HOLD stale_data when the last candle is 2 bars old [AI_ENGINE_STALE_CHECK].",
        ),
    ] = None,
    window_cache: Annotated[
        int | None,
        typer.Option(help="Windows and bodies remembered; 0: off [AI_ENGINE_WINDOW_CACHE]."),
    ] = None,
    torch_compile: Annotated[
        bool | None,
        typer.Option(
            "--torch-compile/--no-torch-compile",
            help="Compile the PyTorch members for one-row predictions [AI_ENGINE_TORCH_COMPILE].",
        ),
    ] = None,
    wait_for_registry: Annotated[
        bool,
        typer.Option(
            "--wait-for-registry",
            help="Start without the registry folder (shared storage mounted later): live, not "
            "ready, until it appears.",
        ),
    ] = False,
) -> None:
    """Serve signals over HTTP (see docs/api.md). Every setting not given as a flag comes from
    its AI_ENGINE_* variable (admin token AI_ENGINE_ADMIN_TOKEN, trader keys
    AI_ENGINE_TRADER_KEYS, else the 'keys' file beside the state store)."""
    from ai_engine.registry import Registry
    from ai_engine.service import ServiceSettings, serve

    if not wait_for_registry and not registry.is_dir():  # one line, before anything starts
        raise RegistryError(
            f"{Registry(registry).missing_message()}; --wait-for-registry serves without it"
        )
    check_port_free(host, port)  # bind first: before the state store or any model

    flags = {
        "registry": registry,
        "release": release,
        "max_candles": max_candles,
        "watch_interval_s": watch_interval,
        "log_level": log_level,
        "threads": threads,
        "state_url": state_url,
        "safety_config": safety_config,
        "shadow": shadow,
        "shadow_pending": shadow_pending,
        "stale_check": stale_check,
        "window_cache": window_cache,
        "torch_compile": torch_compile,
    }
    settings = ServiceSettings.from_env(**{k: v for k, v in flags.items() if v is not None})
    serve(settings, host, port, workers)

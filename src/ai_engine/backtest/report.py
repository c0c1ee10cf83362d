"""Backtest output: report.json, report.html with embedded PNG charts, bars.csv, terminal tables.

Charts are drawn with matplotlib's Agg renderer on ``Figure`` objects (no pyplot state), encoded
as base64 PNG and embedded in the HTML, so the report is one self-contained file.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from rich.table import Table

from ai_engine.backtest.runner import ACTIONS, BacktestResult
from ai_engine.backtest.simulation import drawdown_curve
from ai_engine.backtest.verdict import SHORT_MARK, annual_mark, verdict_lines

STRATEGY_ORDER = ("ensemble", "buy_and_hold", "momentum")


def write_report(result: BacktestResult, out_dir: str | Path) -> dict[str, Path]:
    """Write report.json, report.html and bars.csv into ``out_dir`` (created if missing)."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": folder / "report.json",
        "html": folder / "report.html",
        "csv": folder / "bars.csv",
    }
    paths["json"].write_text(json.dumps(result.report, indent=2, allow_nan=False) + "\n")
    paths["html"].write_text(render_html(result))
    bars_frame(result).to_csv(paths["csv"], float_format="%.8g")
    return paths


def bars_frame(result: BacktestResult) -> pd.DataFrame:
    """One row per test bar: fold, action, actual and forecasts at the decision horizon,
    positions and net returns of the ensemble strategy and buy-and-hold."""
    walk = result.walk
    step = result.report["forecast"]["decision_horizon"] - 1
    data: dict[str, Any] = {
        "fold": walk.fold_of_row,
        "action": walk.actions,
        f"actual_h{step + 1}": walk.actual[:, step],
    }
    for name, values in walk.forecasts.items():
        data[f"{name}_h{step + 1}"] = values[:, step]
    for name in ("ensemble", "buy_and_hold"):
        sim = result.simulations[name]
        data[f"{name}_position"] = sim.positions
        data[f"{name}_net_return"] = sim.net
    return pd.DataFrame(data, index=walk.timestamps)


def _png(fig: Figure) -> str:
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _fold_lines(ax: Any, result: BacktestResult) -> None:
    walk = result.walk
    for fold in np.unique(walk.fold_of_row)[1:]:
        ax.axvline(
            walk.timestamps[int(np.argmax(walk.fold_of_row == fold))],
            color="grey",
            linestyle=":",
            linewidth=0.8,
        )


def charts(result: BacktestResult) -> dict[str, str]:
    """Base64 PNGs: equity, drawdown, MAE by horizon, hit rates, signal counts."""
    walk, report = result.walk, result.report
    out = {}
    fig = Figure(figsize=(10, 4.2))
    ax = fig.add_subplot()
    for name in (*STRATEGY_ORDER, *walk.members):
        sim = result.simulations[name]
        main = name in STRATEGY_ORDER
        ax.plot(
            walk.timestamps,
            sim.equity,
            label=name.replace("_", " "),
            linewidth=1.6 if main else 0.7,
            alpha=1.0 if main else 0.6,
        )
    _fold_lines(ax, result)
    ax.set_title("Equity after fees and slippage (dotted lines: fold boundaries)")
    ax.set_ylabel("equity (start = 1)")
    ax.legend(loc="best", fontsize=8, ncols=2)
    out["equity"] = _png(fig)

    fig = Figure(figsize=(10, 3))
    ax = fig.add_subplot()
    for name in ("ensemble", "buy_and_hold"):
        ax.fill_between(
            walk.timestamps,
            drawdown_curve(result.simulations[name].net),
            0,
            alpha=0.4,
            label=name.replace("_", " "),
            step="post",
        )
    _fold_lines(ax, result)
    ax.set_title("Drawdown")
    ax.legend(loc="lower left", fontsize=8)
    out["drawdown"] = _png(fig)

    models = report["forecast"]["models"]
    fig = Figure(figsize=(10, 4))
    ax = fig.add_subplot()
    horizons = np.arange(1, len(walk.actual[0]) + 1)
    for name, row in models.items():
        if name == "zero":
            continue
        values = [np.nan if v is None else v for v in row["mae_vs_zero_by_horizon"]]
        bold = name == "ensemble"
        ax.plot(
            horizons,
            values,
            marker="o",
            markersize=3,
            label=name,
            linewidth=2.2 if bold else 1.0,
            linestyle="--" if name in ("momentum", "train_mean") else "-",
        )
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xlabel("horizon (bars)")
    ax.set_ylabel("MAE / MAE of zero forecast")
    ax.set_title("Out-of-sample error by horizon (below 1 beats the random walk)")
    ax.legend(fontsize=8, ncols=2)
    out["error_by_horizon"] = _png(fig)

    fig = Figure(figsize=(10, 3.6))
    ax = fig.add_subplot()
    names = [n for n, r in models.items() if r["hit_rate"]["rate"] is not None]
    rates = np.array([models[n]["hit_rate"]["rate"] for n in names])
    low = rates - np.array([models[n]["hit_rate"]["ci_low"] for n in names])
    high = np.array([models[n]["hit_rate"]["ci_high"] for n in names]) - rates
    ax.errorbar(np.arange(len(names)), rates, yerr=[low, high], fmt="o", capsize=4)
    ax.axhline(0.5, color="black", linewidth=0.8)
    ax.set_xticks(np.arange(len(names)), names)
    ax.set_ylabel("hit rate")
    ax.set_title(
        f"Directional hit rate at h{report['forecast']['decision_horizon']} "
        "with 95% binomial interval (overlapping targets: too narrow)"
    )
    out["hit_rate"] = _png(fig)

    fig = Figure(figsize=(10, 3.4))
    ax = fig.add_subplot()
    per_fold = report["signals"]["per_fold"]
    bottom = np.zeros(len(per_fold))
    colours = {"BUY": "tab:green", "SELL": "tab:red", "HOLD": "tab:grey", "REFUSED": "black"}
    for action in ACTIONS:
        counts = np.array([f[action] for f in per_fold])
        ax.bar(
            [f"fold {f['fold']}" for f in per_fold],
            counts,
            bottom=bottom,
            label=action,
            color=colours[action],
        )
        bottom += counts
    ax.set_title("Signals per fold")
    ax.legend(fontsize=8)
    out["signals"] = _png(fig)
    return out


def _fmt(value: Any, spec: str = ".4f", mark: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return format(value, spec) + mark
    return str(value) + mark


def _ci(hit: dict[str, Any]) -> str:
    if hit["rate"] is None:
        return "-"
    return f"{hit['rate']:.3f} [{hit['ci_low']:.3f}, {hit['ci_high']:.3f}] n={hit['n']}"


def forecast_rows(report: dict[str, Any]) -> list[list[str]]:
    """model, MAE/zero, RMSE/zero, hit rate [CI], non-overlapping hit rate [CI], IC."""
    rows = []
    for name, row in report["forecast"]["models"].items():
        rows.append(
            [
                name,
                _fmt(row["mae_vs_zero"]),
                _fmt(row["rmse_vs_zero"]),
                _fmt(row["mae"], ".6f"),
                _ci(row["hit_rate"]),
                _ci(row["hit_rate_non_overlapping"]),
                _fmt(row["ic"]["rho"], "+.4f"),
            ]
        )
    return rows


FORECAST_COLUMNS = (
    "model",
    "MAE / zero",
    "RMSE / zero",
    "MAE",
    "hit rate [95% CI]",
    "hit rate, non-overlapping",
    "IC (Spearman)",
)
FOLD_COLUMNS = (
    "fold",
    "training bars",
    "rows",
    "cut-off",
    "test bars",
    "rows",
    "ensemble MAE / zero",
    "ensemble hit rate",
    "weights used",
    "fit s",
)
TRADING_COLUMNS = (
    "strategy",
    "total return",
    "annual return",
    "Sharpe",
    "Sortino",
    "max drawdown",
    "trades",
    "win rate",
    "exposure",
    "turnover",
)


def trading_rows(report: dict[str, Any]) -> list[list[str]]:
    """Total return first; annualised figures marked ``*`` when the test period is short."""
    rows = []
    mark = annual_mark(report)
    for name, row in report["trading"].items():
        rows.append(
            [
                name,
                _fmt(row["total_return"], "+.2%"),
                _fmt(row["annualised_return"], "+.2%", mark),
                _fmt(row["sharpe"], "+.2f", mark),
                _fmt(row["sortino"], "+.2f", mark),
                _fmt(row["max_drawdown"], ".2%"),
                str(row["trades"]),
                _fmt(row["win_rate"], ".1%"),
                _fmt(row["exposure"], ".1%"),
                _fmt(row["turnover"], ".0f"),
            ]
        )
    return rows


def summary_tables(report: dict[str, Any]) -> list[Table]:
    """Rich tables for the terminal: forecast quality and trading after costs."""
    data, forecast = report["data"], report["forecast"]
    quality = Table(
        title=f"{data['symbol']} {data['timeframe']}: out-of-sample forecasts, "
        f"{forecast['rows_scored']} test bars, h{forecast['decision_horizon']}",
        caption=f"MAE / zero < 1 beats the random walk; an always-up forecast would hit "
        f"{_fmt(forecast['actual_up_share'], '.3f')} "
        f"({_fmt(forecast['actual_up_share_non_overlapping'], '.3f')} non-overlapping)",
    )
    for i, column in enumerate(FORECAST_COLUMNS):
        quality.add_column(column, justify="left" if i == 0 else "right")
    for row in forecast_rows(report):
        quality.add_row(*row)
    backtest = report["settings"]["backtest"]
    trading = Table(
        title=f"trading after fee {backtest['fee']} + slippage {backtest['slippage']} "
        f"per unit traded ({'long/short' if backtest['short'] else 'long/flat'},"
        f" hold={backtest['hold']})",
        caption=" ".join(x for x in verdict_lines(report) if x.startswith(SHORT_MARK)) or None,
    )
    for i, column in enumerate(TRADING_COLUMNS):
        trading.add_column(column, justify="left" if i == 0 else "right", no_wrap=i == 0)
    for row in trading_rows(report):
        trading.add_row(*row)
    return [quality, trading]


def _table_html(columns: tuple[str, ...] | list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(result: BacktestResult) -> str:
    """A self-contained HTML page: settings, tables, folds and embedded charts."""
    report = result.report
    data, settings, signals = report["data"], report["settings"], report["signals"]
    period = report["test_period"]
    images = charts(result)
    fold_rows = []
    for fold in report["folds"]:
        ensemble = fold["test_metrics"]["ensemble"]
        used = fold["combination"]  # the weights the fold's ensemble used, labelled
        weights = ", ".join(f"{k} {v:.2f}" for k, v in used["weights"].items())
        weights = f"{weights} ({used['label']})"
        fold_rows.append(
            [
                str(fold["index"]),
                f"{fold['train']['start']} .. {fold['train']['end']}",
                str(fold["train"]["rows"]),
                fold["cutoff"]["time"],
                f"{fold['test']['start']} .. {fold['test']['end']}",
                str(fold["test"]["rows"]),
                _fmt(ensemble["mae_vs_zero"]),
                _fmt(ensemble["hit_rate"], ".3f"),
                weights,
                f"{fold['fit_seconds']:.1f}",
            ]
        )
    counts = ", ".join(f"{k} {v}" for k, v in signals["counts"].items())
    settings_json = html.escape(json.dumps(settings, indent=2))
    figures = "".join(
        f"<h3>{html.escape(name.replace('_', ' '))}</h3>"
        f'<img alt="{html.escape(name)}" src="data:image/png;base64,{png}">'
        for name, png in images.items()
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Backtest {html.escape(data["symbol"])} {html.escape(data["timeframe"])}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; font-size: 0.85em; }}
th, td {{ border: 1px solid #ccc; padding: 4px 8px; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
img {{ max-width: 100%; }}
pre {{ background: #f6f6f6; padding: 1em; font-size: 0.8em; overflow-x: auto; }}
</style></head><body>
<h1>Walk-forward backtest: {html.escape(data["symbol"])} {html.escape(data["timeframe"])}</h1>
{"".join(f"<p><strong>{html.escape(line)}</strong></p>" for line in verdict_lines(report))}
<p>{data["bars"]} candles, {html.escape(data["start"])} .. {html.escape(data["end"])};
test period {html.escape(period["start"])} .. {html.escape(period["end"])}
({period["rows"]} bars in {len(report["folds"])} folds).
Every fold trains only on bars up to its cut-off; test inputs start
{settings["layout"]["gap"]} bars after it. Wall time {report["wall_seconds"]:.0f} s.</p>
<h2>Forecast quality (out of sample, same bars for every model)</h2>
{_table_html(FORECAST_COLUMNS, forecast_rows(report))}
<p>MAE / zero below 1 beats the random walk. Hit rates exclude bars where forecast or actual is
exactly 0. Consecutive targets overlap, so the first interval is too narrow; the
non-overlapping one uses every {report["forecast"]["decision_horizon"]}-th bar. An "always up"
forecast would hit {_fmt(report["forecast"]["actual_up_share"], ".1%")}
({_fmt(report["forecast"]["actual_up_share_non_overlapping"], ".1%")} non-overlapping).</p>
<p>Signals: {html.escape(counts)}; healthy quorum on {_fmt(signals["healthy_quorum_rate"], ".1%")}
of bars, consensus of {report["settings"]["plan"]["ensemble"]["min_consensus"]} members reached on
{_fmt(signals["consensus_reached_rate"], ".1%")}.</p>
<h2>Trading after costs</h2>
{_table_html(TRADING_COLUMNS, trading_rows(report))}
<p>Annualised with {settings["bars_per_year"]:.6g} bars per year
({html.escape(settings["bars_per_year_basis"])}).</p>
<h2>Folds</h2>
{_table_html(FOLD_COLUMNS, fold_rows)}
<h2>Charts</h2>
{figures}
<h2>Exact settings</h2>
<pre>{settings_json}</pre>
</body></html>
"""

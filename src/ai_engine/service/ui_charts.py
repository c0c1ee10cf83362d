"""The operator page's charts, read from what the service already holds: the candle windows and
signals it served (``remember``), the state store (account curve, fills, positions, ESS,
reservations) and the served release. Nothing is recomputed here; ``charts`` only draws.

``chart_panels`` returns the HTML of three sections: per symbol (candles, signal markers, the
forecast fan, the edge verdict line), account (equity, high-water mark, drawdown against
``ess.max_drawdown``, realised P&L per owner, fills on a timeline), and exposure (bars against
the limits with reservations, the ESS transitions on a timeline).
"""

from __future__ import annotations

from html import escape
from typing import Any

import sqlalchemy as sa

from ai_engine.safety import ledger
from ai_engine.safety import tables as t
from ai_engine.safety.inputs import epoch
from ai_engine.service import charts
from ai_engine.service.safety import SafetyService

STATE_COLOURS = {"ACTIVE": "#1a7f37", "REDUCING": "#9a6700", "HALTED": "#c62828"}


def _symbol_panel(
    symbol: str, window: dict[str, Any], signals: list[dict[str, Any]], edge: dict[str, Any]
) -> str:
    index = {round(at): i for i, at in enumerate(window["times"])}
    mine = [s for s in signals if s.get("symbol") == symbol]
    markers = []
    for s in reversed(mine):  # oldest first, so the newest marker is drawn on top
        at = epoch(s.get("as_of"))
        if at is not None and round(at) in index:
            markers.append(charts.Marker(index[round(at)], str(s.get("action")), s.get("reason")))
    latest = mine[0] if mine else None
    fan = None
    if latest and latest.get("forecast_lower") and latest.get("forecast_upper"):
        fan = (latest["forecast_lower"], latest["forecast"], latest["forecast_upper"])
    verdict = _verdict_line(edge)
    label = f"{symbol} {window['timeframe']}: last {len(window['ohlc'])} candles"
    return (
        f'<div class="symbol" data-symbol="{escape(symbol)}"><h3>{escape(symbol)} '
        f"{escape(window['timeframe'])}</h3>"
        f'<p class="verdict" data-testid="verdict">{escape(verdict)}</p>'
        + charts.candles(window["ohlc"], markers, fan, label)
        + "</div>"
    )


def _verdict_line(edge: dict[str, Any]) -> str:
    if not edge:
        return "no edge verdict (release made before the edge test)"
    head = "EDGE" if edge.get("enabled") else "NO EDGE: every signal HOLDs"
    parts = [head, f"decision horizon {edge.get('horizon') or '—'}"]
    if edge.get("p_value") is not None:
        parts.append(f"p {charts.fmt(edge['p_value'], 2)}")
    for key, name in (("oos_r2", "out-of-fold R²"), ("net_per_1000", "out-of-fold net/1000 bars")):
        if edge.get(key) is not None:
            parts.append(f"{name} {charts.fmt(edge[key], 3)}")
    if edge.get("break_even_cost") is not None:
        parts.append(f"break-even cost {charts.pct(edge['break_even_cost'], 3)}")
    return " · ".join(parts)


def _symbols(
    request_windows: dict[str, dict[str, Any]], signals: list[dict[str, Any]], edge: dict[str, Any]
) -> str:
    if not request_windows:
        return (
            '<section id="charts-symbols"><h2>Symbols</h2><p class="empty">no candles served '
            "since start: charts appear with the first signal</p></section>"
        )
    names = sorted(request_windows)
    picker = "".join(f'<a class="pick" href="#sym-{escape(n)}">{escape(n)}</a> ' for n in names)
    body = "".join(
        f'<div id="sym-{escape(n)}">{_symbol_panel(n, request_windows[n], signals, edge)}</div>'
        for n in names
    )
    return f'<section id="charts-symbols"><h2>Symbols</h2><nav>{picker}</nav>{body}</section>'


def _account(safety: SafetyService) -> str:
    with safety.desk.store.read() as conn:
        curve = list(reversed(ledger.equity_curve(conn, 200)))
        fills = ledger.recent_fills(conn, 100)
        pnl = conn.execute(
            sa.select(t.positions.c.owner, sa.func.sum(t.positions.c.realized_pnl)).group_by(
                t.positions.c.owner
            )
        ).all()
    limit = safety.desk.config.ess.max_drawdown
    equity = charts.lines(
        [
            ("equity", [s.equity for s in curve], "#1f6feb"),
            ("high-water mark", [s.hwm for s in curve], "#8a8a8a"),
        ],
        "Equity and high-water mark",
    )
    drawdown = charts.lines(
        [("drawdown", [s.drawdown for s in curve], "#c62828")],
        "Drawdown from the high-water mark",
        level=("ESS max_drawdown", limit) if limit > 0 else None,
        as_pct=True,
    )
    owners = [(str(row[0]), float(row[1] or 0.0)) for row in pnl]
    rows = "".join(
        f'<tr data-testid="pnl-row"><td>{escape(o)}</td><td>{charts.fmt(v, 4)}</td></tr>'
        for o, v in owners
    )
    events = [
        (
            epoch(f["at"]) or 0.0,
            f["side"],
            "#1a7f37" if f["side"] == "BUY" else "#c62828",
            f"{f['side']} {charts.fmt(f['quantity'])} {f['symbol']} @ {charts.fmt(f['price'], 6)}",
        )
        for f in fills
    ]
    return (
        '<section id="charts-account"><h2>Account</h2>'
        + equity
        + drawdown
        + '<h3>Realised P&amp;L per owner</h3><table data-testid="pnl"><tr><th>owner</th>'
        + f"<th>realised P&amp;L</th></tr>{rows}</table><h3>Fills</h3>"
        + charts.timeline(events, "Fills, oldest left", "chart-fills")
        + "</section>"
    )


def _exposure(safety: SafetyService, account: dict[str, Any], transitions: list[Any]) -> str:
    limits = safety.desk.config.limits
    snapshot = account["snapshot"]
    equity = snapshot["equity"] if snapshot else None
    fractions = [p["fraction"] for p in account["positions"] if p["fraction"] is not None]
    reserved = safety.desk.reservations()
    held = [r["notional"] / equity for r in reserved] if equity else []
    items = [
        ("gross", sum(abs(f) for f in fractions), sum(abs(r) for r in held), limits.max_gross),
        ("|net|", abs(sum(fractions)), abs(sum(held)), limits.max_net),
        (
            "largest position",
            max((abs(f) for f in fractions), default=0.0),
            0.0,
            limits.max_position,
        ),
        (
            "open positions",
            float(len(account["positions"])),
            float(len({r["symbol"] for r in reserved})),
            float(limits.max_open_positions),
        ),
    ]
    events = [
        (
            epoch(tr.to_json()["at"]) or 0.0,
            tr.to_state,
            STATE_COLOURS.get(tr.to_state, "#555"),
            f"{tr.from_state or '—'} → {tr.to_state} ({tr.trigger}, {tr.actor}): {tr.reason}",
        )
        for tr in reversed(transitions)
    ]
    note = "" if equity else '<p class="empty">no account reported: fractions need an equity</p>'
    return (
        '<section id="charts-exposure"><h2>Exposure against limits (booked + reserved)</h2>'
        + note
        + charts.bars(items, "Exposure against limits")
        + f'<p data-testid="reservations">{len(reserved)} live reservation(s)</p>'
        + "<h3>Emergency stop history</h3>"
        + charts.timeline(events, "ESS transitions, oldest left", "chart-ess")
        + "</section>"
    )


def _weights(safety: SafetyService) -> str:
    """The combination weight each member carries at every horizon (what signals use)."""
    engine = safety.holder.engine
    if engine is None:
        return ""
    combination = engine.combination()
    per_horizon = combination["per_horizon"]
    if per_horizon is None:
        return ""
    steps = len(next(iter(per_horizon.values()), []))
    head = "".join(f"<th>h{h}</th>" for h in range(1, steps + 1))
    rows = "".join(
        f'<tr data-testid="weights-row"><td>{escape(family)}</td>'
        + "".join(f"<td>{charts.fmt(w, 2)}</td>" for w in weights)
        + "</tr>"
        for family, weights in per_horizon.items()
    )
    return (
        '<section id="weights"><h2>Combination weights per horizon</h2>'
        f"<p>{escape(combination['label'])}</p>"
        f'<table data-testid="weights"><tr><th>member</th>{head}</tr>{rows}</table></section>'
    )


def _realised(rows: list[dict[str, Any]] | None) -> str:
    """Production's and the shadow candidate's realised error beside the zero forecast's."""
    if rows is None:
        return ""
    body = "".join(
        f'<tr data-testid="realised-row"><td>{escape(r["role"])}</td>'
        f"<td>{escape(r['release'])}</td><td>{r['scored']}</td>"
        f"<td>{charts.fmt(r['mae'])}</td><td>{charts.fmt(r['zero_mae'])}</td></tr>"
        for r in rows
    )
    empty = "" if rows else '<p class="empty">no outcome known yet</p>'
    return (
        '<section id="realised"><h2>Realised error: production and shadow</h2>'
        '<table data-testid="realised"><tr><th>role</th><th>release</th><th>scored</th>'
        f"<th>mean |error|</th><th>zero forecast's</th></tr>{body}</table>{empty}</section>"
    )


def chart_panels(
    safety: SafetyService,
    signals: list[dict[str, Any]],
    windows: dict[str, dict[str, Any]],
    realised: list[dict[str, Any]] | None = None,
    account: dict[str, Any] | None = None,
) -> str:
    """The charts' sections, read now (blocking: call off the event loop)."""
    engine = safety.holder.engine
    edge = (engine.release.evaluation.get("edge") or {}) if engine is not None else {}
    account = account if account is not None else safety.desk.account()
    transitions = safety.desk.ess_history(50)
    return (
        _weights(safety)
        + _realised(realised)
        + _symbols(windows, signals, edge)
        + _account(safety)
        + _exposure(safety, account, transitions)
    )

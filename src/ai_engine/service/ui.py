"""The operator page (/ui): server-rendered HTML, a little JavaScript, no build step.

One page: the production release and each member's health, the edge verdict, the emergency
stop with trip/reset (asks for the admin token; disabled when none is configured), exposure
against the limits, positions by owner (EXTERNAL apart), recent signals, and proposals with
their denials and reasons. The panels refresh themselves from ``/ui/panels``.

No inline script or style: the page loads ``/ui/app.js`` and ``/ui/app.css`` (``ASSETS``), so
its Content-Security-Policy (``CSP``) allows scripts and styles from the service itself only.
"""

from __future__ import annotations

from html import escape
from typing import Any

from ai_engine.safety import ledger
from ai_engine.service.charts import ago, fmt
from ai_engine.service.safety import SafetyService

RECENT = 20


def _e(value: Any) -> str:
    return escape("—" if value is None else str(value))


def _human(value: Any) -> str:
    """Floats with 3 significant digits, anything else as text (escaped)."""
    return escape(fmt(value)) if isinstance(value, float) else _e(value)


def _num(value: Any, digits: int = 4) -> str:
    return "—" if value is None else f"{float(value):.{digits}f}"


def _table(headers: list[str], rows: list[list[str]], empty: str, test_id: str) -> str:
    if not rows:
        return f'<p class="empty" data-testid="{test_id}">{escape(empty)}</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return (
        f'<table data-testid="{test_id}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


def _release(safety: SafetyService) -> str:
    engine = safety.holder.engine
    ready, reason = safety.holder.readiness()
    if engine is None:
        return (
            '<section id="release"><h2>Release</h2>'
            f'<p class="bad">none loaded: {_e(reason)}</p></section>'
        )
    release = engine.release
    weights = engine.combination()["weights"]  # the weights signals use (all 0 without an edge)
    members = [
        [
            _e(m.family),
            _e(m.version),
            '<span class="ok">healthy</span>'
            if m.healthy
            else '<span class="bad">unhealthy</span>',
            escape(fmt(weights.get(m.family, 0.0), 3)),
            _e(m.reason or ""),
        ]
        for m in engine.members
    ]
    edge = release.evaluation.get("edge") or {}
    verdict = (
        "no verdict (release made before the edge test)"
        if not edge
        else ("EDGE" if edge.get("enabled") else "NO EDGE: signals HOLD")
    )
    edge_rows = [[_e(k), _human(edge.get(k))] for k in ("horizon", "method", "p_value", "oos_r2")]
    state = '<span class="ok">ready</span>' if ready else '<span class="bad">not ready</span>'
    return (
        '<section id="release"><h2>Production release</h2>'
        f'<p><b data-testid="release-id">{_e(release.id)}</b> · {_e(release.symbol)} '
        f"{_e(release.timeframe)} · {state} · {_e(reason)}</p>"
        + _table(["family", "version", "health", "weight", "reason"], members, "", "members")
        + f'<h3>Edge verdict: <span data-testid="edge">{escape(verdict)}</span></h3>'
        + (_table(["", "value"], edge_rows, "", "edge-table") if edge else "")
        + "</section>"
    )


def _ess(status: dict[str, Any]) -> str:
    rows = [
        [ago(t["at"]), _e(t["from_state"]), _e(t["to_state"]), _e(t["trigger"]), _e(t["reason"])]
        for t in status["transitions"]
    ]
    return (
        '<section id="ess"><h2>Emergency stop</h2>'
        f'<p class="ess-{_e(status["state"]).lower()}">state <b data-testid="ess-state">'
        f"{_e(status['state'])}</b> since {ago(status['since'])} ({_e(status['trigger'])}, "
        f"{_e(status['actor'])}): {_e(status['reason'])}</p>"
        + _table(["at", "from", "to", "trigger", "reason"], rows, "no transitions", "ess-log")
        + "</section>"
    )


def _exposure(account: dict[str, Any], limits: Any) -> str:
    positions = [p for p in account["positions"] if p["fraction"] is not None]
    gross = sum(abs(p["fraction"]) for p in positions)
    net = sum(p["fraction"] for p in positions)
    largest = max((abs(p["fraction"]) for p in positions), default=0.0)

    priced = account["snapshot"] is not None

    def row(name: str, value: float, limit: float) -> list[str]:
        if not priced:  # fractions of equity need an equity
            return [escape(name), "— (no equity)", f"{limit:.4f}"]
        cls = "bad" if value > limit + 1e-12 else "ok"
        return [escape(name), f'<span class="{cls}">{value:.4f}</span>', f"{limit:.4f}"]

    rows = [
        row("gross", gross, limits.max_gross),
        row("|net|", abs(net), limits.max_net),
        row("largest position", largest, limits.max_position),
        [
            "open positions",
            _e(len(account["positions"])),
            _e(limits.max_open_positions),
        ],
    ]
    snapshot = account["snapshot"]
    equity = (
        "no account reported"
        if snapshot is None
        else f"equity {snapshot['equity']:.2f} · drawdown {snapshot['drawdown']:.2%}"
    )
    return (
        f'<section id="exposure"><h2>Exposure against limits</h2><p>{escape(equity)}</p>'
        + _table(["", "now (fraction of equity)", "limit"], rows, "", "exposure")
        + "</section>"
    )


def _positions(book: dict[str, Any]) -> str:
    def rows(items: list[dict[str, Any]]) -> list[list[str]]:
        return [
            [
                f'<span data-testid="owner">{_e(p["owner"])}</span>',
                _e(p["symbol"]),
                _num(p["quantity"]),
                _num(p["avg_price"]),
                _num(p["last_price"]),
                _num(p["stop_loss"]),
                _e(p["max_holding_until"]),
                _e(p["id"]),
            ]
            for p in items
        ]

    headers = ["owner", "symbol", "qty", "entry", "last", "stop", "hold until", "id"]
    report = book["last_report"]
    return (
        '<section id="positions"><h2>Positions by owner</h2>'
        + _table(headers, rows(book["positions"]), "no owned positions", "owned")
        + "<h3>EXTERNAL (no proposal opened them; never exited automatically)</h3>"
        + _table(headers, rows(book["external"]), "no external positions", "external")
        + f"<p>last report: {_e(report and report['at'])} · differences at start: "
        f"{len(book['at_start'])}</p></section>"
    )


def _signals(signals: list[dict[str, Any]]) -> str:
    rows = [
        [
            _e(s.get("generated_at") or s.get("as_of")),
            _e(s.get("symbol")),
            f"<b>{_e(s.get('action'))}</b>",
            _e(s.get("reason") or ""),
            _num(s.get("confidence"), 3),
            _num(s.get("expected_return"), 5),
            _e(s.get("valid_until")),
        ]
        for s in signals
    ]
    headers = ["made", "symbol", "action", "reason", "confidence", "exp. return", "valid until"]
    return (
        '<section id="signals"><h2>Recent signals</h2>'
        + _table(headers, rows, "no signals served since start", "signals")
        + "</section>"
    )


def _proposals(proposals: list[dict[str, Any]]) -> str:
    rows = []
    for p in proposals:
        status = _e(p["status"])
        cls = {"denied": "bad", "clipped": "warn"}.get(p["status"], "ok")
        reasons = "<br>".join(
            f"<code>{_e(a.get('code'))}</code> {_e(a.get('message'))}" for a in p["adjustments"]
        )
        rows.append(
            [
                _e(p["id"]),
                _e(p["at"]),
                _e(p["owner"]),
                _e(p["symbol"]),
                _e(p["action"]),
                f'<span class="{cls}">{status}</span>',
                _num(p["target"]),
                reasons or "—",
            ]
        )
    headers = ["id", "at", "owner", "symbol", "action", "status", "target", "reasons"]
    return (
        '<section id="proposals"><h2>Proposals and denials</h2>'
        + _table(headers, rows, "no proposals yet", "proposals")
        + "</section>"
    )


def panels(
    safety: SafetyService,
    signals: list[dict[str, Any]],
    windows: dict[str, dict[str, Any]] | None = None,
    realised: list[dict[str, Any]] | None = None,
) -> str:
    """Every panel, read from the holder and the state store now (blocking: off the loop);
    ``windows``: the candle windows served per symbol (serving.recent.RecentSignals);
    ``realised``: production's and the shadow's realised errors (None: no shadow runs)."""
    from ai_engine.service.routes.ess import ess_json
    from ai_engine.service.ui_charts import chart_panels

    status = ess_json(safety, 5)
    account = safety.desk.account()
    with safety.desk.store.read() as conn:
        proposals = ledger.recent_proposals(conn, RECENT)
    return "".join(
        [
            _release(safety),
            _ess(status),
            chart_panels(safety, signals, windows or {}, realised, account),
            _exposure(account, safety.desk.config.limits),
            _positions(safety.book.positions()),
            _signals(signals),
            _proposals(proposals),
        ]
    )


STYLE = """
body{font:14px system-ui,sans-serif;margin:1rem 2rem;color:#222}
table{border-collapse:collapse;margin:.4rem 0}td,th{border:1px solid #ccc;padding:2px 6px}
th{background:#f3f3f3;text-align:left}.ok{color:#176317}.bad{color:#b00020;font-weight:bold}
.warn{color:#9a6700}.empty{color:#777}section{margin-bottom:1.2rem}
.ess-halted,.ess-reducing{background:#fde7e9;padding:4px}
.ess-active{background:#e6f4ea;padding:4px}.ess-reducing{background:#fff4d6}
.chart{width:100%;max-width:760px;height:auto;display:block;margin:.3rem 0}
.chart text{font-size:11px;fill:#444}.verdict{font-weight:600}.pick{margin-right:.6rem}
@media (max-width:600px){body{margin:.5rem}table{font-size:12px;display:block;overflow-x:auto}}
#controls{border:1px solid #ccc;
padding:.5rem;margin:.5rem 0}
"""

SCRIPT = """
const REFRESH_MS = Number(document.currentScript.dataset.refreshMs) || 5000;
async function refreshPanels() {
  const stamp = document.getElementById('updated');
  try {
    const r = await fetch('/ui/panels', {cache: 'no-store'});
    if (!r.ok) { stamp.textContent = 'refresh answered ' + r.status; return; }
    document.getElementById('panels').innerHTML = await r.text();
    stamp.textContent = new Date().toISOString();
  } catch (e) { stamp.textContent = 'refresh failed: ' + e; }
}
async function ess(action) {
  const token = document.getElementById('admin-token').value;
  const out = document.getElementById('ess-result');
  if (!token) { out.textContent = 'enter the admin token first'; return; }
  const body = {reason: document.getElementById('ess-reason').value || ('operator ' + action
    + ' from /ui')};
  if (action === 'trip') body.state = document.getElementById('ess-target').value;
  const r = await fetch('/v1/ess/' + action, {method: 'POST', body: JSON.stringify(body),
    headers: {'content-type': 'application/json', 'authorization': 'Bearer ' + token}});
  const data = await r.json();
  out.textContent = r.ok ? action + ': ESS ' + data.state
    : 'refused (' + r.status + '): ' + data.error;
  await refreshPanels();
}
for (const action of ['trip', 'reset']) {
  document.getElementById(action).addEventListener('click', () => ess(action));
}
setInterval(refreshPanels, REFRESH_MS);
"""
ASSETS = {
    "app.js": (SCRIPT, "text/javascript; charset=utf-8"),
    "app.css": (STYLE, "text/css; charset=utf-8"),
}
"""/ui/<name>: the page's script and style (the CSP refuses inline ones)."""
CSP = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
"""Headers of every /ui answer: no framing, no inline or foreign script."""


def page(
    safety: SafetyService,
    signals: list[dict[str, Any]],
    admin: bool,
    refresh_s: float,
    windows: dict[str, dict[str, Any]] | None = None,
    realised: list[dict[str, Any]] | None = None,
) -> str:
    """The whole page; ``admin``: an admin token is configured (else trip/reset are disabled)."""
    disabled = "" if admin else " disabled"
    note = (
        "Trip and reset need the admin token."
        if admin
        else "Trip and reset are disabled: set AI_ENGINE_ADMIN_TOKEN to enable them."
    )
    controls = (
        '<section id="controls"><b>Emergency stop controls</b> '
        f'<span data-testid="admin-note">{escape(note)}</span><br>'
        f'<input id="admin-token" type="password" placeholder="admin token"{disabled}> '
        f'<input id="ess-reason" placeholder="reason" size="40"{disabled}> '
        f'<select id="ess-target"{disabled}><option>HALTED</option><option>REDUCING</option>'
        "</select> "
        f'<button id="trip"{disabled}>Trip</button> '
        f'<button id="reset"{disabled}>Reset</button> '
        '<span id="ess-result" data-testid="ess-result"></span></section>'
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<link rel="icon" href="data:,"><title>quantum-ai-engine · operator</title>'
        '<link rel="stylesheet" href="/ui/app.css"></head><body>'
        '<h1>quantum-ai-engine · operator</h1><p>updated <span id="updated">'
        f"at render</span> · refreshes every {refresh_s:g} s</p>"
        + controls
        + f'<main id="panels">{panels(safety, signals, windows, realised)}</main>'
        + f'<script src="/ui/app.js" data-refresh-ms="{int(refresh_s * 1000)}"></script>'
        + "</body></html>"
    )

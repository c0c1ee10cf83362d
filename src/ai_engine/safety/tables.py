"""The state store's tables (SQLAlchemy Core). Times are epoch seconds (float), UTC.

The schema is created and changed only by the Alembic migrations in ``migrations/versions``;
these definitions are what the code reads and writes, and must match the newest migration.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

ESS_ROW_ID = 1
"""The ESS state is one row (id 1), locked by every write transaction."""

account = sa.Table(
    "account_snapshots",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("equity", sa.Float, nullable=False),
    sa.Column("hwm", sa.Float, nullable=False),
    sa.Column("drawdown", sa.Float, nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
)

positions = sa.Table(
    "positions",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("owner", sa.String(64), nullable=False),
    sa.Column("symbol", sa.String(64), nullable=False),
    sa.Column("quantity", sa.Float, nullable=False),
    sa.Column("avg_price", sa.Float, nullable=False),
    sa.Column("last_price", sa.Float, nullable=False),
    sa.Column("realized_pnl", sa.Float, nullable=False),
    sa.Column("opened_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("closed_at", sa.Float, nullable=True),
    sa.Column("proposal_id", sa.Integer, nullable=True),
    sa.Column("stop_loss", sa.Float, nullable=True),
    sa.Column("max_holding_until", sa.Float, nullable=True),
)

fills = sa.Table(
    "fills",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("position_id", sa.String(32), sa.ForeignKey("positions.id"), nullable=False),
    sa.Column("symbol", sa.String(64), nullable=False),
    sa.Column("side", sa.String(4), nullable=False),
    sa.Column("quantity", sa.Float, nullable=False),
    sa.Column("price", sa.Float, nullable=False),
    sa.Column("fee", sa.Float, nullable=False),
    sa.Column("realized_pnl", sa.Float, nullable=False),
    sa.Column("owner", sa.String(64), nullable=True),
    sa.Column("fill_id", sa.String(64), nullable=True),
    sa.Column("response", sa.JSON, nullable=True),
    sa.Index("ux_fills_owner_fill_id", "owner", "fill_id", unique=True),
)

ess_state = sa.Table(
    "ess_state",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("since", sa.Float, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("trigger", sa.String(32), nullable=False),
    sa.Column("reset_at", sa.Float, nullable=False),
)

ess_transitions = sa.Table(
    "ess_transitions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("from_state", sa.String(16), nullable=True),
    sa.Column("to_state", sa.String(16), nullable=False),
    sa.Column("trigger", sa.String(32), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
)

proposals = sa.Table(
    "proposals",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("symbol", sa.String(64), nullable=False),
    sa.Column("timeframe", sa.String(8), nullable=False),
    sa.Column("release", sa.String(128), nullable=False),
    sa.Column("equity", sa.Float, nullable=False),
    sa.Column("current", sa.Float, nullable=False),
    sa.Column("raw_target", sa.Float, nullable=False),
    sa.Column("target", sa.Float, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("adding", sa.Boolean, nullable=False),
    sa.Column("ess_state", sa.String(16), nullable=False),
    sa.Column("inputs", sa.JSON, nullable=False),
    sa.Column("signal", sa.JSON, nullable=False),
    sa.Column("adjustments", sa.JSON, nullable=False),
    sa.Column("owner", sa.String(64), nullable=False, server_default="engine"),
    sa.Column("exits", sa.JSON, nullable=True),
    sa.Column("reserved_notional", sa.Float, nullable=True),
    sa.Column("valid_until", sa.Float, nullable=True),
    sa.Column("released_at", sa.Float, nullable=True),
    sa.Column("released_by", sa.String(16), nullable=True),
)

position_reports = sa.Table(
    "position_reports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("positions", sa.JSON, nullable=False),
    sa.Column("differences", sa.JSON, nullable=False),
)

freshness = sa.Table(
    "freshness",
    metadata,
    sa.Column("symbol", sa.String(64), primary_key=True),
    sa.Column("timeframe", sa.String(8), nullable=False),
    sa.Column("last_candle_at", sa.Float, nullable=False),
    sa.Column("received_at", sa.Float, nullable=False),
)
